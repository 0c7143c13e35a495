"""`python -m hashembed.demo`: embed real text that ships with every Python, the standard
library's own sources, and show the shape, the throughput and what similarity looks like."""

from __future__ import annotations

import re
import sysconfig
import time
from pathlib import Path

import numpy as np

import hashembed
from hashembed.cli.commands import cosine

__all__ = ["SAMPLE_BYTES", "main", "stdlib_sample"]

SAMPLE_BYTES = 4 << 20
WORD = re.compile(r"[A-Za-z_]+|\d+|[^\sA-Za-z_\d]")


def stdlib_sample(max_bytes: int = SAMPLE_BYTES, errors: str = "replace") -> str:
    """The first `max_bytes` of the standard library's top-level .py files, in name order,
    decoded from UTF-8 with `errors` (a character cut at the end is dropped with "ignore")."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chunks, size = [], 0
    for path in sorted(stdlib.glob("*.py")):
        data = path.read_bytes()
        chunks.append(data)
        size += len(data)
        if size >= max_bytes:
            break
    return b"".join(chunks)[:max_bytes].decode("utf-8", errors=errors)


def main() -> None:
    embedder = hashembed.HashEmbedder()
    print(f"hashembed {hashembed.__version__}: {embedder!r}")
    print(f"kernel {hashembed.get_kernel()}, {hashembed.default_threads()} threads")

    tokens = WORD.findall(stdlib_sample())
    print(f"sample: {len(tokens):,} tokens ({len(set(tokens)):,} distinct) from the standard library")
    out = np.empty((len(tokens), embedder.dim), dtype=np.float32)
    embedder.embed_batch(tokens, out=out)  # warm up: threads started, pages touched
    best = min(_timed(lambda: embedder.embed_batch(tokens, out=out)) for _ in range(3))
    print(f"embeddings: shape {out.shape}, dtype {out.dtype}")
    print(
        f"throughput: {len(tokens) / best / 1e6:.2f}M tokens/s ({out.nbytes / best / 1e9:.1f} GB/s of output)"
    )

    print("\ncosine similarity:")
    pairs = [
        ("embedding", "embeddings"),
        ("embedding", "embedded"),
        ("tokenizer", "tokenizers"),
        ("tokenizer", "tokeniser"),
        ("embedding", "tokenizer"),
        ("the cat sat on the mat", "the cat sat on a mat"),
        ("the cat sat on the mat", "stock prices fell sharply"),
    ]
    for a, b in pairs:
        print(f"  {cosine(embedder(a), embedder(b)):+.3f}  {a!r} ~ {b!r}")

    vocab = sorted(set(tokens))
    typos = ["recieve", "defualt", "lenght", "seperator", "intialize"]
    for name, emb in [("default", embedder), ('preset "robust"', hashembed.HashEmbedder.preset("robust"))]:
        table = emb.embed_batch(vocab)
        table /= np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
        print(f"\nnearest standard-library words to misspellings ({name}):")
        for typo in typos:
            q = emb(typo)
            scores = table @ (q / np.linalg.norm(q))
            top = [vocab[i] for i in np.argsort(-scores)[:3]]
            print(f"  {typo!r:14} -> {', '.join(top)}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
