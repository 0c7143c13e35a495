"""Worker processes: after the parent has run batches on its thread pools, children made with
fork (which inherit the pool objects but not their threads: src/pool.rs remakes the pools
per process id), spawn and forkserver embed without hanging, and agree with the parent."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
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


CHURN_WHILE_FORKING = """
import os, threading, time
import hashembed

e = hashembed.HashEmbedder(16)
work = ["x" * 5000] + [f"w{i}" for i in range(2000)]  # enough work to go to a thread pool
churning = threading.Event()

def churn():
    for n in range(2, 81):  # a new size every time, so a pool is being built most of the time
        e.embed_batch(work, num_threads=n)
        churning.set()

thread = threading.Thread(target=churn)
thread.start()
churning.wait()
children = []
while thread.is_alive() and len(children) < 64:
    pid = os.fork()
    if pid == 0:
        e.embed_batch(work, num_threads=3)
        os._exit(0)
    children.append(pid)
    time.sleep(0.002)
thread.join()
hung = 0
deadline = time.monotonic() + 30
for pid in children:
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            hung += 1
            break
        time.sleep(0.01)
print(len(children), hung)
"""


def test_fork_while_another_thread_builds_pools():
    """Defect 1: a fork while another thread held the pool lock left the child's copy locked,
    and the child's next batch waited for it forever (1 or 2 children in 3 hung)."""
    result = subprocess.run(
        [sys.executable, "-c", CHURN_WHILE_FORKING], capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr
    forked, hung = map(int, result.stdout.split())
    assert forked >= 1
    assert hung == 0, f"{hung} of {forked} forked children hung in their first batch"
