"""LVAS package."""
