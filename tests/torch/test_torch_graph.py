"""Graph mode of `HashEmbedding` and `TokenHashEmbedding`: vectors computed from code points
inside `forward`, bit-identical to the table, with no V x dim buffer, and traceable
(torch.jit.trace, torch.export, the TorchScript ONNX exporter) for any batch shape."""

from __future__ import annotations

import io
import warnings

import hashembed
import numpy as np
import onnxruntime as ort
import pytest
import torch
from _data import minilm_dir
from hashembed import ParameterError, ParameterTypeError
from hashembed.torch import HashEmbedding, TokenHashEmbedding, codepoints
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument as ort_error
from support import assert_same_bits

VOCAB = ["[PAD]", "hello", "world", "##ing", "", "naïve ☃", "\ud800", "\U0001f600x", "x" * 40]
MODEL_DIR = minilm_dir()
EMBEDDER = hashembed.HashEmbedder(24, max_ngram=4, boundary_markers=True)


def random_ids(shape: tuple[int, ...], high: int = len(VOCAB), seed: int = 0) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("out_dim", [None, 16])
def test_same_bits_as_the_table_without_a_table(out_dim: int | None) -> None:
    table = HashEmbedding(VOCAB, EMBEDDER, out_dim=out_dim)
    graph = HashEmbedding(VOCAB, EMBEDDER, out_dim=out_dim, graph=True)
    graph.load_state_dict(table.state_dict())
    assert graph.state_dict().keys() == table.state_dict().keys()
    for shape in [(), (0,), (7,), (2, 3), (3, 1, 4)]:
        ids = random_ids(shape)
        assert_same_bits(graph(ids).detach().numpy(), table(ids).detach().numpy(), f"{shape}")
    buffers = {name: tuple(b.shape) for name, b in graph.named_buffers()}
    assert buffers == {"token_codepoints": (len(VOCAB), 40), "token_lengths": (len(VOCAB),)}
    assert "graph=True" in repr(graph)
    with pytest.raises(IndexError, match=rf"token id {len(VOCAB)} is out of range"):
        graph(torch.tensor([0, len(VOCAB)]))


def test_a_real_vocabulary() -> None:
    e = hashembed.HashEmbedder.preset("robust", dim=384)  # all-MiniLM-L6-v2's hidden size
    table = HashEmbedding(MODEL_DIR / "vocab.txt", e)
    graph = HashEmbedding(MODEL_DIR / "vocab.txt", e, graph=True)
    ids = random_ids((4, 50), high=table.num_embeddings)
    assert_same_bits(graph(ids).numpy(), table(ids).numpy())
    held = sum(b.numel() * b.element_size() for b in graph.buffers())
    assert held < table.weight.numel() * table.weight.element_size() / 10


