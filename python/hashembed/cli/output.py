"""Writing `embed`'s output: a .npy filled a window of rows at a time, under a temporary name
until the command succeeds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .._files import preallocate, temporary_beside


class NpyWriter:
    """A .npy file of a fixed shape, filled a window of rows at a time.

    `np.lib.format.open_memmap` creates the file (header plus the full, sparse, data size),
    whose disk space is then reserved (`name`, the final path, is what errors show); each
    `window(a, b)` then maps only rows [a, b), and unmapping it when the caller is done drops
    those pages from this process, so resident memory stays at about one window however large
    the file.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, name: Path) -> None:
        self.path = path
        self.shape = shape
        self.dtype = np.dtype(dtype)
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=shape)
        self.offset = int(mm.offset)
        del mm
        self.row_shape = shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        preallocate(path, self.offset + shape[0] * self.row_bytes, name)

    @contextlib.contextmanager
    def window(self, start: int, stop: int) -> Iterator[np.ndarray]:
        shape = (stop - start, *self.row_shape)
        if stop <= start or self.row_bytes == 0:
            yield np.empty(shape, dtype=self.dtype)
            return
        mm = np.memmap(
            self.path, dtype=self.dtype, mode="r+", offset=self.offset + start * self.row_bytes, shape=shape
        )
        try:
            yield mm.view(np.ndarray)
        finally:
            # Unmapping (not msync) is what bounds memory: the dirty pages stay in the page
            # cache, which writes them back on its own schedule.
            del mm


class Outputs:
    """Output files written under temporary names and moved into place only on success."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []

    def temp_for(self, final: Path) -> Path:
        temp = temporary_beside(final)
        self.pending.append((temp, final))
        return temp

    def commit(self) -> None:
        for temp, final in self.pending:
            os.replace(temp, final)
        self.pending = []

    def discard(self) -> None:
        for temp, _ in self.pending:
            with contextlib.suppress(OSError):
                temp.unlink()
        self.pending = []
