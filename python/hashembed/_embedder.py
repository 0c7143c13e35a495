"""`HashEmbedder`: the native embedder plus what is easier said in Python (argument
normalisation, output allocation, pickling, equality)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _core
from . import arrow as _arrow
from . import tokens as _tokens
from . import vocab as _vocab

_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64), "float16": np.dtype(np.float16)}

# Measured in docs/quality.md (typo recall@1 averaged over seven languages, against the
# default's 50.7%); the defaults stay the spec's.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "unicode": {"base": 1_114_129},
    "robust": {"base": 1_114_129, "layout": "equal", "boundary_markers": True},
    "fuzzy": {"base": 1_114_129, "max_ngram": 2, "layout": "equal", "boundary_markers": True},
    "compact": {"dim": 256, "base": 1_114_129, "max_ngram": 2, "layout": "equal", "boundary_markers": True},
}


def _dtype(dtype: Any) -> np.dtype:
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in _DTYPES:
        raise ValueError(f"dtype={dtype!r} is not supported: expected 'float32', 'float64' or 'float16'")
    return dt


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def allocate(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised output array, refused up front if it cannot fit in memory.

    NumPy reserves large arrays lazily, so an impossible request would otherwise succeed here
    and be killed by the kernel later, half written.
    """
    check_fits(shape, dtype)
    return np.empty(shape, dtype=dtype)


# Reading /proc/meminfo costs more than a small batch; smaller outputs always fit.
_CHECK_ABOVE = 1 << 28


def check_fits(shape: tuple[int, ...], dtype: np.dtype, extra: int = 0) -> None:
    """MemoryError if an array of `shape` and `dtype` (plus `extra` bytes of working memory)
    would not fit in the memory available."""
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize + extra
    if nbytes < _CHECK_ABOVE:
        return
    available = _available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"an output of shape {shape} and dtype {dtype.name} needs {nbytes / 1e9:.1f} GB, "
            f"more than the {available / 1e9:.1f} GB available: pass out= (an np.memmap works) "
            "or embed in chunks"
        )


