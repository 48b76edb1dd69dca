"""Audio stage.

Clip sources, the streaming multi-layer mix, ducking, the true-peak limiter, loudness and WAV
I/O.
"""
