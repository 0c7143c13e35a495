"""`hashembed.torch.save` and `load` under hostile use: targets that cannot be written, a full
disk, other files beside a save or a foreign manifest, modes, interrupts, saves to one
directory at once, and saved files and manifests edited after the save.
A one-layer BERT of hidden size 16 over MiniLM's vocabulary keeps each save fast."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hashembed
import pytest
import torch
from _data import minilm_dir, stdlib_lines
from hashembed import ParameterError
from hashembed.cli import main
from hashembed.torch import load, replace_input_embeddings, save
from hashembed.torch.saving import MANIFEST, WEIGHTS, check_target
from tiny_models import seeded_bert, tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
__all__ = ["tokenizer"]  # the shared fixture, used here
TEXTS = [line for line in stdlib_lines(100_000) if len(line) > 20][:40]
SMALL = hashembed.HashEmbedder.preset("robust", dim=24)


@pytest.fixture(scope="module")
def teacher() -> Any:
    return seeded_bert(1, 16, 32, 64)


def _student(teacher: Any, tokenizer: Any, seed: int) -> Any:
    torch.manual_seed(seed)  # the projection's initialisation: students of other seeds differ
    student = copy.deepcopy(teacher)
    replace_input_embeddings(student, tokenizer, SMALL, out_dim=16)
    return student.eval()


@pytest.fixture(scope="module")
def students(teacher, tokenizer) -> tuple[Any, Any]:
    return _student(teacher, tokenizer, 1), _student(teacher, tokenizer, 2)


@pytest.fixture(scope="module")
def saved(students, tokenizer, tmp_path_factory) -> Path:
    return save(students[0], tokenizer, tmp_path_factory.mktemp("saved") / "model")


def _outputs(model: Any, tokenizer: Any) -> torch.Tensor:
    batch = tokenizer(TEXTS[:4], padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).last_hidden_state


def _weights_digest(directory: Path) -> str:
    return hashlib.sha256((directory / WEIGHTS).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def model_dir(teacher, tokenizer, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("teacher")
    teacher.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _shrink_args(model_dir: Path, tmp_path: Path, out: Path) -> list[str]:
    texts = tmp_path / "train.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return [
        "shrink", str(model_dir), "--texts", str(texts), "--steps", "1", "--batch-size", "2",
        "--max-length", "16", "--dim", "24", "-q", "-o", str(out),
    ]  # fmt: skip


def _one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hashembed: error: "), lines
    return lines[0]


# -- defect 2: a save that fails after training ------------------------------------------------------


@pytest.mark.parametrize("case", ["dangling symlink", "under a file", "symlink under a file"])
def test_targets_that_cannot_be_written_are_refused_before_training(
    case: str, model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """These passed the check, so training ran and the save then failed (for the dangling
    symlink, with a message naming the hidden staging directory)."""
    (tmp_path / "file").write_text("x")
    out = {
        "dangling symlink": tmp_path / "link",
        "under a file": tmp_path / "file" / "out",
        "symlink under a file": tmp_path / "link" / "out",
    }[case]
    (tmp_path / "link").symlink_to(tmp_path / ("file" if case == "symlink under a file" else "gone"))
    with pytest.raises(OSError) as info:
        check_target(out)
    assert str(out) in str(info.value) and ".partial" not in str(info.value)

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the target was checked")

    # the module, which `hashembed.torch.shrink` (the function) hides
    monkeypatch.setattr(importlib.import_module("hashembed.torch.shrink"), "shrink", no_training)
    assert main(_shrink_args(model_dir, tmp_path, out)) == 2
    message = _one_line(capsys)
    assert str(out) in message and ("symbolic link" in message or "is a file" in message), message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link", "train.txt"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mounts a read-only tmpfs")
def test_a_directory_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    """A read-only directory passed the check. Here a read-only tmpfs in a user and mount
    namespace, as root may write in any directory whatever its mode."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (
        "import sys\nfrom hashembed.torch.saving import check_target\n"
        "try:\n    check_target(sys.argv[1] + '/sub/out')\nexcept PermissionError as e:\n    print(e)\n"
    )
    mount = 'mount -t tmpfs -o ro,size=1m none "$0" && exec "$1" -c "$2" "$0"'
    argv = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, str(disk), sys.executable]
    probe = subprocess.run([*argv, "pass"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a namespace: {probe.stderr.decode().strip()}")
    done = subprocess.run([*argv, script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"cannot save to {disk}/sub/out: the directory {disk} is not writable"


def _failing_writes(monkeypatch, times: int, error: Exception) -> None:
    """The first `times` weight writes fail with `error` (a full disk)."""
    import safetensors.torch

    real = safetensors.torch.save_model
    calls = []

    def save_model(model, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) <= times:
            raise error
        return real(model, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_model", save_model)


def _full_disk(kind: str) -> Exception:
    if kind == "OSError":
        return OSError(28, "No space left on device")
    import safetensors

    # what safetensors raises on a full disk (seen on a full tmpfs)
    return safetensors.SafetensorError(
        "Error while serializing: I/O error: No space left on device (os error 28)"
    )


@pytest.mark.parametrize("kind", ["OSError", "SafetensorError"])
def test_a_full_disk_keeps_the_trained_model(
    kind: str, model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A full disk at the end threw the trained model away, with a raw traceback and
    exit 1 (safetensors' error is no OSError). It is one line, exit 2, and the model is saved
    in a fallback directory that the line names."""
    spare = tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    _failing_writes(monkeypatch, 1, _full_disk(kind))
    out = tmp_path / "out"
    assert main(_shrink_args(model_dir, tmp_path, out)) == 2
    message = _one_line(capsys)
    assert f"{out}: No space left on device" in message, message
    found = re.search(r"it is saved in (\S+) instead$", message)
    assert found, message
    kept = Path(found.group(1))
    assert kept.parent == spare
    model, _ = load(kept)
    assert model.get_input_embeddings().hash_dim == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spare", "train.txt"], "nothing half-written"


def test_when_the_fallback_fails_too_both_reasons_are_given(
    model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _failing_writes(monkeypatch, 2, OSError(28, "No space left on device"))
    out = tmp_path / "out"
    assert main(_shrink_args(model_dir, tmp_path, out)) == 2
    message = _one_line(capsys)
    assert message.count("No space left on device") == 2 and "nor in the temporary directory" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.txt"]


def test_a_failed_write_names_the_target_not_the_staging_directory(
    students, tokenizer, tmp_path: Path, monkeypatch
) -> None:
    import transformers.configuration_utils as cu

    def full(self, directory, *args, **kwargs):
        raise OSError(28, "No space left on device", os.path.join(directory, "config.json"))

    monkeypatch.setattr(cu.PretrainedConfig, "save_pretrained", full)
    with pytest.raises(OSError, match="No space left on device") as info:
        save(students[0], tokenizer, tmp_path / "out")
    assert info.value.filename == str(tmp_path / "out")
    assert not list(tmp_path.iterdir())


# -- defect 4: modes ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.parametrize("mask", [0o022, 0o027], ids=oct)
def test_a_save_has_the_umasks_modes(students, tokenizer, tmp_path: Path, mask: int) -> None:
    """The directory was 0700 (mkdtemp's) and model.safetensors 0600, so another
    user or a serving container could not read them."""
    with _umask(mask):
        out = save(students[0], tokenizer, tmp_path / "out")
        save(students[1], tokenizer, out)  # replacing an earlier save as well
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == dict.fromkeys(modes, 0o666 & ~mask) and WEIGHTS in modes


# -- defect 5: other files beside a save -----------------------------------------------------------------


def test_other_files_beside_an_earlier_save_are_never_deleted(
    saved: Path, students, tokenizer, tmp_path: Path
) -> None:
    """Saving over an earlier save deleted every other file in its directory."""
    out = tmp_path / "out"
    shutil.copytree(saved, out)
    (out / "NOTES.md").write_text("how this model was trained")
    (out / "model.onnx").write_bytes(b"onnx")
    with pytest.raises(
        FileExistsError, match=r"holds files that are not part of the earlier save \(NOTES\.md, model\.onnx\)"
    ):
        check_target(out)
    with pytest.raises(FileExistsError, match=r"NOTES\.md, model\.onnx"):
        save(students[1], tokenizer, out)
    assert (out / "NOTES.md").read_text() == "how this model was trained"
    assert (out / "model.onnx").read_bytes() == b"onnx"
    assert _weights_digest(out) == _weights_digest(saved), "the earlier save is intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (out / "NOTES.md").unlink()
    (out / "model.onnx").unlink()
    save(students[1], tokenizer, out)
    assert _weights_digest(out) != _weights_digest(saved)


def _strip_checksums(directory: Path, **changes: Any) -> None:
    """Makes `directory` a save from before the checksums (with `changes` to its manifest)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest.pop("files", None)
    manifest.pop("sha256", None)
    (directory / MANIFEST).write_text(json.dumps({**manifest, **changes}))


def test_an_earlier_save_without_checksums_is_replaced_whole(
    saved: Path, students, tokenizer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(saved, out)
    _strip_checksums(out)
    (out / "extra").mkdir()  # a directory is never a save's
    with pytest.raises(FileExistsError, match=r"\(extra\)"):
        check_target(out)
    (out / "extra").rmdir()
    save(students[1], tokenizer, out)
    assert _weights_digest(out) != _weights_digest(saved)


# -- defect 6: interrupts ------------------------------------------------------------------------------------


def _interrupting(monkeypatch, at: int) -> list[int]:
    """Sends this process a SIGINT at moment number `at` from now on, where the moments are
    just before and just after each file-system call (a directory made, a file or directory
    renamed or deleted); returns the count of moments passed."""
    moments = [0]

    def moment() -> None:
        moments[0] += 1
        if moments[0] == at + 1:
            signal.raise_signal(signal.SIGINT)

    def wrap(real):
        def call(*args, **kwargs):
            moment()
            try:
                return real(*args, **kwargs)
            finally:
                moment()

        return call

    for module, name in [(os, "mkdir"), (os, "rename"), (os, "rmdir"), (os, "unlink"), (shutil, "rmtree")]:
        monkeypatch.setattr(module, name, wrap(getattr(module, name)))
    return moments


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="signal.raise_signal is Python 3.8+")
def test_an_interrupt_at_any_step_leaves_one_whole_save_and_no_debris(
    saved: Path, students, tokenizer, tmp_path: Path, monkeypatch
) -> None:
    """Ctrl-C during `save` could leave a hidden `.NAME.old.XXXX` directory, and raised
    KeyboardInterrupt after the new save had completed. An interrupt is sent just before and
    just after each file-system step of a save over an earlier one, in turn: afterwards the
    directory holds the earlier save (KeyboardInterrupt) or the new one (no exception, or a
    KeyboardInterrupt saying it was saved), every file verified, and nothing else is left."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    out = tmp_path / "out"
    old = _weights_digest(saved)
    outcomes = []
    for at in range(1000):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(saved, out)
        interrupted = None
        with monkeypatch.context() as patch:
            moments = _interrupting(patch, at)
            try:
                save(students[1], tokenizer, out)
            except KeyboardInterrupt as e:
                interrupted = str(e)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], f"debris after a SIGINT at step {at}"
        load(out)  # every file verified
        now = "old" if _weights_digest(out) == old else "new"
        if interrupted is None:
            assert now == "new", f"step {at}"
        else:
            assert now == ("new" if "saved" in interrupted else "old"), (at, interrupted)
        outcomes.append(now if interrupted is None else f"{now}, interrupted")
        if moments[0] <= at:  # the save passed fewer moments: no interrupt was sent
            break
    assert outcomes[-1] == "new", outcomes
    assert {"old, interrupted", "new, interrupted"} <= set(outcomes), outcomes


# -- defect 10: what load checks -------------------------------------------------------------------------


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _flip_a_weight_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))


TAMPERING = {
    "a missing manifest key": (
        lambda d: _edit_json(d / MANIFEST, lambda m: m.pop("vocab_size")),
        ValueError,
        r"lacks the key 'vocab_size'",
    ),
    "a manifest key of the wrong type": (
        lambda d: _edit_json(d / MANIFEST, lambda m: m.update(vocab_size="30522")),
        ValueError,
        r"vocab_size must be int, not '30522'",
    ),
    "the embedder's seed edited": (
        lambda d: _edit_json(d / MANIFEST, lambda m: m["embedder"].update(seed=m["embedder"]["seed"] + 1)),
        ValueError,
        r"hashembed\.json: was changed after the save",
    ),
    "tokenizer.json deleted": (
        lambda d: (d / "tokenizer.json").unlink(),
        FileNotFoundError,
        r"lacks tokenizer\.json, a file of the save",
    ),
    "a vocabulary string changed": (
        lambda d: (d / "tokenizer.json").write_text(
            (d / "tokenizer.json").read_text().replace('"the":', '"teh":')
        ),
        ValueError,
        r"tokenizer\.json: was changed after the save",
    ),
    "a weight byte flipped": (
        lambda d: _flip_a_weight_byte(d / WEIGHTS),
        ValueError,
        r"model\.safetensors: was changed after the save",
    ),
    "a listed file outside the save": (
        lambda d: _edit_json(d / MANIFEST, lambda m: m["files"].update({"../x": "0"})),
        ValueError,
        r"lists '\.\./x', which is not a file of the save",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_load_names_what_differs_from_the_save(case: str, saved: Path, tmp_path: Path) -> None:
    """A missing key was a bare KeyError; a deleted tokenizer.json was "the
    tokenizer has 5 tokens"; an edited seed, vocabulary or weight loaded with other output."""
    tamper, error, message = TAMPERING[case]
    out = tmp_path / "m"
    shutil.copytree(saved, out)
    tamper(out)
    with pytest.raises(error, match=message) as info:
        load(out)
    if error is ValueError:  # a file of the save, so the directory given to load
        assert isinstance(info.value, ParameterError)
        assert (info.value.parameter, info.value.value, info.value.index) == ("directory", out, None)


@pytest.mark.parametrize(
    "name", ["pipeline", "RobertaModel", "BertConfig", "NoSuchModel", "AutoModel", "PreTrainedModel"]
)
def test_only_a_model_class_of_the_saved_configuration_loads(name: str, saved: Path, tmp_path: Path) -> None:
    """`model_class` could name any transformers callable (`pipeline` was called;
    `RobertaModel` loaded BERT weights and gave other output). An earlier save's manifest
    (no checksums) is the one a user could change unnoticed."""
    out = tmp_path / "m"
    shutil.copytree(saved, out)
    _strip_checksums(out, model_class=name)
    message = (
        rf"model_class '{name}' is not a transformers model class for the saved configuration "
        r"\(BertConfig\); expected one such as BertModel"
    )
    with (
        pytest.warns(UserWarning, match="saved without checksums"),
        pytest.raises(ValueError, match=message) as info,
    ):
        load(out)
    assert isinstance(info.value, ParameterError)
    assert (info.value.parameter, info.value.value) == ("directory", out)


def test_an_earlier_save_without_checksums_loads_with_a_warning(
    saved: Path, students, tokenizer, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    shutil.copytree(saved, out)
    _strip_checksums(out)
    with pytest.warns(UserWarning, match=r"saved without checksums \(hashembed .*\).*save it again"):
        model, tok = load(out)
    assert torch.equal(_outputs(model, tok), _outputs(students[0], tokenizer))


def test_a_save_records_the_checksum_of_every_file(saved: Path) -> None:
    manifest = json.loads((saved / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(p.name for p in saved.iterdir() if p.name != MANIFEST)
    assert all(re.fullmatch("[0-9a-f]{64}", v) for v in [*manifest["files"].values(), manifest["sha256"]])


# -- files beside a manifest without a file list -------------------------------------------------


def _sealed(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with its own checksum recomputed, as a save would have written it."""
    rest = {k: v for k, v in manifest.items() if k != "sha256"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"))
    return {**rest, "sha256": hashlib.sha256(text.encode()).hexdigest()}


def _as_released(directory: Path) -> None:
    """Makes the save in `directory` the layout hashembed 0.1.0 wrote: its manifest without
    the checksums and the later keys, and the tokenizer files transformers 4 wrote besides."""
    _strip_checksums(directory)
    _edit_json(directory / MANIFEST, lambda m: m.pop("output_projection"))
    shutil.copy(minilm_dir() / "vocab.txt", directory / "vocab.txt")
    (directory / "special_tokens_map.json").write_text('{"unk_token": "[UNK]"}')


def _copy_without_files_list(saved: Path, directory: Path) -> None:
    shutil.copytree(saved, directory, dirs_exist_ok=True)
    _edit_json(directory / MANIFEST, lambda m: m.pop("files"))


def _copy_as_released(saved: Path, directory: Path) -> None:
    shutil.copytree(saved, directory, dirs_exist_ok=True)
    _as_released(directory)


# What each case puts in the directory, given the earlier save
FOREIGN_MANIFESTS = {
    "a foreign hashembed.json": lambda saved, d: (d / MANIFEST).write_text('{"dim": 64}\n'),
    "a broken hashembed.json": lambda saved, d: (d / MANIFEST).write_text('{"format": "hashembed-mo'),
    "a save of hashembed 0.1.0": _copy_as_released,
    "a save whose files list was lost": _copy_without_files_list,
}


@pytest.mark.parametrize("case", list(FOREIGN_MANIFESTS))
def test_files_beside_a_manifest_without_a_file_list_are_never_deleted(
    case: str, saved: Path, students, tokenizer, model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Saving over a directory whose hashembed.json has no `files` list (a save of 0.1.0, a
    broken or a foreign hashembed.json) deleted every other file there: the library took such
    a save to hold every file of its directory."""
    out = tmp_path / "projdir"
    out.mkdir()
    FOREIGN_MANIFESTS[case](saved, out)
    (out / "train.py").write_text("x\n")
    (out / "results.csv").write_text("y\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(
        FileExistsError,
        match=r"\(([^()]+, )?results\.csv, ([^()]+, )?train\.py\)[^()]*: move them out, or save to",
    ) as info:
        check_target(out)
    assert str(info.value).startswith(f"{out}: ")
    with pytest.raises(FileExistsError, match=re.escape(str(out))):
        save(students[1], tokenizer, out)

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the target was checked")

    monkeypatch.setattr(importlib.import_module("hashembed.torch.shrink"), "shrink", no_training)
    assert main(_shrink_args(model_dir, tmp_path, out)) == 2
    line = _one_line(capsys)
    assert "results.csv" in line and "train.py" in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["projdir", "train.txt"]


def test_a_save_of_hashembed_0_1_0_is_replaced_whole(
    saved: Path, students, tokenizer, tmp_path: Path
) -> None:
    """What the 0.1.0 layout does hold (its tokenizer's files, without checksums) is the save's,
    so saving over it replaces it."""
    out = tmp_path / "out"
    shutil.copytree(saved, out)
    _as_released(out)
    save(students[1], tokenizer, out)
    assert _weights_digest(out) != _weights_digest(saved)
    assert sorted(tmp_path.iterdir()) == [out]


def test_a_file_changed_since_the_earlier_save_is_not_deleted(
    saved: Path, students, tokenizer, tmp_path: Path
) -> None:
    """A file the manifest lists is the save's only while it is as saved: an edited one is
    the user's work."""
    out = tmp_path / "out"
    shutil.copytree(saved, out)
    (out / "config.json").write_text((out / "config.json").read_text().replace("}", ', "note": 1}', 1))
    with pytest.raises(FileExistsError, match=r"holds files changed since the earlier save \(config\.json\)"):
        save(students[1], tokenizer, out)
    assert '"note": 1' in (out / "config.json").read_text()


# -- saves to one directory at once --------------------------------------------------------------


def _tiny_model() -> tuple[Any, Any]:
    """A model and tokenizer whose save is a few kilobytes, so that saves are mostly renames."""
    import tokenizers
    import transformers

    vocab = {"[UNK]": 0, "[PAD]": 1, "a": 2, "b": 3}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    config = transformers.BertConfig(
        vocab_size=4, hidden_size=4, num_hidden_layers=1, num_attention_heads=1, intermediate_size=4,
        max_position_embeddings=8,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    replace_input_embeddings(model, tok, hashembed.HashEmbedder.preset("robust", dim=8), out_dim=4)
    return model, tok


def _save_repeatedly(model: Any, tok: Any, target: Path, saves: int, start: Any, errors: Path) -> None:
    """One process of the test below: once all have started, `saves` saves to `target`; the
    failures' messages go to `errors`."""
    rename = os.rename

    def slow_rename(*args: Any) -> None:
        rename(*args)
        time.sleep(0.005)

    # A real save's renames are microseconds apart; a pause after each widens the moments in
    # which another save can meet the directory half-replaced. This process is a fork: the
    # test's own os.rename is untouched.
    os.rename = slow_rename
    start.wait(timeout=60)
    failures = []
    for _ in range(saves):
        try:
            save(model, tok, target)
        except Exception as e:
            failures.append(f"{type(e).__name__}: {e}")
    errors.write_text("\n".join(failures))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks the test process")
def test_saves_to_one_directory_at_once_are_serialised(tmp_path: Path) -> None:
    """Two processes saving to one directory at once failed with raw errors (a vanished
    `.NAME.XXXX.old/dir`, "Directory not empty") or a false "is not writable": in 600
    saves, 9, and left hidden directories. Here 3 processes save 15 times each to one
    directory, all at once: every save succeeds, and one whole save is left, nothing else."""
    model, tok = _tiny_model()
    out = tmp_path / "work" / "out"
    out.parent.mkdir()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(3)
    errors = [tmp_path / f"errors{i}" for i in range(3)]
    procs = [
        context.Process(target=_save_repeatedly, args=(model, tok, out, 15, start, errors[i]))
        for i in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    assert [e.read_text() for e in errors] == ["", "", ""]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"], "no hidden debris"
    load(out)  # one whole save, every file verified


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_save_waiting_too_long_for_another_says_so(
    saved: Path, students, tokenizer, tmp_path: Path, monkeypatch
) -> None:
    """A save that cannot take the lock in LOCK_WAIT_SECONDS (the other one stopped with
    Ctrl-Z, say) says so, and leaves the earlier save as it was."""
    import fcntl

    from hashembed.torch import saving

    out = tmp_path / "out"
    shutil.copytree(saved, out)
    monkeypatch.setattr(saving, "LOCK_WAIT_SECONDS", 0.2)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what another save holds while it writes
        message = (
            rf"cannot save to {re.escape(str(out))}: another save in {re.escape(str(tmp_path))} has not ended"
        )
        with pytest.raises(TimeoutError, match=message):
            check_target(out)
        with pytest.raises(TimeoutError, match=message):
            save(students[1], tokenizer, out)
    finally:
        os.close(fd)
    assert _weights_digest(out) == _weights_digest(saved)
    assert sorted(tmp_path.iterdir()) == [out]


def test_a_file_added_while_the_save_is_written_is_not_deleted(
    saved: Path, students, tokenizer, tmp_path: Path, monkeypatch
) -> None:
    """Saves wait for each other, other programs do not: a file put in the directory after
    the check is found when the earlier save is moved aside, and the save refused."""
    import transformers.configuration_utils as cu

    out = tmp_path / "out"
    shutil.copytree(saved, out)
    real = cu.PretrainedConfig.save_pretrained

    def meanwhile(self, *args, **kwargs):
        (out / "NOTES.md").write_text("written during the save")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cu.PretrainedConfig, "save_pretrained", meanwhile)
    with pytest.raises(
        FileExistsError, match=r"files were added to it while the save was written \(NOTES\.md\)"
    ):
        save(students[1], tokenizer, out)
    assert (out / "NOTES.md").read_text() == "written during the save"
    assert _weights_digest(out) == _weights_digest(saved)
    assert sorted(tmp_path.iterdir()) == [out]


# -- what load checks, continued -----------------------------------------------------------------


def _reseal(directory: Path, change) -> None:
    """Changes the manifest in `directory` and records its checksum anew: a manifest written
    by another tool, or by hand with care."""
    _edit_json(directory / MANIFEST, change)
    (directory / MANIFEST).write_text(json.dumps(_sealed(json.loads((directory / MANIFEST).read_text()))))


def _unlist(*names: str):
    def change(manifest: dict[str, Any]) -> None:
        for name in names:
            del manifest["files"][name]

    return change


@pytest.mark.parametrize(
    "change, missing",
    [
        (
            lambda m: m.update(files={}),
            "config.json, model.safetensors, tokenizer.json, tokenizer_config.json",
        ),
        (_unlist("tokenizer.json"), "tokenizer.json"),
        (_unlist("model.safetensors", "tokenizer_config.json"), "model.safetensors, tokenizer_config.json"),
    ],
    ids=["no files", "no tokenizer.json", "no weights nor tokenizer_config.json"],
)
def test_a_files_list_must_name_every_file_of_the_save(
    change, missing: str, saved: Path, tmp_path: Path
) -> None:
    """A manifest with `"files": {}` loaded with nothing verified, a partial list with the
    files it left out unverified."""
    out = tmp_path / "m"
    shutil.copytree(saved, out)
    _reseal(out, change)
    with pytest.raises(ValueError, match=rf"does not list {re.escape(missing)}, ") as info:
        load(out)
    assert isinstance(info.value, ParameterError) and info.value.parameter == "directory"


def test_load_of_a_file_says_it_is_a_file(saved: Path, tmp_path: Path) -> None:
    """It said "no such directory"."""
    with pytest.raises(NotADirectoryError, match=rf"{re.escape(str(saved / WEIGHTS))}: is a file, not"):
        load(saved / WEIGHTS)


@pytest.mark.parametrize("name", ["BertForMaskedLM", "BertForSequenceClassification"])
def test_a_model_class_whose_weights_differ_from_the_saved_ones_is_named(
    name: str, saved: Path, tmp_path: Path
) -> None:
    """A model class of the saved configuration passed the check and failed later in torch's
    load_state_dict ("Error(s) in loading state_dict for BertForMaskedLM")."""
    out = tmp_path / "m"
    shutil.copytree(saved, out)
    _reseal(out, lambda m: m.update(model_class=name))
    with pytest.raises(ValueError, match=rf"model_class '{name}' does not fit the saved weights") as info:
        load(out)
    assert isinstance(info.value, ParameterError) and info.value.parameter == "directory"


def test_a_model_with_a_head_saves_and_loads(teacher, tokenizer, tmp_path: Path) -> None:
    """The check of model_class against the weights refuses a class other than the saved
    one, not a model with a head."""
    import transformers

    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(teacher.config).eval()
    replace_input_embeddings(model, tokenizer, SMALL, out_dim=16)
    loaded, _ = load(save(model, tokenizer, tmp_path / "mlm"))
    assert type(loaded) is transformers.BertForMaskedLM
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, model(**batch).logits)
