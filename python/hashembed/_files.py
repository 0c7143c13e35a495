"""Writing files so that a failure (a full disk, an exception, a signal) leaves no partial
file and the previous file, if any, intact: write a temporary file beside the target, then
rename it over the target, which is atomic within one file system."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

_HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def _new_beside(final: Path, kind: str, make: Callable[[Path], None]) -> Path:
    while True:
        temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.{kind}")
        try:
            make(temp)
        except FileExistsError:
            continue
        return temp


def temporary_beside(final: Path) -> Path:
    """A new, empty, hidden file in `final`'s directory, named after it. Made with the
    permissions of a new file (mode 0666 less the umask), which it keeps when renamed, where
    `tempfile.mkstemp` would give 0600."""
    return _new_beside(
        final, "partial", lambda p: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    )


def directory_beside(final: Path, kind: str = "partial") -> Path:
    """A new, empty, hidden directory in `final`'s directory, named after it and `kind`. Made
    with the permissions of a new directory (0777 less the umask), where `tempfile.mkdtemp`
    would give 0700, so that renamed into place it reads like any other directory."""
    return _new_beside(final, kind, lambda p: os.mkdir(p, 0o777))


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def held_signals() -> Iterator[list[int]]:
    """Holds SIGINT and SIGTERM (where Python handles them) for the block: one that arrives is
    appended to the yielded list instead of handled, and handled when the block ends, by the
    handler it would have met. Lets a few renames finish, or be undone, as one step. Outside
    the main thread, which never handles signals, nothing is held."""
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return
    previous = {}
    for signum in _HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, lambda s, frame: arrived.append(s))
    try:
        yield arrived
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in arrived:
            previous[signum](signum, None)


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
