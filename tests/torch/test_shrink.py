"""`hashembed.torch.shrink`, `save` and `load`, and `hashembed shrink`: a tiny BERT teacher
with the real MiniLM WordPiece vocabulary for the mechanics, and a few steps of the real
all-MiniLM-L6-v2. Quality is measured by `make compression`, not here."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import hashembed
import numpy as np
import pytest
import safetensors
import tokenizers
import torch
import transformers
from _data import minilm_dir
from hashembed import ParameterError, ParameterTypeError
from hashembed.cli import main
from hashembed.torch import (
    HashEmbedding,
    agreement,
    distil,
    load,
    save,
    sentence_embeddings,
    shrink,
)
from tiny_models import EVAL, SMALL, TRAIN, seeded_bert, seeded_roberta, teacher, tiny, tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
__all__ = ["teacher", "tokenizer"]  # the shared fixtures, used here


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_shrink_result_and_the_teacher_is_left_unchanged(teacher, tokenizer) -> None:
    before = _state(teacher)
    result = tiny(teacher, tokenizer, eval_texts=EVAL, eval_every=3)
    after = teacher.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not teacher.training and teacher.get_input_embeddings().weight.shape == (30522, 32)

    layer = result.model.get_input_embeddings()
    assert isinstance(layer, HashEmbedding) and layer.projection is not None
    assert (layer.hash_dim, layer.embedding_dim) == (64, 32)
    assert result.input_parameters_before == 30522 * 32
    assert result.input_parameters_after == 64 * 32 + 32
    assert result.parameters_before - result.parameters_after == 30522 * 32 - (64 * 32 + 32)
    assert result.steps == 6 and result.sentences == 48 and result.seconds > 0 and result.cpu_seconds > 0
    assert result.projection_r2 is not None and result.projection_r2 < 1
    assert set(result.metrics) == {"mean_cosine", "spearman", "nn_agreement"}
    assert all(-1 <= v <= 1 for v in [*result.metrics.values(), *result.initial_metrics.values()])
    evaluated = [h for h in result.history if "mean_cosine" in h]
    assert [h["step"] for h in evaluated] == [3, 6]
    assert evaluated[-1]["mean_cosine"] == result.metrics["mean_cosine"]
    assert "input layer parameters" in result.summary() and "mean_cosine" in result.summary()

    # the metrics are what agreement() says of the two models' sentence embeddings
    want = agreement(sentence_embeddings(result.model, tokenizer, EVAL, max_length=32),
                     sentence_embeddings(teacher, tokenizer, EVAL, max_length=32))  # fmt: skip
    assert want == pytest.approx(result.metrics)


def test_training_lowers_the_loss(teacher, tokenizer) -> None:
    result = tiny(teacher, tokenizer, steps=40, lr=1e-3)
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def test_shrink_is_deterministic_for_a_seed(teacher, tokenizer) -> None:
    a, b = tiny(teacher, tokenizer), tiny(teacher, tokenizer)
    c = tiny(teacher, tokenizer, seed=1)
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_projection_init_is_the_weighted_ridge_fit(teacher, tokenizer) -> None:
    fitted = tiny(teacher, tokenizer, steps=1, lr=1e-12).model.get_input_embeddings()
    random_init = tiny(teacher, tokenizer, steps=1, lr=1e-12, init_projection=False)
    assert random_init.projection_r2 is None
    ids = torch.tensor([1996, 1997, 2003])  # "the", "of", "is": frequent, so the fit weighs them
    table = teacher.get_input_embeddings().weight[ids]
    err_fit = (fitted(ids) - table).square().mean()
    err_random = (random_init.model.get_input_embeddings()(ids) - table).square().mean()
    assert err_fit < 0.5 * err_random


def test_same_dim_embedder_needs_no_projection(teacher, tokenizer) -> None:
    result = tiny(teacher, tokenizer, embedder=hashembed.HashEmbedder(32), steps=2)
    layer = result.model.get_input_embeddings()
    assert layer.projection is None and result.input_parameters_after == 0 and result.projection_r2 is None


def test_bad_input_is_an_error_before_training(teacher, tokenizer) -> None:
    with pytest.raises(ValueError, match="texts must hold at least 1") as info:
        shrink(teacher, tokenizer, [])
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value, info.value.index) == ("texts", [], None)
    with pytest.raises(ValueError, match="texts must hold at least 1"):
        shrink(teacher, tokenizer, ["  ", ""])
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str") as info:
        shrink(teacher, tokenizer, ["a text", 3])
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value, info.value.index) == ("texts", 3, 1)
    with pytest.raises(TypeError, match="texts must be a list") as info:
        shrink(teacher, tokenizer, "one string")
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.index) == ("texts", None)
    with pytest.raises(ValueError, match="eval_texts must hold at least 3") as info:
        shrink(teacher, tokenizer, TRAIN, eval_texts=["one", "two"])
    assert isinstance(info.value, ParameterError) and info.value.parameter == "eval_texts"
    with pytest.raises(ValueError, match="no input embedding table"):
        shrink(torch.nn.Linear(3, 3), tokenizer, TRAIN)
    with pytest.raises(TypeError, match="tokenizer must be") as info:
        shrink(teacher, {"a": 0}, TRAIN)
    assert isinstance(info.value, ParameterTypeError)
    assert (info.value.parameter, info.value.value) == ("tokenizer", {"a": 0})
    for name, value in [
        ("steps", 0),
        ("batch_size", -1),
        ("max_length", 1),
        ("lr", 0.0),
        ("lr", float("nan")),
    ]:
        with pytest.raises(ValueError, match=name):
            shrink(teacher, tokenizer, TRAIN, **{name: value})
    with pytest.raises(ValueError, match="out_dim must be the width of the student's input embeddings, 32"):
        shrink(teacher, tokenizer, TRAIN, out_dim=16)


def test_cryptic_errors_are_clear_and_numpy_scalars_are_taken(teacher, tokenizer) -> None:
    """A max_length beyond the model's positions failed inside its forward, after the setup,
    with a tensor size error; a bfloat16 teacher with "mixed dtype"; seed=2**70 with an
    overflow naming no parameter; and steps=np.int64(1) was refused."""
    long_texts = [" ".join(["word"] * 300)] * 8
    with pytest.raises(ParameterError, match=r"max_length=129 is more than the teacher's max_position_embed"):
        tiny(teacher, tokenizer, max_length=129)
    student = tiny(teacher, tokenizer, steps=1).model
    with pytest.raises(ParameterError, match=r"max_length=200 .* max_position_embeddings, 128") as error:
        distil(teacher, student, tokenizer, long_texts, steps=1, max_length=200, progress=False)
    assert error.value.parameter == "max_length"
    with pytest.raises(ParameterTypeError, match=r"parameters are torch.bfloat16: .*\(model.float\(\)\)"):
        tiny(copy.deepcopy(teacher).to(torch.bfloat16), tokenizer)
    with pytest.raises(ParameterError, match=r"seed=1180591620717411303424 is out of range") as error:
        tiny(teacher, tokenizer, seed=2**70)
    assert error.value.parameter == "seed"
    with pytest.raises(ParameterTypeError, match=r"steps must be an int >= 1, not str"):
        tiny(teacher, tokenizer, steps="3")
    numbers = {"steps": np.int64(2), "batch_size": np.int32(4), "lr": np.float32(1e-4), "seed": np.uint64(3)}
    result = tiny(teacher, tokenizer, **numbers)
    assert result.steps == 2 and result.sentences == 8
    assert tiny(teacher, tokenizer, steps=1, max_length=128).steps == 1


@pytest.mark.parametrize("xlm", [False, True], ids=["roberta", "xlm-r"])
def test_max_length_is_checked_against_the_tokens_a_roberta_reads(tokenizer, xlm) -> None:
    """RoBERTa and XLM-R number positions from padding_idx + 1: with 66 position embeddings
    they read 64 tokens, and max_length 65 or 66 passed the check, to fail at the first step
    with "index 66 is out of bounds for dimension 1 with size 66"."""
    model = seeded_roberta(66, xlm)
    long_texts = [" ".join(["word"] * 300)] * 4
    options = {"embedder": SMALL, "steps": 1, "progress": False}
    for length in (65, 66):
        with pytest.raises(
            ParameterError, match=r"max_position_embeddings, 66, less the 2 .* at most 64 tok"
        ) as error:
            shrink(model, tokenizer, long_texts, max_length=length, **options)
        assert (error.value.parameter, error.value.value) == ("max_length", length)
        with pytest.raises(
            ParameterError, match=r"the student's max_position_embeddings, 66, less the 2"
        ) as error:
            distil(
                seeded_bert(1, 32, 64, 128), model, tokenizer, long_texts, max_length=length, progress=False
            )
        assert error.value.parameter == "max_length"
    assert shrink(model, tokenizer, long_texts, max_length=64, **options).steps == 1


def test_a_teacher_or_student_on_the_meta_device_is_refused(teacher, tokenizer) -> None:
    """Its weights hold no values: shrink failed with "Cannot copy out of meta tensor"."""
    with torch.device("meta"):
        empty = seeded_bert(1, 32, 64, 128)
    with pytest.raises(ParameterError, match=r"model \(BertModel\) has weights on the meta device") as error:
        tiny(empty, tokenizer)
    assert error.value.parameter == "model"
    with pytest.raises(ParameterError, match="on the meta device") as error:
        distil(empty, teacher, tokenizer, TRAIN, progress=False)
    assert error.value.parameter == "teacher"
    with pytest.raises(ParameterError, match="on the meta device") as error:
        distil(teacher, empty, tokenizer, TRAIN, progress=False)
    assert error.value.parameter == "student"


@pytest.mark.parametrize("name", ["texts", "eval_texts"])
def test_a_lone_surrogate_is_refused_with_its_index(teacher, tokenizer, name) -> None:
    """The tokenizer refused it with a bare TypeError, naming neither the text nor its index
    (for eval_texts, after the projection was fitted)."""
    texts = [*EVAL[:4], "a lone \ud800 surrogate"]
    arguments = {"texts": TRAIN, "eval_texts": None, name: texts}
    with pytest.raises(
        ParameterError, match=rf"{name}\[4\] is not valid Unicode: .*'\\ud800' at character 7"
    ) as error:
        shrink(teacher, tokenizer, arguments["texts"], eval_texts=arguments["eval_texts"], progress=False)
    assert (error.value.parameter, error.value.index, error.value.value) == (name, 4, texts[4])


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"lr": 10**400}, ParameterError, "lr must be a finite number > 0"),
        ({"max_seconds": 10**400}, ParameterError, "max_seconds must be a finite number > 0"),
        ({"progress": "no"}, ParameterTypeError, "progress must be a bool, not str"),
        ({"progress": None}, ParameterTypeError, "progress must be a bool, not NoneType"),
        ({"steps": 10**400}, ParameterError, r"steps=1000\d+ is more than 2\*\*63 - 1"),
        ({"batch_size": 2**63}, ParameterError, r"batch_size=9223372036854775808 is more than 2\*\*63 - 1"),
        ({"max_length": 10**400}, ParameterError, "max_length=1000"),
        ({"eval_every": 10**400}, ParameterError, "eval_every=1000"),
    ],
)
def test_training_options_that_overflow_or_are_not_bools_are_refused(options, error, words) -> None:
    """lr or max_seconds 10**400 was an OverflowError naming nothing; progress="no" (a true
    str) or None was taken; a steps or batch_size of 400 digits was an OverflowError of the
    progress bar after the setup, a max_length or eval_every of 400 digits was taken."""
    from hashembed.torch import DistilConfig

    with pytest.raises(error, match=words) as info:
        DistilConfig(**options)
    assert type(info.value) is error and info.value.parameter == next(iter(options))


def test_the_bool_options_are_bools(teacher, tokenizer) -> None:
    """progress="no" and init_projection="no" were taken as true."""
    from hashembed.torch import DistilConfig

    with pytest.raises(ParameterTypeError, match="progress must be a bool, not str") as info:
        tiny(teacher, tokenizer, progress="no")
    assert info.value.parameter == "progress"
    with pytest.raises(ParameterTypeError, match="init_projection must be a bool, not str") as info:
        tiny(teacher, tokenizer, init_projection="no")
    assert info.value.parameter == "init_projection"
    assert DistilConfig(progress=np.bool_(False)).progress is False
    assert DistilConfig(steps=2**63 - 1, max_seconds=1e308).steps == 2**63 - 1


def test_a_tokenizer_of_another_vocabulary_is_refused(teacher) -> None:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat"]
    other = tokenizers.Tokenizer(
        tokenizers.models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    )
    with pytest.raises(
        ValueError, match=r"vocabulary \(6 tokens\) does not match the model's input embeddings \(30,522"
    ):
        shrink(teacher, other, TRAIN)


def test_a_tokenizers_tokenizer_works_too(teacher, tokenizer) -> None:
    fast = hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")
    a = tiny(teacher, fast, steps=2)
    b = tiny(teacher, tokenizer, steps=2)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), "both tokenizers give the same ids"
    assert fast.padding is None and fast.truncation is None, "the caller's tokenizer is left as it was"


def test_a_diverging_run_stops_with_an_error(teacher, tokenizer) -> None:
    with pytest.raises(FloatingPointError, match="lower lr"):
        tiny(teacher, tokenizer, lr=1e30, steps=30)


def test_max_seconds_stops_early(teacher, tokenizer) -> None:
    result = tiny(teacher, tokenizer, steps=10_000, max_seconds=1.0)
    assert 1 <= result.steps < 10_000


def _outputs(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(EVAL[:8], padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).last_hidden_state


def test_save_and_load_give_bit_identical_outputs_and_no_table(teacher, tokenizer, tmp_path: Path) -> None:
    student = tiny(teacher, tokenizer).model
    out = save(student, tokenizer, tmp_path / "small")
    assert sorted(p.name for p in out.iterdir()) >= ["config.json", "hashembed.json", "model.safetensors"]
    manifest = json.loads((out / "hashembed.json").read_text())
    assert (
        manifest["spec_version"] == 1 and manifest["embedder"] == SMALL.config() and manifest["out_dim"] == 32
    )
    with safetensors.safe_open(str(out / "model.safetensors"), "pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert not any(s and s[0] == 30522 for s in shapes.values()), "no V x dim table is written"
    assert shapes["embeddings.word_embeddings.projection.weight"] == (32, 64)

    model, tok = load(out)
    assert isinstance(model.get_input_embeddings(), HashEmbedding) and not model.training
    assert torch.equal(_outputs(model, tok), _outputs(student, tokenizer))
    assert not list(tmp_path.glob(".*")), "no staging directory is left behind"
    save(model, tok, out)  # an earlier save is replaced
    assert torch.equal(_outputs(load(out)[0], tok), _outputs(student, tokenizer))


def test_save_with_a_tokenizers_tokenizer(teacher, tokenizer, tmp_path: Path) -> None:
    fast = hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")
    student = tiny(teacher, fast, steps=2).model
    model, tok = load(save(student, fast, tmp_path / "m"))
    assert isinstance(tok, tokenizers.Tokenizer)
    ids = torch.tensor([tok.encode(EVAL[0]).ids])
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).last_hidden_state, student(input_ids=ids).last_hidden_state)


def test_save_refuses_what_it_cannot_write_and_leaves_nothing(
    teacher, tokenizer, tmp_path: Path, monkeypatch
) -> None:
    with pytest.raises(ValueError, match="no HashEmbedding input layer") as info:
        save(teacher, tokenizer, tmp_path / "plain")
    assert isinstance(info.value, ParameterError) and info.value.parameter == "model"
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    student = tiny(teacher, tokenizer, steps=1).model
    with pytest.raises(FileExistsError, match="not an earlier hashembed save"):
        save(student, tokenizer, precious)
    assert (precious / "notes.txt").read_text() == "keep me"

    import safetensors.torch as st

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(st, "save_model", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save(student, tokenizer, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"], "nothing half-written"


def test_load_errors(teacher, tokenizer, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load(tmp_path / "absent")
    out = save(tiny(teacher, tokenizer, steps=1).model, tokenizer, tmp_path / "m")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in out.iterdir():
        if f.name != "model.safetensors":
            (broken / f.name).write_bytes(f.read_bytes())
    with pytest.raises(FileNotFoundError, match=r"lacks model\.safetensors"):
        load(broken)
    manifest = json.loads((out / "hashembed.json").read_text())
    (out / "hashembed.json").write_text(json.dumps({**manifest, "spec_version": 2}))
    with pytest.raises(ValueError, match="version 2 of the hashembed function") as info:
        load(out)
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value) == ("directory", out)
    (out / "hashembed.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read") as info:
        load(out)
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value) == ("directory", out)


def test_a_few_steps_of_the_real_minilm(tokenizer, tmp_path: Path) -> None:
    model = transformers.AutoModel.from_pretrained(str(minilm_dir()), local_files_only=True)
    result = shrink(
        model, tokenizer, TRAIN, steps=2, batch_size=4, max_length=32, eval_texts=EVAL[:10], progress=False
    )
    assert result.parameters_before == 22_713_216
    assert result.input_parameters_after == 768 * 384 + 384  # the robust preset's 768 -> 384
    assert result.input_parameters_after / result.input_parameters_before < 0.03
    assert result.projection_r2 is not None and 0 < result.projection_r2 < 1
    small, tok = load(save(result.model, tokenizer, tmp_path / "mini"))
    assert torch.equal(_outputs(small, tok), _outputs(result.model, tokenizer))
    size = (tmp_path / "mini" / "model.safetensors").stat().st_size
    assert size < 0.55 * (minilm_dir() / "model.safetensors").stat().st_size


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hashembed", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def model_dir(teacher, tokenizer, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("teacher")
    teacher.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_cli_shrink(model_dir: Path, tmp_path: Path) -> None:
    texts, evals = tmp_path / "train.txt", tmp_path / "eval.txt"
    texts.write_text("\n".join(TRAIN) + "\n", encoding="utf-8")
    evals.write_text("\n".join(EVAL) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = _cli(
        "shrink", str(model_dir), "--texts", str(texts), "--eval-texts", str(evals), "--steps", "3",
        "--batch-size", "4", "--max-length", "32", "--dim", "48", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mean_cosine" in result.stdout and "input layer parameters" in result.stdout
    assert "shrink [" in result.stderr and "sentences/s" in result.stderr and "loss" in result.stderr
    # Every step that takes a while says so: the bar alone left 30 to 100 s without output.
    steps = [line for line in result.stderr.splitlines() if line.startswith("shrink: ")]
    assert steps == [
        f"shrink: loading torch, transformers and {model_dir}",
        f"shrink: tokenizing {len(TRAIN):,} texts",
        "shrink: fitting the projection to the model's embedding table",
        f"shrink: evaluating the teacher and the untrained student on {len(EVAL)} texts",
        f"shrink: evaluating the student on {len(EVAL)} texts",
        f"shrink: saving to {out}",
    ], result.stderr
    model, _ = load(out)
    assert model.get_input_embeddings().hash_dim == 48
    assert json.loads((out / "hashembed.json").read_text())["embedder"]["boundary_markers"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (["--texts", "{missing}"], "--texts .*: no such file"),
        (["--texts", "{empty}"], "holds no non-blank line"),
        (["--texts", "{latin1}"], "is not UTF-8"),
        (["--texts", "{train}", "--max-ngram", "0"], "max_ngram"),
        (["--texts", "{train}", "--steps", "0"], "--steps must be at least 1, got 0"),
        (["--texts", "{train}", "--max-minutes", "-5"], "--max-minutes must be a finite number > 0, got -5$"),
        (["--texts", "{train}", "--max-length", "1"], "--max-length must be at least 2, got 1"),
        (["--texts", "{train}", "--max-length", "1000"], "max_length=1000 is more than the teacher's"),
        (["--texts", "{train}", "-o", "{precious}"], "not an earlier hashembed save"),
    ],
)
def test_cli_shrink_errors_are_one_line(
    model_dir: Path, tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "train.txt").write_text("\n".join(TRAIN[:20]))
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "keep").write_text("x")
    files = {"missing": "nope.txt", "empty": "empty.txt", "latin1": "latin1.txt", "train": "train.txt"}
    names = {k: str(tmp_path / v) for k, v in {**files, "precious": "precious"}.items()}
    argv = [a.format(**names) for a in args]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "out")]
    assert main(["shrink", str(model_dir), *argv]) == 2
    *steps, error = capsys.readouterr().err.strip().splitlines()
    assert error.startswith("hashembed: error: ") and all(s.startswith("shrink: ") for s in steps), steps
    assert re.search(message, error), error
    assert not (tmp_path / "out").exists()


def test_cli_shrink_help_shows_the_defaults_it_uses(capsys) -> None:
    """The help said "defaults: the robust preset's" beside the library's values."""
    from hashembed.torch.shrink import DEFAULT_PRESET

    with pytest.raises(SystemExit):
        main(["shrink", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    config = hashembed.HashEmbedder.preset(DEFAULT_PRESET)
    assert f"defaults: the {DEFAULT_PRESET} preset's" in shown
    assert f"polynomial hash base ({config.base})" in shown and config.base != hashembed.HashEmbedder().base
    assert "part sizes (equal)" in shown and "before hashing (on)" in shown


def test_cli_shrink_of_a_directory_that_is_no_model(tmp_path: Path, capsys) -> None:
    (tmp_path / "t.txt").write_text("some text here\n")
    assert main(["shrink", str(tmp_path), "--texts", str(tmp_path / "t.txt"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0] == f"shrink: loading torch, transformers and {tmp_path}", err
    assert err[1].startswith("hashembed: error: MODEL_DIR ") and "cannot be loaded as a" in err[1], err


def test_pickled_student_layer_keeps_its_projection(teacher, tokenizer) -> None:
    layer = tiny(teacher, tokenizer, steps=1).model.get_input_embeddings()
    clone = copy.deepcopy(layer)
    ids = torch.tensor([[101, 2000, 102]])
    assert torch.equal(clone(ids), layer(ids))


def test_the_learning_rate_warms_up_then_decays_to_zero(teacher, tokenizer) -> None:
    """The Trainer's linear schedule: 5% of the steps of warm-up, then down to 0 at the end;
    the input layer at INPUT_LR_SCALE times the rest."""
    from hashembed.torch.distillation import INPUT_LR_SCALE

    history = tiny(teacher, tokenizer, steps=40, lr=1e-4).history
    lrs = [h["lr"] for h in history]
    assert [h["step"] for h in history] == list(range(1, 41))
    assert lrs[1] == pytest.approx(1e-4) and lrs[0] == pytest.approx(5e-5)
    assert lrs[-1] == 0.0 and lrs[20] == pytest.approx(1e-4 * 19 / 38)
    assert all(h["input_lr"] == pytest.approx(INPUT_LR_SCALE * h["lr"]) for h in history)


def test_the_first_bad_argument_is_the_one_named(teacher, tokenizer) -> None:
    """The model, the tokenizer and the texts are checked before the training options, as
    the arguments come; `distil` names its teacher before its student."""
    with pytest.raises(ParameterError) as info:
        shrink(torch.nn.Linear(2, 2), tokenizer, TRAIN, steps=0)
    assert info.value.parameter == "model"
    with pytest.raises(ParameterTypeError) as info:
        shrink(teacher, {"a": 0}, TRAIN, lr=-1)
    assert info.value.parameter == "tokenizer"
    with pytest.raises(ParameterError) as info:
        shrink(teacher, tokenizer, [], batch_size=0)
    assert info.value.parameter == "texts"
    with pytest.raises(ParameterError) as info:
        distil(torch.nn.Linear(2, 2), object(), tokenizer, TRAIN)
    assert info.value.parameter == "teacher"
    with pytest.raises(ParameterError) as info:
        distil(teacher, object(), tokenizer, TRAIN, steps=0)
    assert info.value.parameter == "steps"
    with pytest.raises(ParameterError) as info:
        distil(teacher, object(), tokenizer, TRAIN)
    assert info.value.parameter == "student"


def test_shrink_and_distil_take_every_training_option_of_distil_config() -> None:
    """The two signatures spell the options out for the reader and the type checker; this
    keeps them the dataclass's, with its defaults."""
    import dataclasses
    import inspect

    from hashembed.torch import DistilConfig

    options = {f.name: f.default for f in dataclasses.fields(DistilConfig)}
    for function in (shrink, distil):
        params = inspect.signature(function).parameters
        assert {name: params[name].default for name in options} == options, function.__name__
        assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in options)


def test_devices_and_precisions_are_checked_before_any_work() -> None:
    from hashembed.torch import DistilConfig

    mps = torch.backends.mps.is_available()
    assert DistilConfig().device == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    assert DistilConfig(device="cpu").device == "cpu"
    cases = [
        ({"device": "tpu"}, ParameterError, "device", "is not a device"),
        ({"device": 0}, ParameterTypeError, "device", "must be a str"),
        ({"device": "cpu", "fp16": True}, ParameterError, "fp16", "needs a GPU"),
        ({"device": "cpu", "bf16": True, "fp16": True}, ParameterError, "fp16", "pass one"),
        ({"bf16": "yes"}, ParameterTypeError, "bf16", "must be a bool"),
    ]
    if not torch.cuda.is_available():
        cases.append(({"device": "cuda"}, ParameterError, "device", "has no CUDA device"))
    for options, error, parameter, words in cases:
        with pytest.raises(error, match=words) as info:
            DistilConfig(**options)
        assert info.value.parameter == parameter, options


def test_bf16_on_the_cpu_trains_float32_weights(teacher, tokenizer) -> None:
    result = tiny(teacher, tokenizer, steps=3, device="cpu", bf16=True, eval_texts=EVAL[:8])
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}
    assert result.steps == 3 and math.isfinite(result.history[-1]["loss"])
    assert next(teacher.parameters()).device.type == "cpu"


_RUN = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
import transformers
from _data import minilm_dir
from hashembed.torch.distillation import trainer
from safetensors.torch import save_file
from tiny_models import seeded_bert, tiny

tests, checkpoints, kill_at, out = sys.argv[1:5]
ended = trainer.Watch.on_step_end

def killed(self, args, state, control, **kwargs):
    ended(self, args, state, control, **kwargs)
    if state.global_step == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)

trainer.Watch.on_step_end = killed
tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
options = {"save_steps": 2, "checkpoint_dir": checkpoints, "resume": out.endswith("resumed")}
result = tiny(seeded_bert(2, 32, 64, 128), tokenizer, steps=8, **options)
save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, out)
"""


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    tests = str(Path(__file__).resolve().parents[1])
    return subprocess.run([sys.executable, "-c", _RUN, tests, *args], capture_output=True, timeout=600)


def test_a_run_killed_and_resumed_ends_with_the_weights_of_an_unbroken_run(tmp_path) -> None:
    """SIGKILL after step 5 (the last checkpoint at step 4), then resume: bit-identical on
    CPU to eight steps in one go, each run a process of its own."""
    from safetensors.torch import load_file

    killed = _run(str(tmp_path / "a"), "5", str(tmp_path / "never"))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "a").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    for args in (
        (str(tmp_path / "a"), "0", str(tmp_path / "resumed")),
        (str(tmp_path / "b"), "0", str(tmp_path / "whole")),
    ):
        done = _run(*args)
        assert done.returncode == 0, done.stderr[-2000:]
    got, want = load_file(tmp_path / "resumed"), load_file(tmp_path / "whole")
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_checkpoints_of_another_run_are_refused_naming_what_differs(teacher, tokenizer, tmp_path) -> None:
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(ParameterError, match="holds no checkpoint") as info:
        tiny(teacher, tokenizer, steps=2, checkpoint_dir=checkpoints, resume=True)
    assert info.value.parameter == "resume"
    tiny(teacher, tokenizer, steps=2, save_steps=2, checkpoint_dir=checkpoints)
    with pytest.raises(ParameterError, match=r"checkpoints of an earlier run \(checkpoint-2\).*--resume"):
        tiny(teacher, tokenizer, steps=2, save_steps=2, checkpoint_dir=checkpoints)
    with pytest.raises(ParameterError, match=r"another run \(student hidden_size: 32 in the checkpoints, 16"):
        tiny(teacher, tokenizer, steps=4, checkpoint_dir=checkpoints, resume=True, hidden_size=16)
    with pytest.raises(ParameterError, match=r"another run \(embedder dim"):
        other = hashembed.HashEmbedder.preset("robust", dim=48)
        tiny(teacher, tokenizer, steps=4, checkpoint_dir=checkpoints, resume=True, embedder=other)
    weights = checkpoints / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ParameterError, match=r"checkpoint-2: is damaged"):
        tiny(teacher, tokenizer, steps=4, checkpoint_dir=checkpoints, resume=True)
    with pytest.raises(ParameterError, match="save_steps needs checkpoint_dir"):
        tiny(teacher, tokenizer, steps=4, save_steps=2)


def test_logging_goes_to_the_history_and_the_chosen_integrations_only(
    teacher, tokenizer, tmp_path, capsys
) -> None:
    from transformers.integrations import get_available_reporting_integrations

    result = tiny(teacher, tokenizer, steps=6, logging_steps=2)
    assert [h["step"] for h in result.history] == [2, 4, 6]
    assert capsys.readouterr().out == ""  # the Trainer prints no log lines of its own
    with pytest.raises(ParameterError, match="report_to needs checkpoint_dir"):
        tiny(teacher, tokenizer, steps=1, report_to="all")
    missing = next(
        n for n in ("wandb", "tensorboard", "mlflow") if n not in get_available_reporting_integrations()
    )
    with pytest.raises(ParameterError, match=f"report_to='{missing}' is not installed"):
        tiny(teacher, tokenizer, steps=1, report_to=missing, checkpoint_dir=tmp_path)


def test_an_interrupt_keeps_a_checkpoint_of_what_was_trained(
    teacher, tokenizer, tmp_path, monkeypatch
) -> None:
    from hashembed.torch.distillation import trainer

    ended = trainer.Watch.on_step_end

    def interrupted(self, args, state, control, **kwargs):
        ended(self, args, state, control, **kwargs)
        if state.global_step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer.Watch, "on_step_end", interrupted)
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt, match=r"interrupted at step 3; saved .*checkpoint-3"):
        tiny(teacher, tokenizer, steps=8, save_steps=2, checkpoint_dir=checkpoints)
    assert sorted(p.name for p in checkpoints.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    monkeypatch.setattr(trainer.Watch, "on_step_end", ended)
    assert tiny(teacher, tokenizer, steps=8, save_steps=2, checkpoint_dir=checkpoints, resume=True).steps == 8


def test_distil_trains_a_student_of_any_input_layer(teacher, tokenizer, tmp_path) -> None:
    """A baseline's student keeps a plain table (docs/compression.md's): its checkpoints say so."""
    student = copy.deepcopy(teacher)
    result = distil(teacher, student, tokenizer, TRAIN, steps=2, batch_size=4, max_length=16, progress=False)
    assert result.steps == 2 and result.model is student
    result = distil(
        teacher, copy.deepcopy(teacher), tokenizer, TRAIN, steps=2, batch_size=4, max_length=16,
        progress=False, save_steps=2, checkpoint_dir=tmp_path,
    )  # fmt: skip
    from hashembed.torch.distillation.checkpoints import RUN_FILE

    assert (tmp_path / "checkpoint-2").is_dir() and '"layer": "Embedding"' in (
        tmp_path / RUN_FILE
    ).read_text()
