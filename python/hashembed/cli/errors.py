"""The program name every message starts with, and the error reported as one line."""

PROG = "hashembed"


class CLIError(Exception):
    """An error reported as one line and exit status 2."""
