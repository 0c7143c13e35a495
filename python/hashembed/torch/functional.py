"""The hash embedding computed with torch operations, bit-identical to the core.

`embed_codepoints` follows docs/spec.md step by step on int64 tensors: every hash, product
and sum is exact (code points < 2^21, hashes and multipliers < 2^31, so products are below
2^62), and the only floating-point steps are the spec's one double division and one rounding,
done in its order. It runs on the device of its inputs, so it is the same function on CPU
and on CUDA, and it can sit inside a model's `forward`.

    cp, lengths = codepoints(["hello", "world"])
    vectors = embed_codepoints(cp, lengths, HashEmbedder(48))   # == embedder.embed_batch(...)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from .._embedder import HashEmbedder
from ..errors import ParameterError, ParameterTypeError, parameter_error
from ..reference import END_MARKER, MAX_CODE_POINT, START_MARKER

__all__ = ["codepoints", "embed_codepoints", "is_tracing"]

CHUNK_ELEMENTS = 1 << 22
"""The most int64 products one step holds (32 MiB). The working memory of `embed_codepoints`
beyond its inputs and output is a few times this: the products, their remainders and one
comparison of the same shape, so about 100 MiB, whatever the batch and text lengths."""

_DTYPES = (torch.float32, torch.float64)
# torch.export (torch >= 2.5) traces as torch.jit.trace does, with symbolic shapes
_exporting = getattr(torch.compiler, "is_exporting", lambda: False)


def codepoints(
    tokens: Sequence[str], *, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(codepoints, lengths)` of `tokens` (strings, any code point, lone surrogates
    included): int64 (N, L) padded with zeros, L the longest token's length, and int64 (N,)."""
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        message = f"tokens must be a sequence of str, not {type(tokens).__name__}"
        raise parameter_error(ParameterTypeError, message, "tokens", tokens)
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            message = f"tokens[{i}] must be a str, not {type(token).__name__}"
            raise parameter_error(ParameterTypeError, message, "tokens", token, index=i)
    lengths = torch.tensor([len(t) for t in tokens], dtype=torch.int64)
    width = int(lengths.max()) if len(tokens) else 0
    # UTF-32 holds one code point per 4 bytes, lone surrogates too with "surrogatepass";
    # padding with NUL characters makes every row the same width.
    data = "".join(t + "\0" * (width - len(t)) for t in tokens).encode("utf-32-le", "surrogatepass")
    flat = torch.frombuffer(bytearray(data), dtype=torch.int32) if data else torch.zeros(0, dtype=torch.int32)
    cp = flat.to(torch.int64).reshape(len(tokens), width)
    return cp.to(device), lengths.to(device)


def _check(codepoints: torch.Tensor, lengths: torch.Tensor, embedder: Any, dtype: Any) -> None:
    if not isinstance(embedder, HashEmbedder):
        message = f"embedder must be a HashEmbedder, not {type(embedder).__name__}"
        raise parameter_error(ParameterTypeError, message, "embedder", embedder)
    if dtype not in _DTYPES:
        raise parameter_error(
            ParameterError,
            f"dtype={dtype!r} is not supported: torch.float32 or torch.float64 (torch rounds a "
            "double to float16 through float32, which the spec forbids)",
            "dtype",
            dtype,
        )
    for name, t, ndim in (("codepoints", codepoints, 2), ("lengths", lengths, 1)):
        if not isinstance(t, torch.Tensor):
            message = f"{name} must be a torch.Tensor, not {type(t).__name__}"
            raise parameter_error(ParameterTypeError, message, name, t)
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            message = f"{name} must be an integer tensor (torch.int64), not {t.dtype}"
            raise parameter_error(ParameterTypeError, message, name, t)
        if t.dim() != ndim:
            message = f"{name} must have {ndim} dimension(s), got shape {tuple(t.shape)}"
            raise parameter_error(ParameterError, message, name, t)
    if lengths.device != codepoints.device:
        message = f"lengths is on {lengths.device}, codepoints on {codepoints.device}: use one device"
        raise parameter_error(ParameterError, message, "lengths", lengths)


