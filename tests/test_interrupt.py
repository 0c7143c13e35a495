"""Ctrl-C: SIGINT during a long native call raises KeyboardInterrupt within a second (the
caller polls for signals every 20 ms while the batch runs on a helper thread: src/python/run.rs),
and the embedder gives the same output afterwards. Measured in a subprocess, whose main thread
receives the signal, with the delay from os.kill to the exception."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, threading, time
    import numpy as np, hashembed

    e = hashembed.HashEmbedder()
    probe = ["warm", "up", "x" * 70_000]
    before = e.embed_batch(probe)

    def interrupted(call, after=0.5):
        sent = {}

        def fire():
            time.sleep(after)
            sent["t"] = time.perf_counter()
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Thread(target=fire)
        timer.start()
        start = time.perf_counter()
        try:
            call()
        except KeyboardInterrupt:
            caught = time.perf_counter()
        else:
            raise SystemExit(f"finished in {time.perf_counter() - start:.1f} s without an interrupt")
        timer.join()
        return caught - sent["t"]

    many = [f"{i:05d}" + "x" * 50_000 for i in range(2000)]  # 100M code points, distinct texts
    one = "the quick brown fox " * 1_000_000  # 20M code points in one text
    shorts = [f"w{i}" for i in range(3_000_000)]
    delays = {
        "embed_batch 2000 x 50k": interrupted(lambda: e.embed_batch(many)),
        "embed_batch 2000 x 50k, 1 thread": interrupted(lambda: e.embed_batch(many, num_threads=1)),
        "embed 20M chars": interrupted(lambda: e.embed(one)),
        "embed_batch 3M short": interrupted(lambda: e.embed_batch(shorts, dtype="float16"), after=0.8),
        "embed_tokens 2000 x 50k": interrupted(lambda: e.embed_tokens([many])),
    }
    after = e.embed_batch(probe)
    assert after.tobytes() == before.tobytes(), "output changed after an interrupt"
    small = e.embed_batch(many[:40])  # a long batch still runs to the end afterwards
    assert small.tobytes() == np.stack([e.embed(t) for t in many[:40]]).tobytes()
    print(json.dumps(delays))
    """
)


def test_sigint_interrupts_long_calls_within_a_second():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    delays = json.loads(result.stdout.splitlines()[-1])
    slow = {k: round(v, 3) for k, v in delays.items() if v >= 1.0}
    assert not slow, f"KeyboardInterrupt came late: {slow} (all: {delays})"
