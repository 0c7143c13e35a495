"""Hostile input: every bad argument is a clear exception (never a crash, a panic, a hang, a
NaN or silently wrong output), and every extreme but valid one gives exactly the right answer.

The memory tests that need a process of their own (an address-space limit, a clean peak RSS)
run in a subprocess."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import time

import hashembed
import numpy as np
import pytest
from hashembed import HashEmbedder
from hashembed import reference as ref
from support import M31, assert_same_bits, exact_embed, text_of

DIM = 16
GB = 1 << 30


@pytest.fixture(scope="module")
def e():
    return HashEmbedder(DIM)


def run_python(code: str, timeout: float = 120, limit_as: int | None = None) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (optionally with an address-space limit)."""

    def limit() -> None:
        if limit_as is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        check=False,
    )


def available_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemAvailable")


# -- items and containers ------------------------------------------------------------------------


def object_array(items: list) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        array[i] = x
    return array


BAD_ITEMS = [None, b"bytes", bytearray(b"x"), 7, 2.5, True, ["nested"], ("t",), np.float32(1), object()]


@pytest.mark.parametrize("item", BAD_ITEMS, ids=lambda x: type(x).__name__)
@pytest.mark.parametrize("form", ["list", "tuple", "generator", "object_array"])
def test_non_str_item_in_a_batch(e, item, form):
    items = ["a", "bc", item, "d"]
    texts = {
        "list": lambda: items,
        "tuple": lambda: tuple(items),
        "generator": lambda: (x for x in items),
        "object_array": lambda: object_array(items),
    }[form]()
    out = np.full((4, DIM), 0.5, np.float32)
    with pytest.raises(TypeError, match=r"texts\[2\] must be str, not "):
        e.embed_batch(texts, out=out)
    assert np.all(out == 0.5)


@pytest.mark.parametrize("item", BAD_ITEMS, ids=lambda x: type(x).__name__)
def test_non_str_token(e, item):
    out = np.full((2, 3, DIM), 0.5, np.float32)
    with pytest.raises(TypeError, match=r"batch\[1\]\[1\]"):
        e.embed_tokens([["a", "b", "c"], ["d", item]], out=out)
    assert np.all(out == 0.5)


@pytest.mark.parametrize("text", BAD_ITEMS, ids=lambda x: type(x).__name__)
def test_embed_of_non_str(e, text):
    with pytest.raises(TypeError, match="text must be str"):
        e.embed(text)


def test_generators_and_iterators_equal_lists(e):
    words = ["alpha", "", "gamma", "alpha", "\ud800"]
    want = e.embed_batch(words)
    for texts in (
        iter(words),
        (w for w in words),
        map(str, words),
        itertools.islice(words, 5),
        reversed(words[::-1]),
    ):
        assert_same_bits(e.embed_batch(texts), want)
    rows = [["a", "b"], ["c"], []]
    want_t, want_m = e.embed_tokens(rows)
    got_t, got_m = e.embed_tokens(iter(r) for r in rows)
    assert_same_bits(got_t, want_t)
    assert np.array_equal(got_m, want_m)
    exhausted = iter(words)
    list(exhausted)
    assert e.embed_batch(exhausted).shape == (0, DIM)


def test_an_exception_inside_a_generator_propagates(e):
    def texts():
        yield "fine"
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        e.embed_batch(texts())
    with pytest.raises(RuntimeError, match="source failed"):
        e.embed_tokens([texts()])


@pytest.mark.parametrize("texts", [{"a", "b"}, frozenset(["a"])], ids=["set", "frozenset"])
def test_unordered_collections_are_refused(e, texts):
    """A set's iteration order changes with PYTHONHASHSEED: its rows could not be matched to
    its strings, so it is refused rather than embedded in an arbitrary order."""
    with pytest.raises(TypeError, match="ordered sequence"):
        e.embed_batch(texts)
    with pytest.raises(TypeError, match=r"batch\[0\] must be an ordered sequence"):
        e.embed_tokens([texts])
    with pytest.raises(TypeError, match="batch must be an ordered sequence"):
        e.embed_tokens({("a",)})
    assert e.embed_batch({"a": 1, "b": 2}.keys()).shape == (2, DIM)  # a dict's keys have an order


