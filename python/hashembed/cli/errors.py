"""The program name every message starts with, and the error reported as one line."""

PROG = "hashembed"


class CLIError(Exception):
    """An error reported as one line and exit status 2."""


def os_message(e: OSError) -> str:
    """An OSError as "FILE: what went wrong" where it names a file."""
    if e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e)
