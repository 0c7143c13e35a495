"""Input (e) of compare.py: the batches a training loop embeds.

Each batch is `tok.encode_batch(lines)` of consecutive lines, padded to the batch's longest
line and cut at MAX_LENGTH tokens, as a data loader with dynamic padding hands them to a
model. `workload` gives, for one batch size, each method as one pass over every batch (all
different, each once, as a training loop sees them), after checking that all of them give
the same rows; and, beside them, the lazy cache given the first batch over and over, which
keeps its rows and ids in the CPU's caches. Timing is left to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hashembed
import numpy as np

BATCH_SIZES = (8, 32, 128)  # lines per batch
MAX_LENGTH = 128
DIM = 384  # the width of all-MiniLM-L6-v2, whose tokenizer this is

ENCODE = "HF tokenizers encode_batch (the lines)"
STRINGS = "HashEmbedder.embed_encodings (the strings)"
ENCODINGS_LAZY = 'VocabEmbedder.embed_encodings, cache="lazy"'
TAKE = "lookup table: np.take(table, ids, axis=0)"
REPEATED = 'VocabEmbedder.embed_ids, cache="lazy", one batch repeated'


def ids_method(cache: str) -> str:
    return f'VocabEmbedder.embed_ids, cache="{cache}"'


@dataclass
class Method:
    name: str
    run: Callable[[], None]  # one pass over every batch
    note: str = ""
    positions: int | None = None  # padded positions of a pass, where not the workload's


@dataclass
class Workload:
    size: int  # lines per batch
    batches: int
    positions: int  # padded positions, over all batches
    methods: list[Method]
    checks: list[str]


def padded_tokenizer(path: Path) -> Any:
    """The tokenizer of `path` padding each batch to its longest encoding (the file's own
    setting pads every line to 128, which few training loops do)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    pad = "[PAD]"
    tok.enable_padding(pad_id=tok.token_to_id(pad), pad_token=pad)
    tok.enable_truncation(MAX_LENGTH)
    return tok


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def workload(tok: Any, lines: Sequence[str], size: int, count: int) -> Workload:
    batches = [list(lines[i * size : (i + 1) * size]) for i in range(count)]
    assert len(batches[-1]) == size, f"{count} batches of {size} lines need more than {len(lines):,} lines"
    e = hashembed.HashEmbedder(DIM)
    bound = {cache: e.bind(tok, cache=cache) for cache in ("none", "lazy", "full")}
    table = e.embed_vocab(tok)
    encs = [tok.encode_batch(b) for b in batches]
    # What a loop's collate step hands over (return_tensors="np" gives int64 too).
    ids = [np.array([x.ids for x in enc], dtype=np.int64) for enc in encs]
    masks = [np.array([x.attention_mask for x in enc], dtype=np.int64) for enc in encs]

    for enc, i, m in zip(encs, ids, masks):
        want, mask = e.embed_encodings(enc)
        assert np.array_equal(mask, m.astype(bool)), "embed_encodings: mask differs from the tokenizer's"
        assert not want[~mask].any(), "embed_encodings: padding positions are not zero"
        got, got_mask = bound["lazy"].embed_encodings(enc)
        assert _same_bits(got, want) and np.array_equal(got_mask, mask), f"{ENCODINGS_LAZY} differs"
        for cache, b in bound.items():
            assert _same_bits(b.embed_ids(i, attention_mask=m), want), f"{ids_method(cache)} differs"
        assert _same_bits(np.take(table, i, axis=0)[mask], want[mask]), f"{TAKE} differs"
    positions = sum(i.size for i in ids)
    checks = [
        f"(e) {size} lines: embed_encodings of the strings, VocabEmbedder.embed_encodings and embed_ids "
        f"with each cache bit-identical on {count} batches ({positions:,} padded positions); "
        "np.take of embed_vocab's table the same at the unmasked positions"
    ]

    def each(fn: Callable[[int], Any]) -> Callable[[], None]:
        # A loop drops each batch's output before the next, so memory is reused as there.
        def run() -> None:
            for k in range(count):
                fn(k)

        return run

    lazy, none, full = bound["lazy"], bound["none"], bound["full"]
    methods = [
        Method(ENCODE, each(lambda k: tok.encode_batch(batches[k])), "tokenizing the lines; all cores"),
        Method(STRINGS, each(lambda k: e.embed_encodings(encs[k]))),
        Method(ENCODINGS_LAZY, each(lambda k: lazy.embed_encodings(encs[k])), "warm cache; from the ids"),
        Method(ids_method("none"), each(lambda k: none.embed_ids(ids[k], attention_mask=masks[k]))),
        Method(
            ids_method("lazy"), each(lambda k: lazy.embed_ids(ids[k], attention_mask=masks[k])), "warm cache"
        ),
        Method(ids_method("full"), each(lambda k: full.embed_ids(ids[k], attention_mask=masks[k]))),
        Method(
            REPEATED,
            each(lambda k: lazy.embed_ids(ids[0], attention_mask=masks[0])),
            f"batch 0 {count} times: not what a loop sees",
            count * ids[0].size,
        ),
        Method(
            TAKE,
            each(lambda k: np.take(table, ids[k], axis=0)),
            f"({table.shape[0]}, {DIM}) float32 table: the floor",
        ),
    ]
    return Workload(size, count, positions, methods, checks)
