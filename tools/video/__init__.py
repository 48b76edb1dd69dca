"""Video stage (the Storyboarder's tools).

Probing, one decode pass for cuts, transitions, keyframes and motion, scenes from shots, the
storyboard.
"""
