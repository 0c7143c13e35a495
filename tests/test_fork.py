"""Worker processes: after the parent has run batches on its thread pools, children made with
fork (which inherit the pool objects but not their threads: src/pool.rs remakes the pools
per process id), spawn and forkserver embed without hanging, and agree with the parent."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading

import numpy as np
import pytest
from hashembed import HashEmbedder
from support import assert_same_bits

# Python 3.12+ warns when a process with threads (rayon's here) forks; the point is that it works.
pytestmark = pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")

TEXTS = [f"text {i} " + "abc\u00e9\U0001f600" * (i % 7) for i in range(3000)] + ["x" * 70_000]


def embed_in_child(job: tuple[int, int | None]) -> tuple[int, np.ndarray]:
    start, threads = job
    e = HashEmbedder(64)
    return os.getpid(), e.embed_batch(TEXTS[start : start + 1000] + TEXTS[-1:], num_threads=threads)


def parent_results() -> list[np.ndarray]:
    e = HashEmbedder(64)
    for threads in (None, 1, 2, 3):  # every pool size the children will use, running in the parent
        e.embed_batch(TEXTS, num_threads=threads)
    return [e.embed_batch(TEXTS[s : s + 1000] + TEXTS[-1:]) for s in (0, 1000, 2000)]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_children_embed_like_the_parent(method):
    want = parent_results()
    jobs = [(0, None), (1000, 1), (2000, 2), (0, 3), (1000, None), (2000, 2)]
    with mp.get_context(method).Pool(3) as pool:
        results = pool.map_async(embed_in_child, jobs).get(timeout=120)
    assert {pid for pid, _ in results}.isdisjoint({os.getpid()})
    for (start, _), (_, got) in zip(jobs, results):
        assert_same_bits(got, want[start // 1000], f"{method} child, texts from {start}")


def test_fork_while_another_thread_is_embedding():
    """The parent forks while one of its threads is in the middle of a batch: the child's own
    batches still run (on pools of its own), and the parent's batch finishes correctly."""
    e = HashEmbedder(64)
    want = e.embed_batch(TEXTS)
    box: dict = {}
    busy = threading.Thread(target=lambda: box.setdefault("out", e.embed_batch(TEXTS * 3)))
    busy.start()
    try:
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            results = pool.map_async(embed_in_child, [(0, None), (1000, 2)]).get(timeout=120)
    finally:
        busy.join(timeout=120)
    assert not busy.is_alive()
    assert_same_bits(box["out"][: len(TEXTS)], want)
    assert_same_bits(results[0][1], parent_results()[0])
