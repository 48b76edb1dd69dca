"""Errors the user can act on, kept apart from internal failures."""


class LVASInputError(ValueError):
    """Bad input or usage: the message says what is wrong and what to do.

    The CLI prints it without a traceback and exits with code 2.
    """