def test_traced_module_takes_any_shape() -> None:
    layer = HashEmbedding(VOCAB, EMBEDDER, out_dim=8, graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace is deprecated in torch >= 2.9
        traced = torch.jit.trace(layer, random_ids((2, 3)))
    for shape in [(5, 11), (1, 1), (3, 2)]:
        ids = random_ids(shape, seed=1)
        assert_same_bits(traced(ids).detach().numpy(), layer(ids).detach().numpy(), f"{shape}")


def test_traced_ids_outside_the_vocabulary_are_errors() -> None:
    """A trace leaves out the range check, and id -1 gave the last token's vector, silently.
    Every traced form now refuses an id outside the vocabulary at run time."""
    layer = HashEmbedding(VOCAB, EMBEDDER, graph=True)
    example = random_ids((2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace and the TorchScript exporter are deprecated
        traced = torch.jit.trace(layer, example)
        buffer = io.BytesIO()
        torch.onnx.export(
            layer, (example,), buffer, dynamo=False, opset_version=17,
            input_names=["ids"], output_names=["vectors"], dynamic_axes={"ids": {0: "b", 1: "s"}},
        )  # fmt: skip
    runs = [traced, lambda ids: ort_run(buffer.getvalue(), ids)]
    if hasattr(torch.compiler, "is_exporting"):  # torch.export, torch >= 2.5
        dims = {"ids": {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")}}
        runs.append(torch.export.export(layer, (example,), dynamic_shapes=dims).module())
    good = torch.tensor([[0, len(VOCAB) - 1]])
    for run in runs:
        assert_same_bits(torch.as_tensor(run(good)).numpy(), layer(good).numpy())
        n = len(VOCAB)
        for bad in (-1, -n, n, 2**40):
            with pytest.raises(Exception, match=rf"index {n} is out of bounds|idx={n} must be") as error:
                run(torch.tensor([[0, bad]]))
            assert isinstance(error.value, (IndexError, RuntimeError, ort_error)), error.value


def ort_run(model: bytes, ids: torch.Tensor) -> torch.Tensor:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"ids": ids.numpy()})[0])


def test_empty_widths() -> None:
    """Tokens all empty (L = 0) crashed a graph-mode TokenHashEmbedding: a reshape of 0
    elements to (-1, 0). Any of the batch, sequence and token widths may be 0."""
    layer = TokenHashEmbedding(EMBEDDER, graph=True)
    cp, lengths = codepoints(["", ""])
    assert_same_bits(layer(cp, lengths).numpy(), EMBEDDER.embed_batch(["", ""]))
    assert_same_bits(layer(cp[0], lengths[0]).numpy(), EMBEDDER.embed(""))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace is deprecated in torch >= 2.9
        example = codepoints(VOCAB[:6])
        traced = torch.jit.trace(layer, (example[0].reshape(2, 3, -1), example[1].reshape(2, 3)))
    for shape in [(2, 3, 0), (0, 3, 4), (2, 0, 4), (0, 0, 0)]:
        cp, lengths = torch.zeros(shape, dtype=torch.long), torch.zeros(shape[:2], dtype=torch.long)
        want = np.broadcast_to(EMBEDDER.embed(""), (*shape[:2], EMBEDDER.dim))
        for run in (layer, traced):
            assert_same_bits(run(cp, lengths).numpy(), want, f"{shape}")
    table = HashEmbedding(VOCAB, EMBEDDER, graph=True)
    assert table(torch.zeros(0, 3, dtype=torch.long)).shape == (0, 3, EMBEDDER.dim)


@pytest.mark.skipif(not hasattr(torch.compiler, "is_exporting"), reason="torch.export needs torch >= 2.5")
def test_torch_export_with_dynamic_shapes() -> None:
    layer = HashEmbedding(VOCAB, EMBEDDER, graph=True)
    dims = {"ids": {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")}}
    program = torch.export.export(layer, (random_ids((2, 3)),), dynamic_shapes=dims)
    for shape in [(6, 9), (3, 2)]:
        ids = random_ids(shape, seed=2)
        assert_same_bits(program.module()(ids).numpy(), layer(ids).numpy(), f"{shape}")


def test_onnx_export_by_torch_is_bit_exact() -> None:
    layer = HashEmbedding(VOCAB, EMBEDDER, graph=True)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated, and the dynamo one needs onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(
            layer, (random_ids((2, 3)),), buffer, dynamo=False, opset_version=17,
            input_names=["ids"], output_names=["vectors"], dynamic_axes={"ids": {0: "b", 1: "s"}},
        )  # fmt: skip
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    ids = random_ids((5, 7), seed=3)
    (got,) = session.run(None, {"ids": ids.numpy()})
    assert_same_bits(got, layer(ids).numpy())


def test_token_hash_embedding_graph_mode() -> None:
    batch = [["hello", "##ing", "naïve"], ["\ud800"], []]
    eager = TokenHashEmbedding(EMBEDDER, out_dim=8)
    graph = TokenHashEmbedding(EMBEDDER, out_dim=8, graph=True)
    graph.load_state_dict(eager.state_dict())
    want, mask = eager(batch)
    flat, lengths = codepoints([t for row in batch for t in row + [""] * (3 - len(row))])
    cp, lengths = flat.reshape(3, 3, -1), lengths.reshape(3, 3)
    got = graph(cp, lengths)
    assert got.shape == (3, 3, 8)
    m = mask.numpy()
    assert_same_bits(got.detach().numpy()[m], want.detach().numpy()[m])
    assert "graph=True" in repr(graph)
    with pytest.raises(
        ValueError, match=r"lengths has shape \(3,\): codepoints of shape \(3, 3, \d+\)"
    ) as info:
        graph(cp, lengths[:, 0])
    assert isinstance(info.value, ParameterError) and info.value.parameter == "lengths"
    with pytest.raises(TypeError, match="takes \\(codepoints, lengths\\) tensors") as info:
        graph(batch)
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value) == ("codepoints", batch)
    with pytest.raises(ParameterTypeError, match="takes \\(codepoints, lengths\\) tensors") as info:
        graph(cp, [1, 2, 3])
    assert info.value.parameter == "lengths"
    with pytest.raises(TypeError, match="max_length is for token strings") as info:
        graph(cp, lengths, max_length=2)
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value) == ("max_length", 2)


def test_graph_mode_vectors_match_the_core_without_projection() -> None:
    layer = TokenHashEmbedding(EMBEDDER, graph=True)
    cp, lengths = codepoints(VOCAB)
    assert_same_bits(layer(cp[None], lengths[None])[0].numpy(), EMBEDDER.embed_batch(VOCAB))


def test_traced_token_hash_embedding_takes_any_shape() -> None:
    layer = TokenHashEmbedding(EMBEDDER, out_dim=8, graph=True)
    cp, lengths = codepoints(VOCAB[:6])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace is deprecated in torch >= 2.9
        traced = torch.jit.trace(layer, (cp.reshape(2, 3, -1), lengths.reshape(2, 3)))
    cp, lengths = codepoints(VOCAB + VOCAB[:3])
    for shape in [(3, 4), (12, 1), (1, 12)]:
        args = (cp.reshape(*shape, -1), lengths.reshape(shape))
        assert_same_bits(traced(*args).detach().numpy(), layer(*args).detach().numpy(), f"{shape}")
