"""Chat and vision models.

The model factory, structured output with repair and fallback, usage accounting.
"""