def test_ragged_and_oddly_nested_token_batches(e):
    ragged = [["a"], [], ["b", "c", "d"], ("e",), np.array(["f", "g"])]
    emb, mask = e.embed_tokens(ragged)
    assert emb.shape == (5, 3, DIM) and mask.sum() == 7
    assert_same_bits(emb[2, 2], e.embed("d"))
    assert np.all(emb[1] == 0) and np.all(emb[0, 1:] == 0)
    bad = [
        ([["a", ["b"]]], TypeError, r"batch\[0\]\[1\]"),
        ([[["a"]]], TypeError, r"batch\[0\]\[0\]"),
        ([["a"], 5], TypeError, r"batch\[1\]"),
        ([["a"], None], TypeError, r"batch\[1\]"),
        (["abc"], TypeError, r"batch\[0\] is a str"),
        ([[b"a"]], TypeError, r"batch\[0\]\[0\]"),
        ([np.zeros((2, 2))], ValueError, r"one-dimensional"),
        (np.zeros((2, 2, 2)), ValueError, r"one-dimensional"),
        ("abc", TypeError, r"not a single str"),
        (5, TypeError, r"not int"),
    ]
    for batch, kind, match in bad:
        with pytest.raises(kind, match=match):
            e.embed_tokens(batch)


def test_str_subclasses_embed_as_their_characters(e):
    class Shouty(str):
        def __str__(self):
            return self.upper()

        def __len__(self):
            return 99

        def __iter__(self):
            return iter("lies")

        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    s = Shouty("quiet")
    assert_same_bits(e.embed(s), e.embed("quiet"))
    assert_same_bits(e.embed_batch([s, "x", s]), e.embed_batch(["quiet", "x", "quiet"]))
    assert_same_bits(e.embed(np.str_("quiet")), e.embed("quiet"))
    assert_same_bits(e.embed_tokens([[s]])[0][0, 0], e.embed("quiet"))


def test_a_list_subclass_that_lies_about_its_length(e):
    class Liar(list):
        def __len__(self):
            return 1

    with pytest.raises(ValueError, match=r"out has shape .1, 16.: expected \(3, 16\)"):
        e.embed_batch(Liar(["a", "b", "c"]))


@pytest.mark.parametrize(
    ("array", "error"),
    [
        (np.array([b"a", b"b"]), TypeError),
        (np.array([b"a", None], dtype=object), TypeError),
        (np.array([1, 2]), TypeError),
        (np.array([1.5]), TypeError),
        (np.array([np.nan]), TypeError),
        (np.array([True]), TypeError),
        (np.array("a"), ValueError),
        (np.array([["a"]]), ValueError),
        (np.array([["a"], ["b"]], dtype=object), ValueError),
    ],
    ids=["bytes", "object_bytes", "int", "float", "nan", "bool", "0d", "2d_str", "2d_object"],
)
def test_numpy_arrays_that_are_not_str_vectors(e, array, error):
    with pytest.raises(error):
        e.embed_batch(array)


def test_numpy_object_and_str_arrays_of_str(e):
    words = ["a", "naïve", "\U0001f600", ""]
    want = e.embed_batch(words)
    assert_same_bits(e.embed_batch(np.array(words, dtype=object)), want)
    assert_same_bits(e.embed_batch(np.array(words)), want)
    assert_same_bits(e.embed_batch(np.array(words, dtype=object)[::-1][::-1]), want)


# -- out ---------------------------------------------------------------------------------------