def _check_values(codepoints: torch.Tensor, lengths: torch.Tensor) -> None:
    n, width = codepoints.shape
    if lengths.shape[0] != n:
        message = f"lengths has {lengths.shape[0]} entries, codepoints has {n} rows: they must match"
        raise parameter_error(ParameterError, message, "lengths", lengths)
    bad = (lengths < 0) | (lengths > width)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        message = f"lengths[{i}]={int(lengths[i])} is out of range: 0 <= length <= L={width}"
        raise parameter_error(ParameterError, message, "lengths", int(lengths[i]), index=i)
    inside = torch.arange(width, device=codepoints.device) < lengths[:, None]
    bad = inside & ((codepoints < 0) | (codepoints > MAX_CODE_POINT))
    if bool(bad.any()):
        i, j = (int(x) for x in bad.nonzero()[0])
        raise parameter_error(
            ParameterError,
            f"codepoints[{i}, {j}]={int(codepoints[i, j])} is not a code point: "
            f"0 <= code point <= {MAX_CODE_POINT:#x}",
            "codepoints",
            int(codepoints[i, j]),
            index=(i, j),
        )


def _text(
    codepoints: torch.Tensor, lengths: torch.Tensor, markers: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sequences spec step 4 reads, zero past their ends, and their lengths: the boundary
    markers wrap each text where the configuration asks for them."""
    width = codepoints.shape[1]
    inside = torch.arange(width, device=codepoints.device) < lengths[:, None]
    text = torch.where(inside, codepoints, 0)
    if not markers:
        return text, lengths
    text = torch.nn.functional.pad(text, (1, 1))
    column = torch.arange(width + 2, device=text.device)
    text = torch.where(column == 0, START_MARKER, text)
    text = torch.where(column == (lengths + 1)[:, None], END_MARKER, text)
    return text, lengths + 2


def is_tracing() -> bool:
    """Whether a trace is recording: `embed_codepoints` then computes in one block, unchecked.

    A trace records one pass with the example's shapes, so chunk loops would be unrolled with
    their bounds frozen, and checks that read values would be frozen too; a traced graph's
    inputs are checked by whoever builds them (hashembed.onnx's graphs check their own)."""
    return torch.jit.is_tracing() or _exporting()


def _seeds(embedder: HashEmbedder, device: torch.device) -> torch.Tensor:
    with warnings.catch_warnings():
        # a trace keeps them as constants, which they are: part of the configuration
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.from_numpy(embedder.hash_seeds.astype("int64")).to(device)


def _block_sums(products: torch.Tensor, buckets: int) -> torch.Tensor:
    """Spec steps 5 and 6 over the windows (axis 1) of a block of products s_j * h_k."""
    r = products.remainder_(buckets)
    # the sum of (r - B if 2r > B else r), as sum(r) - B * count(r > floor(B / 2)): exact in int64
    return r.sum(1) - buckets * (r > buckets // 2).sum(1)


def _centred_sums(hashes: torch.Tensor, seeds: torch.Tensor, buckets: int) -> torch.Tensor:
    """`A_k` of spec step 6 for every row of `hashes` (R, W) and every multiplier in `seeds`,
    in blocks of at most CHUNK_ELEMENTS products. A window past the text has hash 0, whose
    products are 0 and centre to 0, so it adds nothing."""
    if is_tracing():
        return _block_sums(hashes[:, :, None] * seeds, buckets)
    rows, windows = hashes.shape
    sums = torch.zeros(rows, len(seeds), dtype=torch.int64, device=hashes.device)
    per_row = max(1, CHUNK_ELEMENTS // max(rows, 1))
    pos_step = min(len(seeds), per_row)
    win_step = max(1, per_row // pos_step)
    for p in range(0, len(seeds), pos_step):
        h = seeds[p : p + pos_step]
        for w in range(0, windows, win_step):
            sums[:, p : p + pos_step] += _block_sums(hashes[:, w : w + win_step, None] * h, buckets)
    return sums


def _embed_rows(
    text: torch.Tensor, lengths: torch.Tensor, embedder: HashEmbedder, seeds: torch.Tensor
) -> torch.Tensor:
    p, m, b = embedder.base, embedder.hash_modulus, embedder.buckets
    parts = []
    # Horner's rule from H = 0, one code point further per size: window j of size i extends
    # window j of size i - 1 by code point j + i - 1.
    hashes = text.new_zeros(text.shape[0], text.shape[1] + 1)
    start = 0
    for size, count in enumerate(embedder.layout, start=1):
        hashes = (hashes[:, :-1] * p + text[:, size - 1 :]).remainder(m)
        windows = lengths - (size - 1)
        real = torch.arange(hashes.shape[1], device=text.device) < windows[:, None]
        sums = _centred_sums(torch.where(real, hashes, 0), seeds[start : start + count], b)
        # spec step 6, in its order: double(A) / (double(n) * (double(B) / 2.0))
        denominator = windows.to(torch.float64) * (float(b) / 2.0)
        value = sums.to(torch.float64) / torch.where(windows > 0, denominator, 1.0)[:, None]
        parts.append(torch.where((windows > 0)[:, None], value, 0.0))
        start += count
    return torch.cat(parts, dim=1)


def embed_codepoints(
    codepoints: torch.Tensor,
    lengths: torch.Tensor,
    embedder: HashEmbedder,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The (N, embedder.dim) embeddings of N texts given as code points, bit-identical to
    `embedder.embed_batch` of the same strings; on the inputs' device.

    `codepoints` is an integer tensor (N, L), row i holding text i's code points in its first
    `lengths[i]` columns and anything after them; `lengths` is an integer tensor (N,). The
    texts are the callers' own: the embedder's configuration, boundary markers included, is
    applied here. `dtype` is torch.float32 (the spec's output) or torch.float64 (the double
    before rounding). Lengths outside [0, L], code points outside [0, 0x10FFFF] within the
    lengths, float tensors and mismatched N raise errors naming them.

    Equal texts are computed once. Memory: rows are processed in groups, and products in
    blocks of CHUNK_ELEMENTS, so the working memory stays about 100 MiB plus a few int64
    copies of `codepoints`. Under
    `torch.jit.trace` (and so the TorchScript ONNX exporter) the whole batch is one block, so
    the traced graph takes any N and L, and the value checks are left out.
    """
    _check(codepoints, lengths, embedder, dtype)
    codepoints, lengths = codepoints.long(), lengths.long()
    seeds = _seeds(embedder, codepoints.device)
    if is_tracing():
        text, lens = _text(codepoints, lengths, embedder.boundary_markers)
        return _embed_rows(text, lens, embedder, seeds).to(dtype)
    _check_values(codepoints, lengths)
    width = codepoints.shape[1]
    # Equal texts are computed once, as the core does: rows of (length, code points), zero
    # past each length, are equal exactly when the texts are.
    inside = torch.arange(width, device=codepoints.device) < lengths[:, None]
    rows = torch.cat([lengths[:, None], torch.where(inside, codepoints, 0)], dim=1)
    rows, inverse = torch.unique(rows, dim=0, return_inverse=True)
    lengths, codepoints = rows[:, 0], rows[:, 1:]
    out = torch.empty(len(rows), embedder.dim, dtype=dtype, device=codepoints.device)
    # Rows in groups so the per-row tensors (hashes, masks, the (rows, dim) sums) stay small,
    # and of similar lengths, each cut to its longest, so short texts beside a long one do
    # not compute its padding: lengths + 8 within a factor 1.25 share a group.
    group = max(1, CHUNK_ELEMENTS // max(width + 2, embedder.dim))
    order = torch.argsort(lengths, stable=True)
    classes = torch.floor(torch.log((lengths[order] + 8).double()) / math.log(1.25))
    start = 0
    for size in torch.unique_consecutive(classes, return_counts=True)[1].tolist():
        for r in range(start, start + size, group):
            group_rows = order[r : min(r + group, start + size)]
            lens = lengths[group_rows]
            text, lens = _text(codepoints[group_rows, : int(lens[-1])], lens, embedder.boundary_markers)
            out[group_rows] = _embed_rows(text, lens, embedder, seeds).to(dtype)
        start += size
    return out[inverse]
