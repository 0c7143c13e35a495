"""`hashembed.dask` and docs/distributed.md: a text column of a Dask DataFrame embedded with
map_partitions on a two-process LocalCluster, written as .npy shards and as Parquet, equals
single-process embedding bit for bit. The text is real: lines of the standard library."""

from __future__ import annotations

import pickle
import sysconfig
from pathlib import Path

import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed (tests/requirements.txt)")
distributed = pytest.importorskip(
    "distributed", reason="distributed is not installed (tests/requirements.txt)"
)
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

import hashembed  # noqa: E402
from hashembed.dask import (  # noqa: E402
    embed_partition,
    embedding_meta,
    npy_shards_meta,
    save_npy_partition,
    to_numpy,
)
from support import assert_same_bits  # noqa: E402

EMBEDDER = hashembed.HashEmbedder(dim=256)


def stdlib_lines(count: int) -> list[str]:
    lines: list[str] = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        lines += path.read_text(encoding="utf-8").splitlines()
        if len(lines) >= count:
            break
    return lines[:count]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return stdlib_lines(2000)


@pytest.fixture(scope="module")
def single(lines: list[str]) -> np.ndarray:
    return EMBEDDER.embed_batch(lines)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_embedder_pickles_to_its_small_config() -> None:
    embedder = hashembed.HashEmbedder(dim=4096, seed=3, base=1114129)
    data = pickle.dumps(embedder)
    assert len(data) < 300  # the configuration, not 4096 multipliers
    clone = pickle.loads(data)
    assert clone == embedder and clone.config() == embedder.config()
    assert_same_bits(clone.embed_batch(["pickled"]), embedder.embed_batch(["pickled"]))


@pytest.mark.timeout(120)
def test_map_partitions_on_a_local_cluster(
    client, lines: list[str], single: np.ndarray, tmp_path: Path
) -> None:
    ddf = dd.from_pandas(pd.DataFrame({"text": lines}), npartitions=4)
    assert ddf.npartitions == 4

    # .npy shards, one per partition
    shards = ddf.map_partitions(
        save_npy_partition, EMBEDDER, str(tmp_path / "npy"), "text", meta=npy_shards_meta()
    ).compute()
    shards = shards.sort_values("partition")
    assert shards["partition"].tolist() == [0, 1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "npy").iterdir()) == [f"part-0000{i}.npy" for i in range(4)]
    from_shards = np.concatenate([np.load(p) for p in shards["path"]])
    assert shards["rows"].sum() == len(lines)
    assert_same_bits(from_shards, single, ".npy shards")

    # Parquet, the embedding as a fixed-size list<float32> column
    emb = ddf.map_partitions(embed_partition, EMBEDDER, "text", meta=embedding_meta(EMBEDDER))
    ddf.assign(embedding=emb).to_parquet(str(tmp_path / "parquet"), write_index=False)
    table = pq.read_table(tmp_path / "parquet")
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 256)
    assert table.column("text").to_pylist() == lines
    assert_same_bits(to_numpy(table.column("embedding")), single, "parquet")

    # and straight back to the client
    assert_same_bits(to_numpy(emb.compute()), single, "compute")


def test_embed_partition_on_pandas(single: np.ndarray, lines: list[str]) -> None:
    df = pd.DataFrame({"n": range(6), "text": [*lines[:4], None, ""]}, index=list("abcdef"))
    out = embed_partition(df, EMBEDDER, "text")
    assert out.name == "embedding" and list(out.index) == list("abcdef")
    assert out.dtype == embedding_meta(EMBEDDER).dtype
    got = to_numpy(out)
    assert_same_bits(got[:4], single[:4])
    assert not got[4:].any()  # null and empty: zero vectors

    object_series = pd.Series(lines[:3], dtype=object, name="t")
    assert_same_bits(to_numpy(embed_partition(object_series, EMBEDDER)), single[:3])
    assert_same_bits(to_numpy(embed_partition(df[["text"]].iloc[:2], EMBEDDER)), single[:2])  # only column
    assert len(embed_partition(df.iloc[:0], EMBEDDER, "text")) == 0

    with pytest.raises(ValueError, match="column="):
        embed_partition(df, EMBEDDER)
    with pytest.raises(ValueError, match="null"):
        embed_partition(df, EMBEDDER, "text", nulls="error")
    with pytest.raises(TypeError):
        embed_partition(df, EMBEDDER, "n")
    with pytest.raises(TypeError, match="DataFrame or Series"):
        embed_partition(lines, EMBEDDER)
