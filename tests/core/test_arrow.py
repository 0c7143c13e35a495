"""HashEmbedder.embed_arrow: Arrow string columns embedded from their buffers, checked
against embed_batch of the same strings."""

from __future__ import annotations

import numpy as np
import pytest
from _data import stdlib_lines
from hashembed import HashEmbedder

pa = pytest.importorskip("pyarrow")

DIM = 40
MULTIBYTE = [
    "é",
    "naïve café",
    "☃ snow",
    "😀",
    "emoji 😀👍🏽 mix",
    "中文字符",
    "日本語のテキスト",
    "Ω≈ç√",
    "",
]
STRING_TYPES = {"string": pa.string(), "large_string": pa.large_string()}
if hasattr(pa, "string_view"):
    STRING_TYPES["string_view"] = pa.string_view()


@pytest.fixture(scope="module")
def embedder():
    return HashEmbedder(DIM)


@pytest.fixture(scope="module")
def values():
    """Real lines, multi-byte strings, empty strings and nulls, interleaved."""
    lines = stdlib_lines(150_000)[:3000]
    out: list[str | None] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 11 == 0:
            out.append(None)
        if i % 17 == 0:
            out.append(MULTIBYTE[i % len(MULTIBYTE)] + line[:5])
    return out


def expected(embedder, values, dtype="float32"):
    """embed_batch of the strings, with zero rows for nulls."""
    out = embedder.embed_batch([v if v is not None else "" for v in values], dtype=dtype)
    out[[v is None for v in values]] = 0
    return out


@pytest.mark.parametrize("type_name", list(STRING_TYPES))
def test_matches_embed_batch(embedder, values, type_name):
    arr = pa.array(values, type=STRING_TYPES[type_name])
    assert arr.null_count > 100
    got = embedder.embed_arrow(arr)
    assert got.shape == (len(values), DIM) and got.dtype == np.float32
    assert np.array_equal(got, expected(embedder, arr.to_pylist()))
    assert not got[arr.is_null().to_numpy(zero_copy_only=False)].any()


@pytest.mark.parametrize("type_name", list(STRING_TYPES))
def test_multibyte_rows(embedder, type_name):
    arr = pa.array([*MULTIBYTE, None, "x"], type=STRING_TYPES[type_name])
    got = embedder.embed_arrow(arr)
    for i, s in enumerate(MULTIBYTE):
        assert np.array_equal(got[i], embedder.embed(s)), s
    assert not got[len(MULTIBYTE)].any()


@pytest.mark.parametrize("type_name", list(STRING_TYPES))
def test_sliced_arrays(embedder, values, type_name):
    arr = pa.array(values, type=STRING_TYPES[type_name])
    for start, length in [(1, 50), (37, 1000), (len(values) - 9, 9), (5, 0), (3, 1)]:
        part = arr.slice(start, length)
        assert part.offset == start or length == 0
        got = embedder.embed_arrow(part)
        assert got.shape == (length, DIM)
        assert np.array_equal(got, expected(embedder, values[start : start + length])), (start, length)


def test_chunked_arrays(embedder, values):
    cuts = [0, 1, 1, 400, 1234, 2000, len(values)]  # includes an empty chunk
    chunks = [pa.array(values[a:b], type=pa.string()) for a, b in zip(cuts, cuts[1:])]
    chunked = pa.chunked_array(chunks, type=pa.string())
    assert chunked.num_chunks == len(cuts) - 1
    ref = expected(embedder, values)
    assert np.array_equal(embedder.embed_arrow(chunked), ref)
    # A slice of a chunked array: chunks that are themselves sliced.
    part = chunked.slice(300, 1500)
    assert np.array_equal(embedder.embed_arrow(part), ref[300:1800])
    # Chunks of large_string and string_view, and an empty chunked array.
    for t in STRING_TYPES.values():
        assert np.array_equal(embedder.embed_arrow(chunked.cast(t)), ref), t
    assert embedder.embed_arrow(pa.chunked_array([], type=pa.string())).shape == (0, DIM)


def test_table_column(embedder, values):
    table = pa.table({"text": values})
    assert np.array_equal(embedder.embed_arrow(table["text"]), expected(embedder, values))


def test_binary_arrays_are_read_as_utf8(embedder):
    strings = ["plain", "é☃😀", "", "中文"]
    for t in [pa.binary(), pa.large_binary()]:
        arr = pa.array([s.encode() for s in strings] + [None], type=t)
        assert np.array_equal(embedder.embed_arrow(arr), expected(embedder, [*strings, None]))


