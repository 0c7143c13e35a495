"""Streaming a large token stream to disk through `embed_batch(out=...)`, in chunks, with the
peak resident memory measured.

    .venv/bin/python benches/streaming.py                       # 50M tokens, dim 64 (12.8 GB)
    .venv/bin/python benches/streaming.py --tokens 2000000 --json

Tokens are drawn (Zipf-like, fixed seed) from a synthetic vocabulary of 200k words, a chunk at
a time, so the input is never all in memory either. Each chunk is embedded straight into the
file through `out=`:

- `--mode window` (default) maps one window of the file per chunk (np.memmap with an offset),
  flushes and unmaps it: resident memory stays at about one chunk of input and output.
- `--mode single` maps the whole file once and passes `out=mm[a:b]`: simpler, but every
  written page stays mapped, and Linux counts mapped file pages as resident (RssFile), so the
  peak RSS grows towards the file size until the kernel writes them back and reclaims them.

50M tokens at the default dim=768 would be 154 GB of float32 (77 GB as float16), more than
the disk here holds, hence dim=64 (12.8 GB). Memory use does not depend on dim beyond one
chunk's rows. Prints the peak RSS (VmHWM) and the RSS sampled after each chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from hashembed import HashEmbedder


def rss_mb() -> tuple[float, float, float]:
    """(VmRSS, RssAnon, RssFile) of this process in MB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields.get("RssAnon", 0.0), fields.get("RssFile", 0.0)


def peak_mb() -> float:
    """Peak RSS in MB: VmHWM, not ru_maxrss, which after fork + exec also counts the RSS the
    parent had (a pytest process, say)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def vocabulary(size: int, seed: int) -> np.ndarray:
    """`size` distinct words of 1 to 12 letters (some non-ASCII), as an object array."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzéüß"))
    grid = letters[rng.integers(0, len(letters), (size, 12))].view("<U12").ravel()
    cut = rng.integers(1, 13, size)
    return np.array(
        [f"{w[:n]}{i}" for i, (w, n) in enumerate(zip(grid.tolist(), cut.tolist()))], dtype=object
    )


def stream(args: argparse.Namespace) -> dict:
    e = HashEmbedder(args.dim)
    dt = np.dtype(args.dtype)
    vocab = vocabulary(args.vocab, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    row_bytes = args.dim * dt.itemsize
    with open(args.path, "wb") as f:
        f.truncate(args.tokens * row_bytes)
    single = np.memmap(args.path, dt, "r+", shape=(args.tokens, args.dim)) if args.mode == "single" else None
    start_rss, start_peak = rss_mb()[0], peak_mb()
    samples = []
    t0 = time.perf_counter()
    embed_seconds = 0.0
    done = 0
    while done < args.tokens:
        n = min(args.chunk, args.tokens - done)
        ids = np.minimum(rng.zipf(1.2, n) - 1, len(vocab) - 1)
        tokens = vocab[ids].tolist()
        if single is not None:
            out = single[done : done + n]
        else:
            out = np.memmap(args.path, dt, "r+", offset=done * row_bytes, shape=(n, args.dim))
        t = time.perf_counter()
        e.embed_batch(tokens, out=out, dtype=dt, num_threads=args.threads)
        embed_seconds += time.perf_counter() - t
        if single is None:
            out.flush()
            del out
        done += n
        samples.append(rss_mb())
    if single is not None:
        single.flush()
        del single
    seconds = time.perf_counter() - t0
    check = np.memmap(args.path, dt, "r", shape=(args.tokens, args.dim))
    probe = [0, args.tokens // 2, args.tokens - 1]
    rng = np.random.default_rng(args.seed + 1)
    first = vocab[min(rng.zipf(1.2, 1)[0] - 1, len(vocab) - 1)]
    assert np.array_equal(check[0], e.embed_batch([first], dtype=dt)[0]), "row 0 differs"
    assert np.isfinite(check[probe].astype(np.float64)).all()
    del check
    return {
        "tokens": args.tokens,
        "dim": args.dim,
        "dtype": dt.name,
        "mode": args.mode,
        "chunk": args.chunk,
        "output_gb": args.tokens * row_bytes / 1e9,
        "seconds": seconds,
        "embed_seconds": embed_seconds,
        "tokens_per_second": args.tokens / seconds,
        "rss_at_start_mb": start_rss,
        "peak_rss_mb": peak_mb(),
        "peak_rss_growth_mb": peak_mb() - start_peak,
        "max_sampled_rss_mb": max(s[0] for s in samples),
        "max_sampled_rss_anon_mb": max(s[1] for s in samples),
        "max_sampled_rss_file_mb": max(s[2] for s in samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=50_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "float64"])
    parser.add_argument("--chunk", type=int, default=1_000_000, help="tokens per embed_batch call")
    parser.add_argument("--vocab", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--mode", choices=["window", "single"], default="window")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path", help="output file (default: a temporary file, deleted at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the output file")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args()
    temporary = args.path is None
    if temporary:
        fd, args.path = tempfile.mkstemp(prefix="hashembed-stream-", suffix=".bin")
        os.close(fd)
    try:
        result = stream(args)
    finally:
        if temporary and not args.keep:
            os.unlink(args.path)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value:,.2f}" if isinstance(value, float) else f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
