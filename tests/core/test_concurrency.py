"""Concurrency beyond tests/core/test_threads.py (8 threads of embed/embed_batch on one embedder,
equal to sequential runs): every other entry point running at once, thread pools of new sizes
made by several threads at the same moment, and two threads handed the same `out`."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest
from hashembed import HashEmbedder
from support import assert_same_bits

pa = pytest.importorskip("pyarrow")


def run_together(jobs, repeats=3, timeout=120):
    """Runs each job `repeats` times in its own thread, all released at once."""
    barrier = threading.Barrier(len(jobs))
    results: list = [[] for _ in jobs]
    errors: list = []

    def work(i):
        try:
            barrier.wait()
            for _ in range(repeats):
                results[i].append(jobs[i]())
        except BaseException as err:
            errors.append((i, err))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert not errors, errors
    return results


def test_every_entry_point_at_once_matches_sequential_runs():
    e = HashEmbedder(96, max_ngram=4)
    other = HashEmbedder(40, layout="equal", seed=7)
    rng = random.Random(11)
    alphabet = "abcdefgh \u00e9\u05e9\U0001f600\ud800"

    def text(n):
        return "".join(rng.choices(alphabet, k=n))

    texts = [text(rng.choice([0, 1, 5, 30, 300])) for _ in range(2000)] + [text(5000)]
    tokens = [[text(rng.choice([1, 3, 8])) for _ in range(rng.randrange(0, 40))] for _ in range(50)]
    valid = [t.replace("\ud800", "?") for t in texts[:1500]]  # Arrow holds UTF-8: no lone surrogates
    arrow = pa.array([t if i % 9 else None for i, t in enumerate(valid)])
    utf8 = pa.array(valid, pa.large_string())
    _, offsets, data = utf8.buffers()
    offs = np.frombuffer(offsets, np.int64, count=1501).copy()
    data = np.frombuffer(data, np.uint8)[: offs[-1]]
    long_text = text(140_000)  # > 2 * 65536 windows: split into ranges of windows
    perm = np.random.default_rng(3).permutation(len(texts)).astype(np.int64)

    def rows_job(threads):
        def job():
            out = np.full((len(texts), e.dim), np.nan, np.float32)
            e._native.embed_batch_into(texts, out, threads, perm)
            return out

        return job

    def utf8_job():
        out = np.empty((1500, e.dim), np.float64)
        e._native.embed_utf8_into(data, offs, out, 7)
        return out

    jobs = [
        lambda: e.embed_tokens(tokens, num_threads=5)[0],
        lambda: e.embed_arrow(arrow, num_threads=6),
        lambda: e.embed(long_text),
        lambda: e.embed_batch(texts, dtype="float16", num_threads=9),
        rows_job(10),
        utf8_job,
        lambda: other.embed_batch(texts, num_threads=11),
        lambda: e.embed_vocab(texts[:500], num_threads=12),
    ]
    # Sequential results first; then the pools of sizes 5..12 are made concurrently below only
    # if no earlier test made them, so run the concurrent round on fresh sizes as well.
    want = [job() for job in jobs]
    fresh = [
        lambda: e.embed_batch(texts, num_threads=13),
        lambda: e.embed_batch(texts, num_threads=14),
        lambda: e.embed_batch(texts, num_threads=15),
        lambda: e.embed_batch(texts, num_threads=16),
    ]
    want_fresh = e.embed_batch(texts, num_threads=1)
    got = run_together(jobs + fresh)
    for i, results in enumerate(got[: len(jobs)]):
        for r in results:
            assert_same_bits(r, want[i], f"job {i}")
    for results in got[len(jobs) :]:
        for r in results:
            assert_same_bits(r, want_fresh, "fresh pool")


def test_two_threads_handed_the_same_out():
    """One `out` written by two calls at once would be a data race: a second call made while
    the first runs is refused with a clear ValueError, and the first call's output is intact."""
    e = HashEmbedder(256)
    texts = [f"{i:06d} some text to embed " * 4 for i in range(30_000)]
    want = e.embed_batch(texts)
    out = np.zeros_like(want)
    box: dict = {}
    started = threading.Event()

    def first():
        started.set()
        box["r"] = e.embed_batch(texts, out=out, num_threads=1)  # about a second

    thread = threading.Thread(target=first)
    thread.start()
    started.wait()
    time.sleep(0.2)  # the first call has long gathered its texts and holds `out` by now
    still_running = thread.is_alive()
    try:
        e.embed_batch(texts[:10] * 3000, out=out)
        second = "ran"
    except ValueError as err:
        assert "out is in use" in str(err)
        second = "refused"
    thread.join(timeout=60)
    assert box["r"] is out
    if still_running:
        assert second == "refused"
        assert_same_bits(out, want)
