"""Catalogues on Ray (``lvas batch``): which videos to dub, what each one came to, and how the
whole batch is going. Ray itself is imported only by the runner and the generator pool."""