def test_out_arrays_that_cannot_be_written(e, tmp_path):
    texts = ["a", "b", "c"]
    base = np.zeros((3, 2 * DIM), np.float32)
    ro = np.zeros((3, DIM), np.float32)
    ro.flags.writeable = False
    path = tmp_path / "ro.f32"
    np.zeros((3, DIM), np.float32).tofile(path)
    cases = [
        (base[:, :DIM], ValueError, "C-contiguous"),
        (base[:, ::2], ValueError, "C-contiguous"),
        (np.zeros((DIM, 3), np.float32).T, ValueError, "C-contiguous"),
        (np.zeros((6, DIM), np.float32)[::2], ValueError, "C-contiguous"),
        (np.zeros((3, DIM), np.float32)[::-1], ValueError, "C-contiguous"),
        (np.zeros((3, DIM), np.int32), ValueError, "dtype"),
        (np.zeros((3, DIM), np.complex64), ValueError, "dtype"),
        (np.zeros((3, DIM), ">f4"), ValueError, "dtype"),
        (np.zeros((3, DIM), np.float32, order="F"), ValueError, "C-contiguous"),
        (ro, ValueError, "read-only"),
        (np.memmap(path, np.float32, "r", shape=(3, DIM)), ValueError, "read-only"),
        (np.zeros((3 * DIM,), np.float32), ValueError, "shape"),
        (np.zeros((3, DIM, 1), np.float32), ValueError, "shape"),
        ([[0.0] * DIM] * 3, TypeError, "numpy.ndarray"),
    ]
    for out, kind, match in cases:
        with pytest.raises(kind, match=match):
            e.embed_batch(texts, out=out, dtype=getattr(out, "dtype", "float32"))
        with pytest.raises(kind, match=match):
            e._native.embed_batch_into(texts, out)  # the native layer checks without the wrapper's help
    assert np.all(base == 0)
    assert np.fromfile(path, np.float32).sum() == 0


