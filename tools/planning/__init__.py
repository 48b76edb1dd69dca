"""Planning stage.

The planner protocol and its offline and chat planners, the plan file, narration lines and bed
carry.
"""