def test_empty_and_all_null(embedder):
    assert embedder.embed_arrow(pa.array([], type=pa.string())).shape == (0, DIM)
    got = embedder.embed_arrow(pa.array([None, None], type=pa.string()))
    assert got.shape == (2, DIM) and not got.any()
    assert not embedder.embed_arrow(pa.array(["", ""])).any()


def test_long_array_uses_the_interruptible_path(embedder):
    lines = stdlib_lines(2_000_000)
    arr = pa.array(lines)
    assert sum(map(len, lines)) > 1 << 16
    assert np.array_equal(embedder.embed_arrow(arr, num_threads=4), embedder.embed_batch(lines))


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_dtypes_and_out(embedder, values, dtype):
    arr = pa.array(values)
    got = embedder.embed_arrow(arr, dtype=dtype)
    assert got.dtype == np.dtype(dtype)
    assert np.array_equal(got, expected(embedder, values, dtype))
    out = np.full((len(values), DIM), np.nan, dtype=dtype)
    assert embedder.embed_arrow(arr, out=out, dtype=dtype) is out
    assert np.array_equal(out, got)  # null rows overwritten with zeros too


def test_nulls_error(embedder, values):
    arr = pa.array(values)
    first = values.index(None)
    with pytest.raises(ValueError, match=rf"^row {first} is null"):
        embedder.embed_arrow(arr, nulls="error")
    second = values.index(None, first + 1)
    with pytest.raises(ValueError, match=rf"^row {second - first - 1} is null"):
        embedder.embed_arrow(arr.slice(first + 1), nulls="error")
    chunked = pa.chunked_array([pa.array(["a", "b"]), pa.array(["c", None])])
    out = np.full((4, DIM), 5.0, dtype=np.float32)
    with pytest.raises(ValueError, match=r"^row 3 is null"):
        embedder.embed_arrow(chunked, nulls="error", out=out)
    assert (out == 5.0).all()  # checked before anything is written
    no_nulls = pa.array(["a", "b"])
    assert np.array_equal(embedder.embed_arrow(no_nulls, nulls="error"), embedder.embed_batch(["a", "b"]))
    with pytest.raises(ValueError, match=r"nulls='skip' is unknown"):
        embedder.embed_arrow(no_nulls, nulls="skip")


def from_parts(rows: list[bytes], nulls=(), type_=None):
    """A string array from raw bytes; rows at the `nulls` indices are null but keep their bytes."""
    type_ = type_ or pa.string()
    wide = type_ == pa.large_string()
    offsets = np.concatenate(([0], np.cumsum([len(r) for r in rows]))).astype(np.int64 if wide else np.int32)
    validity = None
    if nulls:
        valid = np.ones(len(rows), dtype=bool)
        valid[list(nulls)] = False
        validity = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    buffers = [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(rows))]
    return pa.Array.from_buffers(type_, len(rows), buffers, null_count=len(nulls))


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()])
def test_invalid_utf8_names_the_row(embedder, type_):
    rows = [b"fine", "é☃".encode(), b"bad \xff byte", b"ok"]
    arr = from_parts(rows, type_=type_)
    with pytest.raises(ValueError, match=r"^row 2 is not valid UTF-8 \(at byte 4\)"):
        embedder.embed_arrow(arr)
    with pytest.raises(ValueError, match=r"^row 1 is not valid UTF-8"):
        embedder.embed_arrow(arr.slice(1))
    truncated = from_parts([b"a", "é".encode()[:1]], type_=type_)  # a cut multi-byte character
    with pytest.raises(ValueError, match=r"^row 1 is not valid UTF-8"):
        embedder.embed_arrow(truncated)


def test_invalid_utf8_in_a_chunk_names_the_row_of_the_whole_array(embedder):
    viewed = pa.array([b"a", b"b", b"\xc3\x28"], type=pa.binary()).view(pa.string())
    chunked = pa.chunked_array([pa.array(["x"] * 5), pa.array(["y"] * 3), viewed])
    with pytest.raises(ValueError, match=r"^row 10 is not valid UTF-8"):
        embedder.embed_arrow(chunked)


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("many", [False, True])
def test_nulls_over_bytes_are_zero_rows(embedder, type_, many):
    """Arrow lets a null slot span any bytes, even invalid UTF-8: they are never read."""
    lines = stdlib_lines(60_000)[:600]
    step = 3 if many else 97
    nulls = list(range(1, len(lines), step))
    rows = [b"\xff junk \xfe" if i in nulls else s.encode() for i, s in enumerate(lines)]
    arr = from_parts(rows, nulls=nulls, type_=type_)
    assert arr.null_count == len(nulls)
    want = expected(embedder, arr.to_pylist())
    assert np.array_equal(embedder.embed_arrow(arr), want)
    out = np.full_like(want, np.nan)
    embedder.embed_arrow(arr, out=out)
    assert np.array_equal(out, want)
    part = arr.slice(50, 300)
    assert np.array_equal(embedder.embed_arrow(part), want[50:350])


