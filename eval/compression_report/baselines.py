"""The two input layers a user would try instead of hash embeddings, each with about as many
parameters as the hash student's projection, and each started from its best closed-form fit
to the teacher's table (as the hash student starts from its ridge fit):

- `LowRankEmbedding`: a V x r table times an r x d matrix (ALBERT's factorised embedding),
  started from the rank-r truncated SVD of the teacher's table, weighted by token frequency;
- `HashedTableEmbedding`: K x d rows, token id i reading row hash(i) mod K (the hashing trick,
  one hash, as Bloom embeddings use several), each row started at the frequency-weighted mean
  of the teacher rows that share it.
"""

from __future__ import annotations

import torch
from torch import nn


class LowRankEmbedding(nn.Module):
    def __init__(self, table: torch.Tensor, rank: int, weights: torch.Tensor):
        super().__init__()
        t = table.detach().double()
        w = (weights.double() / weights.sum()).sqrt()[:, None]
        mean = (weights.double() / weights.sum()) @ t
        u, s, vh = torch.linalg.svd(w * (t - mean), full_matrices=False)
        # Row i of the weighted SVD is row i of the table scaled by w_i; undo it for the ids.
        self.rows = nn.Parameter((u[:, :rank] * s[:rank] / w).float())
        self.up = nn.Linear(rank, t.shape[1])
        with torch.no_grad():
            self.up.weight.copy_(vh[:rank].T.float())
            self.up.bias.copy_(mean.float())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.up(nn.functional.embedding(ids, self.rows))


def bucket_of(ids: torch.Tensor, buckets: int) -> torch.Tensor:
    """A multiplicative (Knuth) hash of each id into [0, buckets)."""
    return ((ids.long() * 2654435761) % (1 << 32)) % buckets


class HashedTableEmbedding(nn.Module):
    def __init__(self, table: torch.Tensor, buckets: int, weights: torch.Tensor):
        super().__init__()
        t = table.detach().double()
        b = bucket_of(torch.arange(len(t)), buckets)
        w = weights.double()
        sums = torch.zeros(buckets, t.shape[1], dtype=torch.float64).index_add_(0, b, t * w[:, None])
        mass = torch.zeros(buckets, dtype=torch.float64).index_add_(0, b, w)
        self.buckets = buckets
        self.rows = nn.Parameter((sums / mass.clamp(min=1e-12)[:, None]).float())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(bucket_of(ids, self.buckets), self.rows)
