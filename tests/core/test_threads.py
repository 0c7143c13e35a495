"""Threads: a batch runs without the GIL, and one embedder shared by many Python threads gives
the same results as sequential calls."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hashembed import HashEmbedder
from support import assert_same_bits


class Counter(threading.Thread):
    """Pure Python work that can only progress while it holds the GIL."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.running = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        self.running.set()
        while not self.stopped.is_set():
            self.count += 1

    def measure(self, work) -> tuple[int, float]:
        """Counts made while `work()` runs, and how long it ran."""
        self.start()
        self.running.wait()
        start_count, start = self.count, time.perf_counter()
        work()
        counted, elapsed = self.count - start_count, time.perf_counter() - start
        self.stopped.set()
        self.join()
        return counted, elapsed


def sleep_baseline(seconds: float) -> float:
    """The counter's rate while this thread sleeps (so holds no GIL) for `seconds`."""
    counted, elapsed = Counter().measure(lambda: time.sleep(seconds))
    return counted / elapsed


def test_embed_batch_releases_the_gil():
    """If the native code held the GIL, a Python thread would make almost no progress while
    it runs (a GIL-holding C call such as sorted() of a big list leaves the counter at about
    1% of its rate alone). Released, the counter keeps a large share of its rate: on a busy
    2-core machine about a third, since it shares the CPU with the embedding worker."""
    rng = random.Random(20240601)
    hexdigits = rng.randbytes(10 * 200_000).hex()
    texts = [hexdigits[i : i + 20] for i in range(0, len(hexdigits), 20)]
    assert len(texts) == 200_000 and len(set(texts)) == len(texts)  # no row is a cheap copy
    e = HashEmbedder()

    result = {}
    before = sleep_baseline(0.5)
    during, seconds = Counter().measure(lambda: result.setdefault("out", e.embed_batch(texts, num_threads=1)))
    after = sleep_baseline(0.5)

    rate_during, rate_alone = during / seconds, min(before, after)
    assert result["out"].shape == (200_000, 768)
    assert during > 10_000, f"the counter advanced only {during} times in {seconds:.2f} s of embedding"
    assert rate_during > 0.1 * rate_alone, (
        f"counter ran at {rate_during:,.0f}/s during embed_batch vs {rate_alone:,.0f}/s alone: "
        "the GIL was held while embedding"
    )
    rows = [0, 99_999, 199_999]
    assert_same_bits(result["out"][rows], np.stack([e.embed(texts[i]) for i in rows]))


def test_threads_sharing_one_embedder_match_sequential_runs():
    e = HashEmbedder(160, max_ngram=4)
    rng = random.Random(7)
    alphabet = "abcdefghij \u00e9\u05e9\U0001f600\ud800"

    def text() -> str:
        length = rng.choice([0, 1, 3, 20, 100, 5000])
        return "".join(rng.choices(alphabet, k=length))

    batches = [[text() for _ in range(300 + 50 * t)] + ["shared"] * 5 for t in range(8)]
    dtypes = ["float32", "float64", "float16", "float32", "float64", "float16", "float32", "float64"]
    threads_arg = [None, 1, 2, None, 1, 2, None, 3]
    want = [e.embed_batch(b, dtype=d) for b, d in zip(batches, dtypes)]
    want_single = [e.embed(b[0]) for b in batches]

    barrier = threading.Barrier(8)
    results: list = [None] * 8
    errors: list = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            got = []
            for rep in range(3):
                if rep == 1:
                    out = np.empty((len(batches[t]), e.dim), dtypes[t])
                    got.append(
                        e.embed_batch(batches[t], out=out, dtype=dtypes[t], num_threads=threads_arg[t])
                    )
                else:
                    got.append(e(batches[t], dtype=dtypes[t], num_threads=threads_arg[t]))
                got.append(e.embed(batches[t][0]))
            results[t] = got
        except BaseException as err:
            errors.append((t, err))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a thread did not finish"
    assert not errors, errors
    for t in range(8):
        batch_results, single_results = results[t][0::2], results[t][1::2]
        for got in batch_results:
            assert_same_bits(got, want[t], f"thread {t}")
        for got in single_results:
            assert_same_bits(got, want_single[t], f"thread {t} embed")


POOLS_OF_MANY_SIZES = """
import os, time
import hashembed

e = hashembed.HashEmbedder(16)
work = ["x" * 5000] + [f"w{i}" for i in range(2000)]  # enough work to go to a thread pool
before = len(os.listdir("/proc/self/task"))  # the main thread, and any numpy's BLAS started
bound = before + 64 + 4  # the largest recent pool, and a few threads more
for n in range(1, 65):
    e.embed_batch(work, num_threads=n)
deadline = time.monotonic() + 20  # evicted pools' threads exit on their own, soon after
while len(os.listdir("/proc/self/task")) > bound and time.monotonic() < deadline:
    time.sleep(0.05)
print(len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc/self/task")
def test_pools_of_many_sizes_do_not_keep_their_threads():
    """Every distinct num_threads kept its pool, and its threads, for the life of the process
    (40 sizes left 821 threads); then the last 4 pools were kept (64 sizes: 250 threads on 2
    cores). Now the kept pools hold at most 4 threads more than the largest of them."""
    result = subprocess.run(
        [sys.executable, "-c", POOLS_OF_MANY_SIZES], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    threads = int(result.stdout)
    assert threads <= 64 + 4, f"{threads} pool threads alive after pools of 64 sizes"
