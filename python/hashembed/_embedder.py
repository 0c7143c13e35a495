"""`HashEmbedder`: the native embedder (`hashembed._core.Embedder`, which it holds, not
extends, so the native entry points stay private) plus what is easier said in Python:
defaults, argument normalisation, output allocation, pickling, presets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _core
from . import arrow as _arrow
from . import tokens as _tokens
from . import vocab as _vocab
from ._bound import VocabEmbedder
from ._checks import Padding, as_text_list, dtype_of, output
from ._params import PARAMETERS
from .errors import ParameterError, ParameterTypeError, parameter_error

# Measured in docs/quality.md (typo recall@1 averaged over seven languages, against the
# default's 50.7%); the defaults stay the spec's.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "unicode": {"base": 1_114_129},
    "robust": {"base": 1_114_129, "layout": "equal", "boundary_markers": True},
    "fuzzy": {"base": 1_114_129, "max_ngram": 2, "layout": "equal", "boundary_markers": True},
    "compact": {"dim": 256, "base": 1_114_129, "max_ngram": 2, "layout": "equal", "boundary_markers": True},
}


class HashEmbedder:
    """A dynamic hash embedding with a fixed configuration; see docs/spec.md for the function.

    Immutable and thread-safe: share one instance between threads, pickle it to send it to
    worker processes (it pickles to its small configuration).
    """

    __slots__ = ("_layout_arg", "_native")

    # The parameters, as type checkers see them; the properties that read them from the native
    # embedder are made from hashembed._params.PARAMETERS below the class.
    dim: int
    max_ngram: int
    layout: tuple[int, ...]
    seed: int
    base: int
    hash_modulus: int
    buckets: int
    hash_seeds: np.ndarray
    boundary_markers: bool

    def __init__(
        self,
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
    ) -> None:
        if isinstance(hash_seeds, np.ndarray):
            hash_seeds = hash_seeds.tolist()
        if not isinstance(layout, str) and isinstance(layout, Iterable):
            layout = tuple(layout)  # read a one-shot iterator once, for both uses below
        self._native = _core.Embedder(
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

    @property
    def explicit_hash_seeds(self) -> bool:
        """Whether the seeds were given explicitly rather than derived from `seed`."""
        return self._native.explicit_hash_seeds

    def config(self) -> dict[str, Any]:
        """The constructor arguments: `HashEmbedder(**e.config()) == e`."""
        values = {p.name: getattr(self._native, p.name) for p in PARAMETERS}
        values["layout"] = self._layout_arg  # as given: "proportional" stays a name
        values["hash_seeds"] = values["hash_seeds"].tolist() if self.explicit_hash_seeds else None
        return values

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> HashEmbedder:
        """A named configuration from the quality report (docs/quality.md), e.g. "robust";
        keyword arguments override its parameters."""
        if name not in PRESETS:
            message = f"preset={name!r} is unknown: expected one of {', '.join(map(repr, PRESETS))}"
            raise parameter_error(ParameterError, message, "preset", name)
        return cls(**{**PRESETS[name], **overrides})

    def embed(self, text: str, *, dtype: Any = "float32") -> np.ndarray:
        """The embedding of one str, shape (dim,), as float32, float64 or float16."""
        dt = dtype_of(dtype)
        if dt == np.float32 or not isinstance(text, str):
            return self._native.embed(text)  # which also refuses a non-str, naming `text`
        return self.embed_batch([text], dtype=dt)[0]

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
        out = output(out, (len(texts), self.dim), dtype_of(dtype))
        self._native.embed_batch_into(texts, out, num_threads)
        return out

    def embed_utf8(
        self,
        data: np.ndarray,
        offsets: np.ndarray,
        *,
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> np.ndarray:
        """Embeddings of texts given as UTF-8, shape (len(offsets) - 1, dim): text i is
        `data[offsets[i]:offsets[i + 1]]`, `data` a uint8 array and `offsets` an int64 array
        (the layout of an Arrow string column). Invalid UTF-8 is an `ItemError` naming the
        text; nothing is written unless every text decodes. `out`, `dtype` and `num_threads`
        work as in `embed_batch`."""
        rows = max(np.shape(offsets)[0] - 1, 0) if np.ndim(offsets) == 1 else 0
        out = output(out, (rows, self.dim), dtype_of(dtype))
        self._native.embed_utf8_into(data, offsets, out, num_threads)
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
        padding = Padding.of(max_length, pad_to_multiple_of, out, dtype, num_threads)
        return _tokens.embed_tokens(self._native, self.dim, batch, padding)

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
        vocab: VocabEmbedder[HashEmbedder] | None = None,
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

        With `vocab`, a `VocabEmbedder` of this embedder bound to the tokenizer's vocabulary
        (`bind`), the encodings' ids are embedded instead of their strings: the same result,
        with each id's row from its cache.
        """
        if vocab is not None:
            if not isinstance(vocab, VocabEmbedder):
                message = (
                    f"vocab must be a VocabEmbedder (bind the vocabulary once: embedder.bind(vocab)), "
                    f"not {type(vocab).__name__}"
                )
                raise parameter_error(ParameterTypeError, message, "vocab", vocab)
            if vocab.embedder != self:
                raise parameter_error(
                    ParameterError, "vocab is bound to a different embedder", "vocab", vocab
                )
            return vocab.embed_encodings(
                encodings,
                skip_special_tokens=skip_special_tokens,
                max_length=max_length,
                pad_to_multiple_of=pad_to_multiple_of,
                out=out,
                dtype=dtype,
                num_threads=num_threads,
            )
        padding = Padding.of(max_length, pad_to_multiple_of, out, dtype, num_threads)
        return _tokens.embed_encodings(self._native, self.dim, encodings, skip_special_tokens, padding)

    def embed_vocab(
        self, vocab: Any, *, dtype: Any = "float32", num_threads: int | None = None
    ) -> np.ndarray:
        """The embedding table of a vocabulary, shape (V, dim): row i embeds the token of id i.

        `vocab` is a list of str (token i at index i), a dict token -> id (ids exactly
        0..V-1), a path (str or os.PathLike) to a vocab.txt (line i is token i), a
        tokenizer.json or a directory holding either, or a `tokenizers.Tokenizer` (its
        vocabulary with added tokens). Write the table with `hashembed.save_table`.
        """
        return _vocab.embed_vocab(self._native, self.dim, vocab, dtype=dtype, num_threads=num_threads)

    def bind(
        self,
        vocab: Any,
        *,
        cache: str = "lazy",
        max_cache_bytes: int | None = None,
        num_threads: int | None = None,
    ) -> VocabEmbedder[HashEmbedder]:
        """This embedder bound to a vocabulary: a `VocabEmbedder`, which embeds token ids.

        `vocab` is anything `embed_vocab` reads (a list, a token -> id dict, a vocab.txt or
        tokenizer.json, a `tokenizers` or `transformers` tokenizer); its code points are held
        natively. `cache` says what is kept between calls: "none" (each call embeds the
        distinct ids it sees), "lazy" (an id's row is computed the first time it is seen and
        kept, while the cache holds at most `max_cache_bytes`; later ids are computed in
        every call) or "full" (the whole float32 table, computed now, with `num_threads`).
        """
        return VocabEmbedder(
            self, vocab, cache=cache, max_cache_bytes=max_cache_bytes, num_threads=num_threads
        )

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
        return _arrow.embed_arrow(
            self._native, self.dim, array, nulls=nulls, out=out, dtype=dtype, num_threads=num_threads
        )

    def __call__(self, texts: Any, **kwargs: Any) -> np.ndarray:
        """`embed` for a str, `embed_batch` for a sequence of them (keyword arguments go to
        whichever is called)."""
        if isinstance(texts, str):
            return self.embed(texts, **kwargs)
        return self.embed_batch(texts, **kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashEmbedder):
            return NotImplemented
        return self._native == other._native  # the core's equality: the same function

    def __hash__(self) -> int:
        return hash(self._native)

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


def _reader(name: str, doc: str) -> property:
    return property(lambda self: getattr(self._native, name), doc=doc)


for _parameter in PARAMETERS:
    setattr(HashEmbedder, _parameter.name, _reader(_parameter.name, _parameter.docstring))