def check_out(out: Any, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """`out` if it is a C-contiguous, writable, aligned array of exactly `shape` and `dt`."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}: expected {shape}")
    if out.dtype != dt:
        raise ValueError(f"out has dtype {out.dtype}: expected {dt.name} (the dtype argument)")
    if not out.flags.c_contiguous:
        raise ValueError("out is not C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if not out.flags.aligned:
        raise ValueError(f"out is not aligned to its {out.dtype.name} items: allocate it with numpy")
    return out


def output(out: Any, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """A new array of `shape` and `dt` (see `allocate`) if `out` is None, else the checked `out`."""
    return allocate(shape, dt) if out is None else check_out(out, shape, dt)


def as_text_list(texts: Any, name: str = "texts") -> list[str] | tuple[str, ...]:
    """A list or tuple of the items of `texts`, the form the native code reads."""
    if isinstance(texts, (list, tuple)):
        return texts
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of str, not a single {type(texts).__name__}")
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got an array of shape {texts.shape}")
        return texts.tolist()
    if isinstance(texts, (set, frozenset)):
        raise unordered(name, texts)
    if isinstance(texts, Iterable):
        return list(texts)
    raise TypeError(f"{name} must be a sequence of str, not {type(texts).__name__}")


def unordered(name: str, value: Any) -> TypeError:
    """The error for a set where an ordered sequence is needed: its iteration order changes
    from run to run, so the output rows could not be matched to its items."""
    return TypeError(
        f"{name} must be an ordered sequence, not a {type(value).__name__} (whose order is "
        "arbitrary): pass sorted(...) or a list"
    )


class HashEmbedder(_core.Embedder):
    """A dynamic hash embedding with a fixed configuration; see docs/spec.md for the function.

    Immutable and thread-safe: share one instance between threads, pickle it to send it to
    worker processes (it pickles to its small configuration).
    """

    def __new__(
        cls,
        dim: int = 768,
        *,
        max_ngram: int = 3,
        layout: str | tuple[int, ...] = "proportional",
        seed: int = 42,
        base: int = 31,
        hash_modulus: int = 1_000_000_007,
        buckets: int = 1_000_000_007,
        hash_seeds: Any = None,
        boundary_markers: bool = False,
    ) -> HashEmbedder:
        if isinstance(hash_seeds, np.ndarray):
            hash_seeds = hash_seeds.tolist()
        if not isinstance(layout, str) and isinstance(layout, Iterable):
            layout = tuple(layout)  # read a one-shot iterator once, for both uses below
        self = super().__new__(
            cls,
            dim,
            max_ngram=max_ngram,
            layout=layout,
            seed=seed,
            base=base,
            hash_modulus=hash_modulus,
            buckets=buckets,
            hash_seeds=hash_seeds,
            boundary_markers=boundary_markers,
        )
        self._layout_arg = layout if isinstance(layout, str) else tuple(int(x) for x in layout)
        return self

    def config(self) -> dict[str, Any]:
        """The constructor arguments: `HashEmbedder(**e.config()) == e`."""
        return {
            "dim": self.dim,
            "max_ngram": self.max_ngram,
            "layout": self._layout_arg,
            "seed": self.seed,
            "base": self.base,
            "hash_modulus": self.hash_modulus,
            "buckets": self.buckets,
            "hash_seeds": self.hash_seeds.tolist() if self.explicit_hash_seeds else None,
            "boundary_markers": self.boundary_markers,
        }

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> HashEmbedder:
        """A named configuration from the quality report (docs/quality.md), e.g. "robust";
        keyword arguments override its parameters."""
        if name not in PRESETS:
            raise ValueError(f"preset={name!r} is unknown: expected one of {', '.join(map(repr, PRESETS))}")
        return cls(**{**PRESETS[name], **overrides})

    def embed_batch(
        self,
        texts: Any,
        *,
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> np.ndarray:
        """Embeddings of a sequence of str, shape (len(texts), dim), computed in parallel.

        `out`, if given, is filled in place and returned: C-contiguous, writable, of exactly
        that shape and of dtype `dtype`. Equal strings are computed once.
        """
        texts = as_text_list(texts)
        dt = _dtype(dtype)
        if out is None:
            out = allocate((len(texts), self.dim), dt)
        elif isinstance(out, np.ndarray) and out.dtype != dt:
            raise ValueError(f"out has dtype {out.dtype}: expected {dt.name} (the dtype argument)")
        self.embed_batch_into(texts, out, num_threads)
        return out

    def embed_tokens(
        self,
        batch: Any,
        *,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of tokenized text, padded: `(embeddings, mask)`.

        `batch` holds B sequences of token strings (lists, tuples, arrays or iterables of
        str, e.g. `[tokenizer.tokenize(t) for t in texts]`). `embeddings` has shape
        (B, S, dim): row b, position j is the embedding of token j of sequence b, and
        positions past the end of a sequence are zeros. `mask` (B, S) is True on real tokens.

        S is the length of the longest sequence, or `max_length` if that is shorter (longer
        sequences are cut to their first `max_length` tokens), rounded up to a multiple of
        `pad_to_multiple_of`. For a fixed S, pass both: `max_length=S, pad_to_multiple_of=S`.
        `out`, if given, is filled and returned: a C-contiguous, writable array of exactly
        that shape and of dtype `dtype`. Every token is embedded in one parallel native call,
        straight into its row, and equal tokens are computed once.
        """
        return _tokens.embed_tokens(
            self,
            batch,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            out=out,
            dtype=dtype,
            num_threads=num_threads,
        )

    def embed_encodings(
        self,
        encodings: Any,
        *,
        skip_special_tokens: bool = False,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`embed_tokens` for the output of a Hugging Face tokenizer: `(embeddings, mask)`.

        `encodings` is a list of `tokenizers.Encoding` (from `Tokenizer.encode_batch`) or
        the `BatchEncoding` of a fast `transformers` tokenizer (its `.encodings` are used).
        Each encoding's `.tokens` are embedded as strings, special tokens ([CLS], [SEP], ...)
        included, unless `skip_special_tokens`, which makes their rows zeros (from
        `special_tokens_mask`). `mask` is the encodings' `attention_mask` as bools, and every
        position it masks out (the tokenizer's padding) is a zero row.

        S is the encodings' length (the longest, if they are not padded to one length), cut
        to `max_length` and rounded up to `pad_to_multiple_of`, as in `embed_tokens`; `out`,
        `dtype` and `num_threads` also work as there.
        """
        return _tokens.embed_encodings(
            self,
            encodings,
            skip_special_tokens=skip_special_tokens,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            out=out,
            dtype=dtype,
            num_threads=num_threads,
        )

    def embed_vocab(
        self, vocab: Any, *, dtype: Any = "float32", num_threads: int | None = None
    ) -> np.ndarray:
        """The embedding table of a vocabulary, shape (V, dim): row i embeds the token of id i.

        `vocab` is a list of str (token i at index i), a dict token -> id (ids exactly
        0..V-1), a path (str or os.PathLike) to a vocab.txt (line i is token i), a
        tokenizer.json or a directory holding either, or a `tokenizers.Tokenizer` (its
        vocabulary with added tokens). Write the table with `hashembed.save_table`.
        """
        return _vocab.embed_vocab(self, vocab, dtype=dtype, num_threads=num_threads)

    def embed_arrow(
        self,
        array: Any,
        *,
        nulls: str = "zero",
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> np.ndarray:
        """Embeddings of an Arrow string column, shape (N, dim), read from its buffers.

        `array` is a pyarrow StringArray, LargeStringArray, StringViewArray (cast to
        large_string first, its one copy) or a ChunkedArray of them; binary arrays are read
        as UTF-8. No Python str is made: the UTF-8 bytes go to the native code as zero-copy
        views. A null row is a zero row with `nulls="zero"`, and a ValueError with
        `nulls="error"`; a row that is not valid UTF-8 is a ValueError naming it. `out`,
        `dtype` and `num_threads` work as in `embed_batch`.
        """
        return _arrow.embed_arrow(self, array, nulls=nulls, out=out, dtype=dtype, num_threads=num_threads)

    def __call__(self, texts: Any, **kwargs: Any) -> np.ndarray:
        """`embed` for a str, `embed_batch` for a sequence of them."""
        if isinstance(texts, str):
            if kwargs:
                raise TypeError(f"embed() of a single str takes no options, got {sorted(kwargs)}")
            return self.embed(texts)
        return self.embed_batch(texts, **kwargs)

    def _key(self) -> tuple[Any, ...]:
        # The embedder is immutable, so the key (which copies the seed vector) is made once.
        key = self.__dict__.get("_cached_key")
        if key is None:
            key = self.__dict__["_cached_key"] = self._make_key()
        return key

    def _make_key(self) -> tuple[Any, ...]:
        return (
            self.dim,
            self.max_ngram,
            self.layout,
            self.base,
            self.hash_modulus,
            self.buckets,
            self.hash_seeds.tobytes(),
            self.boundary_markers,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashEmbedder):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        cfg = self.config()
        seeds = cfg.pop("hash_seeds")
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        if seeds is not None:
            args += f", hash_seeds=<{len(seeds)} explicit seeds>"
        return f"{type(self).__name__}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.config()))


def _rebuild(cls: type[HashEmbedder], config: dict[str, Any]) -> HashEmbedder:
    return cls(**config)