def test_type_errors(embedder):
    with pytest.raises(TypeError, match=r"got int64"):
        embedder.embed_arrow(pa.array([1, 2]))
    with pytest.raises(TypeError, match=r"dictionary_decode"):
        embedder.embed_arrow(pa.array(["a", "b", "a"]).dictionary_encode())
    with pytest.raises(TypeError, match=r"for a list of str, use embed_batch"):
        embedder.embed_arrow(["a", "b"])
    with pytest.raises(TypeError, match=r"not str"):
        embedder.embed_arrow("a")


def test_out_errors(embedder):
    arr = pa.array(["a", None, "c"])
    with pytest.raises(ValueError, match=r"out has shape \(2, 40\): expected \(3, 40\)"):
        embedder.embed_arrow(arr, out=np.zeros((2, DIM), np.float32))
    with pytest.raises(ValueError, match=r"out has dtype float64: expected float32"):
        embedder.embed_arrow(arr, out=np.zeros((3, DIM), np.float64))
    with pytest.raises(ValueError, match=r"not C-contiguous"):
        embedder.embed_arrow(arr, out=np.zeros((DIM, 3), np.float32).T)
    ro = np.zeros((3, DIM), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"read-only"):
        embedder.embed_arrow(arr, out=ro)
    raw = np.frombuffer(bytearray(3 * DIM * 4 + 1), dtype=np.float32, offset=1).reshape(3, DIM)
    with pytest.raises(ValueError, match=r"out is not aligned"):
        embedder.embed_arrow(arr, out=raw)
    with pytest.raises(ValueError, match=r"dtype"):
        embedder.embed_arrow(arr, dtype="int32")
    with pytest.raises(ValueError, match=r"num_threads"):
        embedder.embed_arrow(arr, num_threads=0)


def test_nulls_are_zero_rows_with_boundary_markers():
    """Defect 5: embedded as the empty string, a null was a non-zero row with boundary markers
    (U+0002 U+0003 has n-grams), or zeros, depending on its offsets."""
    marked = HashEmbedder(DIM, boundary_markers=True)
    assert marked.embed("").any()
    arr = pa.array(["a", None, "b", None])
    got = marked.embed_arrow(arr)
    assert not got[[1, 3]].any()
    assert np.array_equal(got[[0, 2]], marked.embed_batch(["a", "b"]))
    over_bytes = from_parts([b"a", b"junk", b"b"], nulls=[1], type_=pa.string())
    assert not marked.embed_arrow(over_bytes)[1].any()
    chunked = pa.chunked_array([arr, pa.array([None, "c"])])
    assert not marked.embed_arrow(chunked)[[1, 3, 4]].any()


def test_an_all_null_array_is_zero_rows(embedder):
    """Defect 16: pyarrow types a column of only None as null; it was a TypeError."""
    got = embedder.embed_arrow(pa.array([None, None, None]))
    assert got.shape == (3, DIM) and not got.any()
    with pytest.raises(ValueError, match=r"row 0 is null"):
        embedder.embed_arrow(pa.array([None]), nulls="error")
    chunked = pa.chunked_array([pa.array([None]), pa.array([None, None])])
    assert not embedder.embed_arrow(chunked, out=np.ones((3, DIM), np.float32)).any()


@pytest.mark.parametrize("type_", [pa.string(), pa.binary(), pa.large_binary()])
def test_invalid_utf8_in_a_later_chunk_writes_nothing(embedder, type_):
    """Defect 13: with out=, chunk 0 was written before chunk 1's invalid UTF-8 was found."""

    def typed(rows):
        binary = pa.array(rows, type=pa.binary())
        return binary.view(pa.string()) if type_ == pa.string() else binary.cast(type_)

    chunked = pa.chunked_array([typed([b"x", b"y"]), typed([b"ok", b"\xc3\x28"])])
    out = np.full((4, DIM), 7, np.float32)
    with pytest.raises(ValueError, match=r"^row 3 is not valid UTF-8 \(at byte 0\)"):
        embedder.embed_arrow(chunked, out=out)
    assert (out == 7).all()
