"""Delivery stage.

Muxing the soundtrack beside the copied video stream, and measuring the delivered audio.
"""
