"""Smaller students (`shrink(num_layers=, hidden_size=, intermediate_size=,
num_attention_heads=)`): their shapes, their initialisation from the teacher, save/load,
the CLI flags and the errors, on a tiny BERT teacher with the real MiniLM vocabulary.
Quality is measured by `make compression`, not here."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from _data import stdlib_lines
from hashembed.cli import main
from hashembed.errors import ParameterError, ParameterTypeError
from hashembed.torch import Encoder, load, save, sentence_embeddings, shrink
from hashembed.torch.students import (
    build_student,
    hidden_basis,
    layer_map,
    output_projection,
    student_shape,
)
from tiny_models import SMALL, seeded, seeded_bert, seeded_distilbert, seeded_electra, tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
__all__ = ["tokenizer"]  # the shared fixture, used here
TEXTS = [line for line in stdlib_lines(200_000) if len(line) > 20][:200]


@pytest.fixture(scope="module")
def teacher():
    """Four layers, hidden 32 in 2 heads of 16, feed-forward 64, seeded."""
    return seeded_bert(4, 32, 64, 64)


def _small(teacher, tokenizer, steps=2, **sizes):
    return shrink(
        teacher, tokenizer, TEXTS, embedder=SMALL, steps=steps, batch_size=8, max_length=24,
        progress=False, **sizes,
    )  # fmt: skip


def test_layer_map_is_evenly_spaced_and_ends_at_the_last_layer() -> None:
    assert layer_map(6, 3) == [1, 3, 5]
    assert layer_map(6, 2) == [2, 5]
    assert layer_map(6, 4) == [1, 2, 4, 5]
    assert layer_map(6, 1) == [5]
    assert layer_map(6, 6) == [0, 1, 2, 3, 4, 5]
    assert layer_map(12, 4) == [2, 5, 8, 11]


def test_default_sizes_keep_the_head_size_and_feed_forward_ratio(teacher) -> None:
    assert student_shape(teacher) is None
    shape = student_shape(teacher, hidden_size=16)
    assert (shape.num_layers, shape.hidden_size, shape.num_attention_heads, shape.intermediate_size) == (
        4, 16, 1, 32,
    )  # fmt: skip
    shape = student_shape(teacher, num_layers=np.int64(2))
    assert (shape.num_layers, shape.hidden_size, shape.num_attention_heads, shape.intermediate_size) == (
        2, 32, 2, 64,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sizes", "parameter", "words"),
    [
        ({"num_layers": 5}, "num_layers", "more than the teacher's 4"),
        ({"hidden_size": 64}, "hidden_size", "more than the teacher's 32"),
        ({"intermediate_size": 65}, "intermediate_size", "more than the teacher's 64"),
        ({"num_attention_heads": 3}, "num_attention_heads", "does not divide hidden_size=32"),
        ({"hidden_size": 24}, "num_attention_heads", "not a multiple of the teacher's head size 16"),
        ({"hidden_size": 24, "num_attention_heads": 5}, "num_attention_heads", "does not divide"),
        ({"num_layers": 0}, "num_layers", ">= 1"),
    ],
)
def test_sizes_that_cannot_be_built_are_refused_before_any_work(teacher, tokenizer, sizes, parameter, words):
    with pytest.raises(ParameterError, match=words) as info:
        _small(teacher, tokenizer, **sizes)
    assert info.value.parameter == parameter


def test_a_size_of_the_wrong_type_is_a_type_error(teacher, tokenizer) -> None:
    with pytest.raises(ParameterTypeError, match="hidden_size must be an int") as info:
        _small(teacher, tokenizer, hidden_size=16.0)
    assert info.value.parameter == "hidden_size"


def test_a_student_of_the_teachers_own_sizes_is_the_teacher(teacher, tokenizer) -> None:
    """Every weight but the input table (which shrink replaces) comes from the teacher,
    unchanged: the init is exact where nothing shrinks."""
    student, random_init = build_student(teacher, student_shape(teacher, num_layers=4), None)
    assert random_init == []
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.no_grad():
        vectors = teacher.get_input_embeddings()(ids)
        got = student(inputs_embeds=vectors).last_hidden_state
        assert torch.equal(got, teacher(inputs_embeds=vectors).last_hidden_state)


def test_fewer_layers_start_from_every_kth_teacher_layer(teacher) -> None:
    student, _ = build_student(teacher, student_shape(teacher, num_layers=2), None)
    assert student.config.num_hidden_layers == 2
    for i, t in enumerate(layer_map(4, 2)):
        got = student.encoder.layer[i].state_dict()
        want = teacher.encoder.layer[t].state_dict()
        assert all(torch.equal(got[k], want[k]) for k in want)


def test_a_narrower_student_reads_and_writes_the_teachers_principal_directions(teacher, tokenizer) -> None:
    batches = [Encoder(tokenizer, 24)(TEXTS[:16])]
    basis = hidden_basis(teacher, batches, 16)
    assert basis.shape == (32, 16)
    assert torch.allclose(basis.T @ basis, torch.eye(16, dtype=basis.dtype), atol=1e-9)
    shape = student_shape(teacher, hidden_size=16, intermediate_size=48)
    student, random_init = build_student(teacher, shape, basis)
    assert random_init == []
    assert student.config.hidden_size == 16 and student.config.intermediate_size == 48
    # each of the 48 kept units is one of the teacher's 64, in order, read through the basis
    w = teacher.encoder.layer[3].intermediate.dense.weight.double()
    got = student.encoder.layer[3].intermediate.dense.weight.double()
    distance = torch.cdist(got, w @ basis)
    nearest = distance.argmin(1)
    assert distance.min(1).values.max() < 1e-6
    assert torch.all(nearest[1:] > nearest[:-1])
    lift = output_projection(student)
    assert lift is not None and torch.allclose(lift.weight.double(), basis.to(lift.weight.dtype).double())


def test_a_changed_head_size_leaves_only_the_attention_weights_at_random(teacher) -> None:
    shape = student_shape(teacher, num_attention_heads=4)
    student, random_init = build_student(teacher, shape, None)
    assert student.config.num_attention_heads == 4
    attention = (".attention.self.", "attention.output.dense.weight")
    assert random_init and all(any(a in n for a in attention) for n in random_init)


def test_a_small_student_trains_saves_and_loads_bit_identically(teacher, tokenizer, tmp_path) -> None:
    result = _small(teacher, tokenizer, num_layers=2, hidden_size=16)
    model = result.model
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 16
    assert result.parameters_after < result.parameters_before
    want = sentence_embeddings(model, tokenizer, TEXTS[:10], max_length=24)
    assert want.shape == (10, 32)  # the teacher's width, through the output projection
    assert np.isfinite(want).all()
    out = save(model, tokenizer, tmp_path / "student")
    loaded, loaded_tokenizer = load(out)
    assert loaded.config.hidden_size == 16 and output_projection(loaded) is not None
    got = sentence_embeddings(loaded, loaded_tokenizer, TEXTS[:10], max_length=24)
    assert np.array_equal(got, want)


def test_a_narrower_student_exports_to_onnx_with_its_output_projection(teacher, tokenizer, tmp_path) -> None:
    import onnxruntime as ort
    from hashembed.onnx import SENTENCE_OUTPUT
    from hashembed.torch import export_model
    from tiny_models import onnx_inputs

    trained = _small(teacher, tokenizer, num_layers=1, hidden_size=16).model
    model, _ = load(save(trained, tokenizer, tmp_path / "student"))
    inputs = onnx_inputs(tokenizer, TEXTS[:12], 24)
    want = sentence_embeddings(trained, tokenizer, TEXTS[:12], max_length=24)
    got = {}
    for quantize in (None, "int8"):
        path = export_model(model, tmp_path / f"{quantize}.onnx", quantize=quantize, tokenizer=tokenizer)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (got[quantize],) = session.run([SENTENCE_OUTPUT], inputs)
        assert got[quantize].shape == want.shape == (12, 32)
    assert float(np.abs(got[None] - want).max()) < 1e-5
    # int8 weights move the vectors, a little (export_model checks it keeps 0.99 on average)
    cosine = (got["int8"] * want).sum(1)
    assert 0.97 < float(cosine.min()) and float(cosine.max()) < 1 - 1e-7


def _same_outputs(a, b) -> bool:
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2023, 102, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        return torch.equal(a(input_ids=ids, attention_mask=mask).last_hidden_state,
                           b(input_ids=ids, attention_mask=mask).last_hidden_state)  # fmt: skip


# Each size option alone, a narrower width last (its student is the one saved and loaded).
SIZE_OPTIONS = [{"num_layers": 1}, {"intermediate_size": 32}, {"num_attention_heads": 4}, {"hidden_size": 16}]


def _each_size_option(teacher, tokenizer, options=SIZE_OPTIONS):
    """The students of a few steps on a few short texts, one for each of `options`."""
    for sizes in options:
        result = shrink(
            teacher, tokenizer, TEXTS[:32], embedder=SMALL, steps=2, batch_size=8, max_length=16,
            progress=False, **sizes,
        )  # fmt: skip
        assert np.isfinite([h["loss"] for h in result.history]).all(), sizes
        yield sizes, result.model


@pytest.mark.parametrize(
    ("embedding_size", "options"), [(24, SIZE_OPTIONS), (32, SIZE_OPTIONS[-1:])], ids=["factorised", "plain"]
)
def test_an_electra_teacher_takes_every_size_option(tokenizer, tmp_path, embedding_size, options) -> None:
    """ELECTRA's input embeddings may be narrower than its hidden state (embedding_size, then
    embeddings_project): every size option was refused with a ParameterError naming out_dim,
    which was not passed, or crashed in the first step. The student keeps a factorised
    teacher's embedding width, which its hash projection outputs; an unfactorised one's
    narrows with the hidden state."""
    teacher = seeded_electra(embedding_size)
    copy_of_teacher, random_init = build_student(teacher, student_shape(teacher, num_layers=2), None)
    assert random_init == [] and _same_outputs(copy_of_teacher, teacher)
    for sizes, model in _each_size_option(teacher, tokenizer, options):
        width = embedding_size if embedding_size < 32 else model.config.hidden_size
        assert model.get_input_embeddings().embedding_dim == model.config.embedding_size == width, sizes
        assert hasattr(model, "embeddings_project") == (embedding_size < 32), sizes
        assert (output_projection(model) is not None) == ("hidden_size" in sizes), sizes
    loaded, _ = load(save(model, tokenizer, tmp_path / "student"))
    assert _same_outputs(loaded, model)


def test_a_factorised_electra_student_cannot_be_as_wide_as_its_embeddings(tokenizer) -> None:
    """ElectraModel makes no embeddings_project where embedding_size is hidden_size."""
    with pytest.raises(ParameterError, match=r"hidden_size=24 is the teacher's embedding_size") as info:
        _small(seeded_electra(24), tokenizer, hidden_size=24, num_attention_heads=2)
    assert (info.value.parameter, info.value.value) == ("hidden_size", 24)


def test_a_distilbert_teacher_takes_every_size_option(tokenizer, tmp_path) -> None:
    """DistilBERT names its sizes n_layers, dim, hidden_dim and n_heads, and its weights
    q_lin, ffn.lin1...: every size option was refused with "pass intermediate_size=None",
    which it was."""
    teacher = seeded_distilbert()
    copy_of_teacher, random_init = build_student(teacher, student_shape(teacher, num_layers=2), None)
    assert random_init == [] and _same_outputs(copy_of_teacher, teacher)
    shape = student_shape(teacher, hidden_size=16, intermediate_size=48)
    basis = hidden_basis(teacher, [Encoder(tokenizer, 24)(TEXTS[:16])], 16)
    student, random_init = build_student(teacher, shape, basis)
    assert random_init == []
    config = student.config
    assert (config.n_layers, config.dim, config.hidden_dim, config.n_heads) == (2, 16, 48, 1)
    # (n_layers, dim, hidden_dim, n_heads) for each option; the teacher's are (2, 32, 64, 2)
    want = {"num_layers": (1, 32, 64, 2), "intermediate_size": (2, 32, 32, 2),
            "num_attention_heads": (2, 32, 64, 4), "hidden_size": (2, 16, 32, 1)}  # fmt: skip
    for sizes, model in _each_size_option(teacher, tokenizer):
        config = model.config
        assert (config.n_layers, config.dim, config.hidden_dim, config.n_heads) == want[next(iter(sizes))]
    loaded, _ = load(save(model, tokenizer, tmp_path / "student"))
    assert _same_outputs(loaded, model)


def test_a_teacher_of_another_layout_is_refused_naming_the_size_given(tokenizer) -> None:
    """MPNet has BERT's configuration names but other weights: a size option crashed with a
    KeyError after the setup."""
    import transformers

    config = transformers.MPNetConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    teacher = seeded(transformers.MPNetModel, config)
    with pytest.raises(
        ParameterError, match=r"MPNetModel\) is not an encoder whose sizes can be changed; .*DistilBERT"
    ) as info:
        _small(teacher, tokenizer, intermediate_size=32)
    assert (info.value.parameter, info.value.value) == ("intermediate_size", 32)
    assert _small(teacher, tokenizer).steps == 2  # a student of the teacher's sizes is its copy


def test_cli_shrink_builds_a_smaller_student(teacher, tokenizer, tmp_path, capsys) -> None:
    model_dir = tmp_path / "teacher"
    teacher.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS[:40]), encoding="utf-8")
    common = ["shrink", str(model_dir), "--texts", str(texts), "--steps", "1", "--batch-size", "4",
              "--max-length", "16", "--dim", "64", "-q"]  # fmt: skip
    code = main([*common, "--num-layers", "1", "--hidden-size", "16", "-o", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    loaded, _ = load(tmp_path / "out")
    assert (loaded.config.num_hidden_layers, loaded.config.hidden_size) == (1, 16)
    capsys.readouterr()
    assert main([*common, "--num-layers", "9", "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--num-layers" in err and "more than the teacher's 4" in err
    assert not (tmp_path / "bad").exists()
