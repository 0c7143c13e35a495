"""`hashembed.torch.functional`: the hash embedding in torch operations against the core, bit for
bit, on the golden vectors and on arbitrary strings and configurations; its chunking; its
errors. The CUDA tests skip when no GPU is present."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hashembed import HashEmbedder, ParameterError, ParameterTypeError
from hashembed.torch import functional
from hashembed.torch.functional import codepoints, embed_codepoints
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import full_configs, texts
from support import MIXED, assert_same_bits, golden_bits, golden_groups, text_of
from tiny_models import padded

GROUPS = golden_groups()

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available())")


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=[g[0]["name"] for g in GROUPS.values()])
def test_golden_vectors(group: list[dict]) -> None:
    e = HashEmbedder(**group[0]["config"])
    cp, lengths = padded([c["input"] for c in group], fill=-(2**62))
    assert_same_bits(embed_codepoints(cp, lengths, e).numpy(), golden_bits(group))
    texts = [text_of(c["input"]) for c in group]
    wide = embed_codepoints(cp, lengths, e, dtype=torch.float64)
    assert_same_bits(wide.numpy(), e.embed_batch(texts, dtype="float64"))


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=[g[0]["name"] for g in GROUPS.values()])
def test_golden_vectors_as_traced(monkeypatch: pytest.MonkeyPatch, group: list[dict]) -> None:
    """The one-block path a trace records (no groups, chunks or deduplication)."""
    monkeypatch.setattr(functional, "is_tracing", lambda: True)
    e = HashEmbedder(**group[0]["config"])
    cp, lengths = padded([c["input"] for c in group], fill=7)
    assert_same_bits(embed_codepoints(cp, lengths, e).numpy(), golden_bits(group))


@settings(max_examples=200)
@given(config=full_configs(), batch=st.lists(texts, max_size=6))
def test_any_strings_and_configuration_equal_the_core(config: dict, batch: list[str]) -> None:
    e = HashEmbedder(**config)
    cp, lengths = codepoints(batch)
    assert_same_bits(embed_codepoints(cp, lengths, e).numpy(), e.embed_batch(batch))
    wide = embed_codepoints(cp, lengths, e, dtype=torch.float64).numpy()
    assert_same_bits(wide, e.embed_batch(batch, dtype="float64"))


@pytest.mark.parametrize("chunk", [7, 300, 5000])
@pytest.mark.parametrize("markers", [False, True])
def test_small_chunks_give_the_same_bits(monkeypatch: pytest.MonkeyPatch, chunk: int, markers: bool) -> None:
    e = HashEmbedder(40, max_ngram=4, base=1_114_129, boundary_markers=markers)
    # the longest text has more windows than a block holds
    batch = [*MIXED, "ab" * (2 * chunk)]
    want = e.embed_batch(batch)
    monkeypatch.setattr(functional, "CHUNK_ELEMENTS", chunk)
    cp, lengths = codepoints(batch)
    assert_same_bits(embed_codepoints(cp, lengths, e).numpy(), want, f"chunk {chunk}")


def test_padding_values_and_input_dtypes_do_not_matter() -> None:
    e = HashEmbedder(24, boundary_markers=True)
    rows = [[ord(c) for c in t] for t in MIXED]
    want = e.embed_batch(MIXED)
    for fill in (0, 3, -1, 2**63 - 1, 0x10FFFF + 1):
        cp, lengths = padded(rows, fill)
        assert_same_bits(embed_codepoints(cp, lengths, e).numpy(), want, f"fill {fill}")
    cp, lengths = codepoints(MIXED)
    assert_same_bits(embed_codepoints(cp.int(), lengths.int(), e).numpy(), want, "int32 inputs")
    wider = torch.nn.functional.pad(cp, (0, 5), value=7)
    assert_same_bits(embed_codepoints(wider, lengths, e).numpy(), want, "extra columns")


def test_codepoints_of_any_strings() -> None:
    cp, lengths = codepoints(["ab", "", "\ud800\U0010ffff\x00"])
    assert cp.dtype == lengths.dtype == torch.int64
    assert cp.tolist() == [[97, 98, 0], [0, 0, 0], [0xD800, 0x10FFFF, 0]]
    assert lengths.tolist() == [2, 0, 3]
    cp, lengths = codepoints([])
    assert cp.shape == (0, 0) and lengths.shape == (0,)
    assert embed_codepoints(cp, lengths, HashEmbedder(6)).shape == (0, 6)
    with pytest.raises(TypeError, match=r"tokens\[1\] must be a str, not int") as info:
        codepoints(["a", 5])  # type: ignore[list-item]
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value, info.value.index) == ("tokens", 5, 1)
    with pytest.raises(TypeError, match="tokens must be a sequence of str, not str") as info:
        codepoints("abc")
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value, info.value.index) == ("tokens", "abc", None)


def test_empty_text_and_width_zero() -> None:
    e = HashEmbedder(12)
    out = embed_codepoints(torch.zeros(3, 0, dtype=torch.int64), torch.zeros(3, dtype=torch.int64), e)
    assert_same_bits(out.numpy(), e.embed_batch(["", "", ""]))
    assert not out.numpy().view(np.uint32).any()  # +0.0 everywhere, never -0.0 or NaN


ZEROS = torch.zeros(2, 3, dtype=torch.long)
T = torch.tensor


@pytest.mark.parametrize(
    ("cp", "lengths", "error", "message"),
    [
        (torch.zeros(2, 3), T([1, 2]), TypeError, r"codepoints must be an integer tensor"),
        (ZEROS, T([1.0, 2.0]), TypeError, r"lengths must be an integer tensor .*, not torch.float32"),
        (ZEROS.bool(), T([1, 2]), TypeError, r"codepoints must be an integer tensor"),
        ([[1, 2]], T([1]), TypeError, r"codepoints must be a torch.Tensor, not list"),
        (T([1, 2, 3]), T([1]), ValueError, r"codepoints must have 2 dimension\(s\), got shape \(3,\)"),
        (ZEROS, T([[1, 2]]), ValueError, r"lengths must have 1 dimension"),
        (ZEROS, T([1, 2, 3]), ValueError, r"lengths has 3 entries, codepoints has 2 rows"),
        (ZEROS, T([1, 4]), ValueError, r"lengths\[1\]=4 is out of range: 0 <= length <= L=3"),
        (ZEROS, T([-1, 2]), ValueError, r"lengths\[0\]=-1 is out of range"),
        (T([[1, 0x110000, 0]]), T([2]), ValueError, r"codepoints\[0, 1\]=1114112 is not a code point"),
        (T([[1, 2, -5]]), T([3]), ValueError, r"codepoints\[0, 2\]=-5 is not a code point"),
    ],
)
def test_bad_input_is_a_clear_error(cp, lengths, error, message) -> None:
    with pytest.raises(error, match=message) as info:
        embed_codepoints(cp, lengths, HashEmbedder(6))
    # the message names the parameter first, and the bad element's index where there is one
    assert isinstance(info.value, ParameterTypeError if error is TypeError else ParameterError)
    assert info.value.parameter == re.match(r"codepoints|lengths", message).group()
    where = re.search(r"\\\[(\d+)(?:, (\d+))?\\\]", message)
    index = None if where is None else int(where[1]) if where[2] is None else (int(where[1]), int(where[2]))
    assert info.value.index == index


def test_bad_embedder_or_dtype() -> None:
    cp, lengths = codepoints(["a"])
    with pytest.raises(TypeError, match="embedder must be a HashEmbedder, not dict") as info:
        embed_codepoints(cp, lengths, {"dim": 6})  # type: ignore[arg-type]
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value) == ("embedder", {"dim": 6})
    with pytest.raises(ValueError, match=r"dtype=torch.float16 is not supported") as info:
        embed_codepoints(cp, lengths, HashEmbedder(6), dtype=torch.float16)
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value) == ("dtype", torch.float16)
    with pytest.raises(ValueError, match=r"lengths is on meta, codepoints on cpu: use one device") as info:
        embed_codepoints(cp, lengths.to("meta"), HashEmbedder(6))
    assert isinstance(info.value, ParameterError) and info.value.parameter == "lengths"


@CUDA
@pytest.mark.parametrize("markers", [False, True])
def test_cuda_gives_the_same_bits(markers: bool) -> None:
    e = HashEmbedder(96, max_ngram=4, layout="equal", boundary_markers=markers)
    batch = [*MIXED, "ab" * 5000]
    cp, lengths = codepoints(batch, device="cuda")
    out = embed_codepoints(cp, lengths, e)
    assert out.device.type == "cuda"
    assert_same_bits(out.cpu().numpy(), e.embed_batch(batch))
    wide = embed_codepoints(cp, lengths, e, dtype=torch.float64)
    assert_same_bits(wide.cpu().numpy(), e.embed_batch(batch, dtype="float64"))


@CUDA
@pytest.mark.parametrize("group", list(GROUPS.values()), ids=[g[0]["name"] for g in GROUPS.values()])
def test_cuda_golden_vectors(group: list[dict]) -> None:
    e = HashEmbedder(**group[0]["config"])
    cp, lengths = padded([c["input"] for c in group], fill=5)
    out = embed_codepoints(cp.cuda(), lengths.cuda(), e)
    assert_same_bits(out.cpu().numpy(), golden_bits(group))


def test_module_is_reachable_from_the_package() -> None:
    import hashembed.torch

    assert hashembed.torch.codepoints is codepoints
    assert hashembed.torch.functional is functional
