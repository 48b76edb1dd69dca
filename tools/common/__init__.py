"""Basics every stage shares: user-facing errors, run paths and atomic files, the ffmpeg tool."""
