"""Metrics 1 and 3: typo robustness (AUC, recall@k) and separation of unrelated tokens from
tokens sharing an affix; and the paired difference of two methods' recalls."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .methods import Method

GROUPS = ("random", "disjoint", "prefix", "suffix")
GROUP_LABELS = {
    "random": "random pair",
    "disjoint": "no shared character",
    "prefix": "shared prefix (3)",
    "suffix": "shared suffix (3)",
}
AFFIX_LEN = 3


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


def rowwise_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", normalize(a), normalize(b))


def neighbour_ranks(
    queries: np.ndarray, keys: np.ndarray, targets: np.ndarray, chunk: int = 2048
) -> np.ndarray:
    """For each query row i, how many keys other than keys[targets[i]] score at least as high
    by cosine (ties count against the target). 0 means the target is the nearest neighbour."""
    q, k = normalize(queries), normalize(keys)
    ranks = np.empty(len(q), dtype=np.int64)
    for i0 in range(0, len(q), chunk):
        scores = q[i0 : i0 + chunk] @ k.T
        rows = np.arange(len(scores))
        true = scores[rows, targets[i0 : i0 + chunk]]
        ranks[i0 : i0 + chunk] = (scores >= true[:, None]).sum(axis=1) - 1
    return ranks


def typo_robustness(
    method: Method,
    words: Sequence[str],
    typos: Sequence[str],
    negatives: np.ndarray | None = None,
    ks: Sequence[int] = (1, 10),
) -> dict[str, Any]:
    """AUC of cos(word, typo) against cos(word, unrelated word), and recall@k of each word among
    all `words` by nearest neighbour from its typo.

    `negatives[i]` is the index of the unrelated word paired with word i (a seeded random other
    word when not given). Returns the summary numbers and the per-word hit arrays.
    """
    from sklearn.metrics import roc_auc_score

    n = len(words)
    if negatives is None:
        rng = np.random.default_rng(0)
        negatives = (np.arange(n) + rng.integers(1, n, size=n)) % n
    emb_words = method(words)
    emb_typos = method(typos)
    positive = rowwise_cos(emb_words, emb_typos)
    negative = rowwise_cos(emb_words, emb_words[negatives])
    labels = np.r_[np.ones(n), np.zeros(n)]
    auc = float(roc_auc_score(labels, np.r_[positive, negative]))
    ranks = neighbour_ranks(emb_typos, emb_words, np.arange(n))
    result: dict[str, Any] = {
        "auc": auc,
        "cos_typo": float(positive.mean()),
        "cos_unrelated": float(negative.mean()),
        "n": n,
    }
    for k in ks:
        hits = ranks < k
        result[f"recall@{k}"] = float(hits.mean())
        result[f"hits@{k}"] = hits
    return result


def paired_gain(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], k: int = 1) -> tuple[float, float]:
    """recall@k of a minus that of b on the same typos (pooled over the given results, one per
    dataset, each word weighing the same), with the half-width of its 95% interval."""
    d = np.concatenate(
        [x[f"hits@{k}"].astype(np.float64) - y[f"hits@{k}"].astype(np.float64) for x, y in zip(a, b)]
    )
    return float(d.mean()), float(1.96 * d.std(ddof=1) / np.sqrt(len(d)))


def sample_pairs(
    words: Sequence[str], n_pairs: int, seed: int, affix_len: int = AFFIX_LEN
) -> dict[str, np.ndarray]:
    """Index pairs (m, 2) of distinct words for each group of GROUPS.

    random: uniform pairs. disjoint: uniform pairs with no character in common (rejection
    sampling, so possibly fewer). prefix / suffix: a word drawn uniformly among those that share
    their first / last `affix_len` characters with another word, and one such partner.
    """
    rng = np.random.default_rng(seed)
    n = len(words)
    first = rng.integers(0, n, size=n_pairs)
    pairs = {"random": np.stack([first, (first + rng.integers(1, n, size=n_pairs)) % n], axis=1)}

    charsets = [frozenset(w) for w in words]
    found: list[tuple[int, int]] = []
    for _ in range(50):
        a = rng.integers(0, n, size=4 * n_pairs)
        b = rng.integers(0, n, size=4 * n_pairs)
        found += [
            (i, j) for i, j in zip(a.tolist(), b.tolist()) if i != j and charsets[i].isdisjoint(charsets[j])
        ]
        if len(found) >= n_pairs:
            break
    pairs["disjoint"] = np.array(found[:n_pairs], dtype=np.int64).reshape(-1, 2)

    for group, cut in (("prefix", lambda w: w[:affix_len]), ("suffix", lambda w: w[-affix_len:])):
        members: dict[str, list[int]] = defaultdict(list)
        for i, w in enumerate(words):
            if len(w) >= affix_len:
                members[cut(w)].append(i)
        eligible = [(i, m) for m in members.values() if len(m) > 1 for i in m]
        if not eligible:
            pairs[group] = np.zeros((0, 2), dtype=np.int64)
            continue
        picks = rng.integers(0, len(eligible), size=n_pairs)
        out = np.empty((n_pairs, 2), dtype=np.int64)
        for row, p in enumerate(picks.tolist()):
            i, m = eligible[p]
            j = i
            while j == i:
                j = m[rng.integers(0, len(m))]
            out[row] = i, j
        pairs[group] = out
    return pairs


def separation(method: Method, words: Sequence[str], pairs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Cosines of each pair group (`cos[group]`), their mean and std, and `affix_auc`: the AUC of
    shared-affix pairs (prefix and suffix) against random pairs."""
    from sklearn.metrics import roc_auc_score

    emb = normalize(method(words))
    cos = {
        g: np.einsum("ij,ij->i", emb[p[:, 0]], emb[p[:, 1]]) if len(p) else np.zeros(0)
        for g, p in pairs.items()
    }
    result: dict[str, Any] = {"cos": cos}
    for g, c in cos.items():
        result[f"{g}_mean"] = float(c.mean()) if len(c) else float("nan")
        result[f"{g}_std"] = float(c.std()) if len(c) else float("nan")
        result[f"{g}_n"] = len(c)
    affix = np.r_[cos.get("prefix", []), cos.get("suffix", [])]
    if len(affix) and len(cos["random"]):
        labels = np.r_[np.ones(len(affix)), np.zeros(len(cos["random"]))]
        result["affix_auc"] = float(roc_auc_score(labels, np.r_[affix, cos["random"]]))
    else:
        result["affix_auc"] = float("nan")
    return result
