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


def check_writable(directory: Path, target: Path) -> None:
    """A PermissionError about `target` unless `directory` can be written."""
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot save to {target}: the directory {directory} is not writable")


def nearest_existing(target: Path) -> Path:
    """The closest existing directory above `target`, where a save would make what is missing."""
    above = next(p for p in target.parents if os.path.lexists(p))  # the last is "." or the root
    if not above.exists():
        raise FileNotFoundError(f"cannot save to {target}: {above} is a symbolic link to nothing")
    if not above.is_dir():
        raise NotADirectoryError(f"cannot save to {target}: {above} is a file, not a directory")
    return above


def followed(path: str | os.PathLike[str]) -> Path:
    """`path`, or where it leads if it is a symbolic link (to nothing: a FileNotFoundError)."""
    given = Path(os.fspath(path))
    if given.is_symlink():
        if not given.exists():
            raise FileNotFoundError(
                f"{given}: is a symbolic link to {os.readlink(given)}, which does not exist"
            )
        given = Path(os.path.realpath(given))
    return given


def check_file_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to `path` replaces, checked that it can be written before any work:
    a symbolic link is followed (the link stays, the file it names is replaced); refused are
    a link to nothing, a directory, a missing parent directory, a path under a file and a
    directory that cannot be written, each naming `path`."""
    if not os.fspath(path):
        raise FileNotFoundError("the path is empty: name the file to write")
    target = followed(path)
    if target.is_dir():
        raise IsADirectoryError(f"{path}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        above = nearest_existing(target)
        if above == parent or not above.is_dir():
            raise NotADirectoryError(f"cannot save to {path}: {parent} is not a directory")
        raise FileNotFoundError(f"cannot save to {path}: the directory {parent} does not exist")
    check_writable(parent, Path(os.fspath(path)))
    return target


@contextlib.contextmanager
def replacing(final: Path, name: Path | None = None) -> Iterator[Path]:
    """A temporary path to write instead of `final`, renamed to it if the block succeeds
    and removed if it fails. An OSError of the temporary file (a full disk) is raised as one
    of `name` (default `final`), the path the user gave."""
    if final.is_dir():
        raise IsADirectoryError(f"{final}: is a directory")
    temp = temporary_beside(final)
    try:
        yield temp
        os.replace(temp, final)
    except BaseException as e:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(e, OSError) and e.errno is not None and e.filename in (None, str(temp)):
            raise OSError(e.errno, e.strerror, str(name or final)) from None
        raise
