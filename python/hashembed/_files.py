"""Writing files so that a failure (a full disk, an exception, a signal) leaves no partial
file and the previous file, if any, intact: write a temporary file beside the target, then
rename it over the target, which is atomic within one file system."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def temporary_beside(final: Path) -> Path:
    """A new, empty, hidden file in `final`'s directory, named after it. Made with the
    permissions of a new file (mode 0666 less the umask), which it keeps when renamed, where
    `tempfile.mkstemp` would give 0600."""
    while True:
        temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def preallocate(path: Path, size: int, name: Path) -> None:
    """Reserves `size` bytes of disk for `path`. A memory-mapped file that is only sparse
    would fail on a full disk with SIGBUS, part-way through; this fails at once with an
    OSError ("No space left on device") naming `name`, the file the user asked for."""
    fd = os.open(path, os.O_RDWR)
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, size)
        else:
            os.ftruncate(fd, size)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(name)) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(final: Path) -> Iterator[Path]:
    """A temporary path to write instead of `final`, renamed to it if the block succeeds
    and removed if it fails."""
    if final.is_dir():
        raise IsADirectoryError(f"{final}: is a directory")
    temp = temporary_beside(final)
    try:
        yield temp
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