def test_out_that_are_memmaps_and_views(e, tmp_path):
    texts = ["one", "two", "three"]
    want = e.embed_batch(texts)
    path = tmp_path / "out.f32"
    for mode in ("w+", "r+", "c"):
        if mode != "w+":
            np.full((3, DIM), 9, np.float32).tofile(path)
        mm = np.memmap(path, np.float32, mode, shape=(3, DIM))
        assert e.embed_batch(texts, out=mm) is mm
        assert_same_bits(np.asarray(mm), want)
        mm.flush()
        del mm
        on_disk = np.fromfile(path, np.float32).reshape(3, DIM)
        assert_same_bits(on_disk, want if mode != "c" else np.full((3, DIM), 9, np.float32))
    # A C-contiguous view of some rows of a larger array writes those rows only.
    big = np.full((7, DIM), 4.0, np.float32)
    e.embed_batch(texts, out=big[2:5])
    assert_same_bits(big[2:5], want)
    assert np.all(big[:2] == 4.0) and np.all(big[5:] == 4.0)
    # A float32 view of float64 memory: the same bytes, written as float32.
    raw = np.zeros((3, DIM // 2), np.float64)
    e.embed_batch(texts, out=raw.view(np.float32))
    assert_same_bits(raw.view(np.float32), want)
    # An ndarray subclass.
    sub = np.zeros((3, DIM), np.float32).view(type("Sub", (np.ndarray,), {}))
    e._native.embed_batch_into(texts, sub)
    assert_same_bits(np.asarray(sub), want)


def test_out_sharing_memory_with_another_argument(e):
    """Arguments that alias `out` are refused with a message that says so, not mislabelled
    read-only and never read half-overwritten."""
    out = np.zeros((4, DIM), np.float64)
    rows = out[0].view(np.int64)[:2]
    with pytest.raises(ValueError, match="out is in use"):
        e._native.embed_batch_into(["a", "b"], out, None, rows)
    data = np.frombuffer(b"abcd" * 32, np.uint8).copy()
    alias = data.view(np.float32).reshape(-1, DIM)[:1]
    with pytest.raises(ValueError, match="out is in use"):
        e._native.embed_utf8_into(data, np.array([0, 2], np.int64), alias)
    assert bytes(data) == b"abcd" * 32


# -- sizes -------------------------------------------------------------------------------------


def test_hundred_million_characters():
    """A 100-million-character str: split across cores inside embed. The oracle counts each
    distinct window once, so it is cheap; dim is small to keep the test a few seconds (the
    default dim=768 takes about a minute on 2 cores: see docs/reliability.md)."""
    pattern = "hostile input \u00e9\u00e8 "
    length = 100_000_000
    text = (pattern * (length // len(pattern) + 1))[:length]
    e = HashEmbedder(12)
    got = e.embed(text)
    assert got.shape == (12,) and np.all(np.isfinite(got)) and np.all(np.abs(got) <= 1)
    assert_same_bits(got, exact_embed(periodic=(pattern, length), dim=12))
    assert_same_bits(HashEmbedder(12).embed(text[:1]), ref.embed(text[:1], dim=12))


def test_one_repeated_character_has_a_closed_form():
    """Every window of "aaaa…" is the same n-gram, so each value is its centred projection
    over B/2, exactly, whatever the length (here past the 2**24 windows where float32 stops
    counting exactly)."""
    length = 20_000_001
    e = HashEmbedder(12, max_ngram=3)
    got = e.embed("a" * length)
    b = e.buckets
    bounds = ref.layout_bounds(12, 3, "proportional")
    want = np.zeros(12)
    for size in (1, 2, 3):
        s = ref.ngram_hash([97] * size, e.base, e.hash_modulus)
        for k in range(bounds[size - 1], bounds[size]):
            r = s * int(e.hash_seeds[k]) % b
            c = r - b if 2 * r > b else r
            n = length - size + 1
            want[k] = float(n * c) / (float(n) * (b / 2.0))
    assert_same_bits(got, want.astype(np.float32))


def test_ten_million_empty_strings_with_dim_1():
    """Fast and light: about 0.5 s and well under 1 GB (10M list entries, 80 MB of offsets,
    40 MB of output), equal rows computed once. Empty texts used to cost ~300 ns each when the
    whole batch was empty (see first_occurrences in src/batch.rs): several times the cost of
    10M one-character texts; the two now take about as long."""
    result = run_python(
        """
        import time
        import numpy as np, hashembed
        def hwm():  # peak RSS of this process in MB (ru_maxrss would include pytest's, from fork)
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
        e = hashembed.HashEmbedder(1, max_ngram=1)
        out = e.embed_batch(["a"] * 10)
        seconds = {}
        for s in ("", "a"):
            texts = [s] * 10_000_000
            before = hwm()
            t = time.perf_counter()
            out = e.embed_batch(texts)
            seconds[s] = time.perf_counter() - t
            if s == "":
                growth = hwm() - before
                assert out.shape == (10_000_000, 1) and not out.any() and not np.signbit(out).any()
            del out
        print(seconds[""], seconds["a"], growth)
        """
    )
    assert result.returncode == 0, result.stderr
    empty, one_char, growth_mb = map(float, result.stdout.split())
    assert growth_mb < 600, f"peak RSS grew {growth_mb:.0f} MB"
    assert empty < 2 * one_char + 0.5, f"10M empty texts took {empty:.2f} s, 10M 'a' {one_char:.2f} s"


def test_outputs_that_cannot_fit_are_refused_before_allocating():
    """10M x 768 float32 is 31 GB and 10M x 768 float64 62 GB: a MemoryError at once, before
    any memory is touched, from every entry point that allocates its output."""
    e = HashEmbedder()
    ten_million = [""] * 10_000_000
    assert 10_000_000 * 768 * 4 > available_memory()
    for dtype in ("float32", "float64"):
        t = time.perf_counter()
        with pytest.raises(MemoryError, match="pass out="):
            e.embed_batch(ten_million, dtype=dtype)
        assert time.perf_counter() - t < 5
    with pytest.raises(MemoryError):
        e.embed_tokens([["a"] * 10_000_000])
    with pytest.raises(MemoryError):
        HashEmbedder(65536).embed_batch(["x"] * 200_000)
    pa = pytest.importorskip("pyarrow")
    with pytest.raises(MemoryError):
        e.embed_arrow(pa.repeat("", 10_000_000))


def test_input_too_large_to_copy_is_a_memory_error():
    """One 1M-character str repeated 2000 times is 8 GB of code points once copied, and 1 GB of
    UTF-8 is 4 GB: in a process limited to 3 GB of address space each is a MemoryError, raised
    before copying anything, where growing the buffer used to abort the whole process."""
    result = run_python(
        """
        import time
        import numpy as np, hashembed
        e = hashembed.HashEmbedder(8)
        s = "x" * 1_000_000
        data = np.zeros(1 << 30, np.uint8)  # 1 GB of NULs (untouched pages): 4 GB decoded
        utf8 = lambda: e._native.embed_utf8_into(data, np.array([0, 1 << 30]), np.zeros((1, 8), np.float32))
        calls = (lambda: e.embed_batch([s] * 2000), lambda: e.embed_tokens([[s] * 2000]), utf8)
        for call in calls:
            try:
                call()
            except MemoryError as err:
                print("MemoryError:", err)
            else:
                print("no error")
        """,
        limit_as=3 * GB,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("MemoryError: ") for line in lines), lines
    assert all("the texts hold" in line for line in lines[:2]), lines
    assert "would not fit in this machine's memory" in lines[2], lines


def test_huge_padding_is_refused_before_building_the_mask():
    """pad_to_multiple_of=2**29 asks for a (1, 2**29, 64) output, 137 GB: a MemoryError at
    once. The (batch, seq) mask and positions used to be built first (4.5 GB here, 18 GB with
    2**31 - 1), filling the memory before the output's size was checked."""
    result = run_python(
        """
        import time, hashembed
        e = hashembed.HashEmbedder(64)
        t = time.perf_counter()
        for pad in (2**29, 2**31 - 1, 2**80):
            try:
                e.embed_tokens([["a"], ["b", "c"]], pad_to_multiple_of=pad)
            except MemoryError:
                pass
            else:
                raise SystemExit(f"no MemoryError for pad_to_multiple_of={pad}")
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))  # peak RSS
        print(time.perf_counter() - t, int(hwm.split()[1]) / 1024)
        """
    )
    assert result.returncode == 0, result.stderr + result.stdout
    seconds, peak_mb = map(float, result.stdout.split())
    assert seconds < 1 and peak_mb < 400, (seconds, peak_mb)


# -- Arrow -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xe2\x82", b"\x80", b"a\x00\xfe"],
    ids=["ff", "overlong_nul", "utf8_surrogate", "above_10ffff", "truncated", "lone_continuation", "fe"],
)
def test_invalid_utf8_in_arrow(e, bad):
    pa = pytest.importorskip("pyarrow")
    arr = pa.array([b"fine", bad, b"also fine"], type=pa.binary())
    with pytest.raises(ValueError, match=r"^row 1 is not valid UTF-8"):
        e.embed_arrow(arr)
    with pytest.raises(ValueError, match=r"^row 1 is not valid UTF-8"):
        e.embed_arrow(arr.view(pa.string()))


@pytest.mark.parametrize(
    "offsets",
    [[0, 3, 1], [0, 2, 99], [0, 4], [0, -1, 2], [-1, 2], [5, 1, 2], [2**62, 2**63 - 1]],
    ids=str,
)
def test_corrupt_utf8_offsets(e, offsets):
    """Offsets that run backwards, past the data or below zero (as a corrupt Arrow array would
    give, which pyarrow itself refuses to build): a clear ValueError, never a read out of
    bounds."""
    data = np.frombuffer(b"abc", np.uint8)
    out = np.full((len(offsets) - 1, DIM), 3.0, np.float32)
    with pytest.raises(ValueError, match="offsets"):
        e._native.embed_utf8_into(data, np.array(offsets, np.int64), out)
    assert np.all(out == 3.0)


# -- parameters at the edges of their ranges -------------------------------------------------

EDGE_CONFIGS = [
    {"dim": 1, "max_ngram": 1},
    {"dim": 8, "max_ngram": 8, "layout": "equal"},
    {"dim": 36, "max_ngram": 8},
    {"dim": 12, "buckets": 3},
    {"dim": 12, "buckets": M31},
    {"dim": 12, "base": 1},
    {"dim": 12, "base": M31},
    {"dim": 12, "hash_modulus": 2},
    {"dim": 12, "hash_modulus": M31},
    {"dim": 12, "seed": 0},
    {"dim": 12, "seed": 2**64 - 1},
    {
        "dim": 9,
        "max_ngram": 8,
        "layout": [1, 1, 1, 1, 1, 1, 1, 2],
        "base": M31,
        "hash_modulus": M31,
        "buckets": 3,
    },
    {"dim": 3, "max_ngram": 2, "buckets": M31, "hash_seeds": [1, M31 - 1, 2**30]},
    {"dim": 4, "max_ngram": 1, "buckets": 3, "base": 1, "hash_modulus": 2, "hash_seeds": [1, 2, 1, 2]},
    {"dim": 1, "max_ngram": 1, "boundary_markers": True},
    {"dim": 36, "max_ngram": 8, "base": M31, "hash_modulus": 2, "buckets": 3, "boundary_markers": True},
]
EDGE_TEXTS = ["", "a", "ab", "hello, world", "\U0010ffff\ud800\udfff\x00", "a" * 300, "é" * 9]


@pytest.mark.parametrize(
    "config", EDGE_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())[:60]
)
def test_parameters_at_the_edges_match_the_reference(config, restore_kernel):
    e = HashEmbedder(**config)
    want = np.stack([ref.embed(t, **config) for t in EDGE_TEXTS])
    for kernel in hashembed.available_kernels():
        hashembed.set_kernel(kernel)
        assert_same_bits(e.embed_batch(EDGE_TEXTS), want, f"kernel {kernel}")
        assert_same_bits(np.stack([e.embed(t) for t in EDGE_TEXTS]), want, f"kernel {kernel}")
    for dtype in ("float64", "float16"):
        got = e.embed_batch(EDGE_TEXTS, dtype=dtype)
        assert_same_bits(got, np.stack([ref.embed(t, dtype=dtype, **config) for t in EDGE_TEXTS]), dtype)


def test_largest_dim_and_code_points_at_the_edges():
    text = text_of([0, 0xD800, 0xDFFF, 0x10FFFF, 0x10FFFF, 1])
    e = HashEmbedder(65536, max_ngram=8)
    assert_same_bits(e.embed(text), exact_embed(text, dim=65536, max_ngram=8))


def test_panic_detection_in_conftest():
    """The conftest hook that fails the session on a Rust panic recognises one."""
    import conftest

    class PanicException(BaseException):
        pass

    try:
        try:
            raise PanicException("boom")
        except PanicException as inner:
            raise ValueError("wrapped") from inner
    except ValueError as err:
        assert conftest.is_panic(err)
    assert not conftest.is_panic(ValueError("plain"))
    line = "thread '<unnamed>' (4242) panicked at src/batch.rs:10:5:\nindex out of bounds"
    assert conftest.RUST_PANIC.search(line)
    assert conftest.RUST_PANIC.search("thread 'main' panicked at src/lib.rs:1:1:")
    assert not conftest.RUST_PANIC.search("no thread panicked here")
