"""Evaluation stage: metrics that score a soundtrack, streamed from files.

The weight-free long-video metrics (sync, seams, dropouts, a log-mel Fréchet distance,
loudness) read audio block by block, so their memory does not grow with the video's length;
``registry`` names them for ``lvas eval`` and ablation plans.
"""
