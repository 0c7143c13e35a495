"""Dask integration: embed a text column partition by partition, on any cluster.

    import dask.dataframe as dd
    from hashembed import HashEmbedder
    from hashembed.dask import embed_partition, embedding_meta

    embedder = HashEmbedder(dim=256)
    ddf = dd.read_parquet("texts/")
    emb = ddf.map_partitions(embed_partition, embedder, "text", meta=embedding_meta(embedder))
    ddf.assign(embedding=emb).to_parquet("embedded/")

A `HashEmbedder` pickles to its small configuration (a few integers), so sending it to
workers costs nothing and every worker computes exactly the same bits. `embed_partition`
returns the embeddings as a pandas Series of Arrow `fixed_size_list<float32>[dim]` values,
which Parquet stores as a list<float32> column; `to_numpy` turns one back into a
(rows, dim) array without copying, and `save_npy_partition` writes one .npy shard per
partition instead. See docs/distributed.md.

`dask` itself is not imported here: these are plain functions of pandas objects, so they
also work with `DataFrame.apply`-style code or any other executor. pandas and pyarrow are
imported when a function is first called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._embedder import HashEmbedder
from ._optional import optional
from .arrow import check_type
from .errors import ParameterError, ParameterTypeError, parameter_error

__all__ = [
    "embed_partition",
    "embedding_meta",
    "embedding_type",
    "npy_shards_meta",
    "save_npy_partition",
    "to_numpy",
]


def _modules() -> tuple[Any, Any]:
    return optional("pandas", "dask", "hashembed.dask"), optional("pyarrow", "dask", "hashembed.dask")


def embedding_type(embedder: HashEmbedder) -> Any:
    """The Arrow type of one embedding: fixed_size_list<float32>[dim]."""
    _, pa = _modules()
    return pa.list_(pa.float32(), embedder.dim)


def _texts(df_or_series: Any, column: str | None) -> Any:
    pd, _ = _modules()
    if isinstance(df_or_series, pd.DataFrame):
        if column is None:
            if df_or_series.shape[1] != 1:
                columns = list(df_or_series.columns)
                message = f"the partition has columns {columns}: pass column= to choose one"
                raise parameter_error(ParameterError, message, "column", column)
            return df_or_series.iloc[:, 0]
        return df_or_series[column]
    if isinstance(df_or_series, pd.Series):
        if column is not None and column != df_or_series.name:
            message = f"column={column!r} given for a Series named {df_or_series.name!r}"
            raise parameter_error(ParameterError, message, "column", column)
        return df_or_series
    message = f"expected a pandas DataFrame or Series, not {type(df_or_series).__name__}"
    raise parameter_error(ParameterTypeError, message, "df_or_series", df_or_series)


def _embed_series(series: Any, embedder: HashEmbedder, nulls: str) -> np.ndarray:
    """(len(series), dim) float32 embeddings of a Series of str (null: zero row by default)."""
    _, pa = _modules()
    if len(series) == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    try:
        array = pa.array(series, from_pandas=True)  # zero-copy for Arrow-backed strings
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        message = f"the column {series.name!r} must hold str: {e}"
        raise parameter_error(ParameterTypeError, message, "df_or_series", series.name) from None
    check_type(pa, array.type, "df_or_series")
    return embedder.embed_arrow(array, nulls=nulls)


def embed_partition(
    df_or_series: Any,
    embedder: HashEmbedder,
    column: str | None = None,
    *,
    name: str = "embedding",
    nulls: str = "zero",
) -> Any:
    """The embeddings of one partition's text column, for `map_partitions`.

    `df_or_series` is a pandas DataFrame (its `column`, or its only column) or Series of str.
    Returns a pandas Series with the same index, named `name`, whose values are
    fixed_size_list<float32>[dim] (pandas dtype `ArrowDtype`); pass `embedding_meta(embedder,
    name)` as map_partitions' `meta`. A null text gives a zero vector (`nulls="error"` raises
    instead), like the empty string.
    """
    pd, pa = _modules()
    series = _texts(df_or_series, column)
    table = _embed_series(series, embedder, nulls)
    values = pa.FixedSizeListArray.from_arrays(pa.array(table.reshape(-1)), embedder.dim)
    return pd.Series(pd.arrays.ArrowExtensionArray(values), index=series.index, name=name, copy=False)


def embedding_meta(embedder: HashEmbedder, name: str = "embedding") -> Any:
    """An empty Series of the type `embed_partition` returns: the `meta` for map_partitions."""
    pd, pa = _modules()
    empty = pa.array([], type=embedding_type(embedder))
    return pd.Series(pd.arrays.ArrowExtensionArray(empty), name=name, dtype=pd.ArrowDtype(empty.type))


def to_numpy(embeddings: Any) -> np.ndarray:
    """A (rows, dim) float32 array of a Series (or Arrow array) of fixed-size-list embeddings,
    without a copy when there are no nulls."""
    pd, pa = _modules()
    if isinstance(embeddings, pd.Series):
        embeddings = pa.array(embeddings)
    if isinstance(embeddings, pa.ChunkedArray):
        embeddings = embeddings.combine_chunks() if embeddings.num_chunks != 1 else embeddings.chunk(0)
    if not pa.types.is_fixed_size_list(embeddings.type):
        message = f"expected fixed_size_list embeddings, got {embeddings.type}"
        raise parameter_error(ParameterTypeError, message, "embeddings", embeddings.type)
    if embeddings.null_count:
        raise parameter_error(ParameterError, "the embeddings contain nulls", "embeddings", None)
    dim = embeddings.type.list_size
    flat = embeddings.flatten()  # honours the array's offset
    return flat.to_numpy(zero_copy_only=False).reshape(len(embeddings), dim)


def save_npy_partition(
    df_or_series: Any,
    embedder: HashEmbedder,
    directory: str | os.PathLike[str],
    column: str | None = None,
    *,
    nulls: str = "zero",
    partition_info: dict[str, Any] | None = None,
) -> Any:
    """Embeds one partition and writes it as `directory/part-NNNNN.npy` (N: the partition
    number, which map_partitions passes in `partition_info`); returns a one-row DataFrame
    (partition, rows, path) so that `.compute()` gives the list of shards.

    The shards, concatenated in partition order, are the embeddings of the whole column.
    """
    pd, _ = _modules()
    if partition_info is None:
        message = "partition_info is missing: call this through map_partitions"
        raise parameter_error(ParameterError, message, "partition_info", None)
    number = int(partition_info["number"])
    series = _texts(df_or_series, column)
    table = _embed_series(series, embedder, nulls)
    path = Path(directory) / f"part-{number:05d}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with open(temp, "wb") as f:
        np.save(f, table, allow_pickle=False)
    os.replace(temp, path)  # a retried task never leaves a half-written shard
    return pd.DataFrame({"partition": [number], "rows": [len(table)], "path": [str(path)]})


def npy_shards_meta() -> Any:
    """The `meta` of `save_npy_partition`'s result."""
    pd, _ = _modules()
    return pd.DataFrame({"partition": [0], "rows": [0], "path": [""]}).iloc[:0]
