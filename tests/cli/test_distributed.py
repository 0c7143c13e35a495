"""`torchrun --nproc_per_node=2 -m hashembed shrink ...`: two CPU processes (gloo) training
data-parallel against one process at the same global batch: the same steps, held-out
agreement within 0.01, one saved model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from _data import minilm_dir  # noqa: E402
from hashembed.torch import agreement, load, sentence_embeddings  # noqa: E402
from tiny_models import EVAL, TRAIN, seeded_bert  # noqa: E402


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    seeded_bert(2, 32, 64, 128).save_pretrained(root / "teacher")
    tokenizer.save_pretrained(root / "teacher")
    (root / "train.txt").write_text("\n".join(TRAIN) + "\n", encoding="utf-8")
    return root


def _shrink(root: Path, out: Path, launcher: list[str]) -> subprocess.CompletedProcess[str]:
    argv = [
        "shrink", str(root / "teacher"), "--texts", str(root / "train.txt"), "--steps", "12",
        "--batch-size", "8", "--max-length", "32", "--dim", "64", "--device", "cpu", "-q", "-o", str(out),
    ]  # fmt: skip
    return subprocess.run([*launcher, "-m", "hashembed", *argv], capture_output=True, text=True, timeout=600)


def test_two_processes_train_as_one_at_the_same_global_batch(teacher_dir: Path) -> None:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517"]
    two = _shrink(teacher_dir, teacher_dir / "two", torchrun)
    assert two.returncode == 0, two.stderr[-3000:]
    one = _shrink(teacher_dir, teacher_dir / "one", [sys.executable])
    assert one.returncode == 0, one.stderr[-3000:]
    # the first process alone reports and saves: one summary, one model
    assert two.stdout.count("trained 12 steps, 96 sentences") == 1, two.stdout
    assert one.stdout.count("trained 12 steps, 96 sentences") == 1, one.stdout
    teacher = transformers.AutoModel.from_pretrained(str(teacher_dir / "teacher"))
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(teacher_dir / "teacher"))
    targets = sentence_embeddings(teacher, tokenizer, EVAL, max_length=32)
    kept = {}
    for name in ("one", "two"):
        model, _ = load(teacher_dir / name)
        kept[name] = agreement(sentence_embeddings(model, tokenizer, EVAL, max_length=32), targets)[
            "mean_cosine"
        ]
    assert abs(kept["one"] - kept["two"]) < 0.01, kept
