//! `hashembed._core.VocabEmbedder`: a vocabulary bound to an embedder (the core's
//! `BoundVocab`), which a `hashembed.VocabEmbedder` holds.

use numpy::ndarray::ArrayViewD;
use numpy::{IxDyn, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyIndexError, PyMemoryError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use super::embedder::{threads_arg, PyEmbedder};
use super::{args, floats, run, texts, to_py};
use crate::batch::Texts;
use crate::bound::{BoundVocab, RowCache, ZERO_ROW};
use crate::element::Element;

/// A vocabulary bound to an embedder: token ids in, rows out.
#[pyclass(name = "VocabEmbedder", module = "hashembed._core", frozen)]
pub struct PyVocab {
    inner: BoundVocab,
}

#[pymethods]
impl PyVocab {
    /// `tokens` (a list of str, token i at index i) bound to `embedder`; `cache` is "none",
    /// "lazy" (keeping at most `max_rows` rows) or "full" (the whole table, computed now).
    #[new]
    #[pyo3(signature = (embedder, tokens, cache, max_rows, num_threads = None))]
    fn new(
        py: Python<'_>,
        embedder: &Bound<'_, PyEmbedder>,
        tokens: &Bound<'_, PyAny>,
        cache: &str,
        max_rows: usize,
        num_threads: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let num_threads = threads_arg(num_threads)?;
        let embedder = embedder.get().inner().clone();
        let (chars, offsets) = texts::gather(tokens)?;
        let cache = match cache {
            "none" => RowCache::None,
            "lazy" => RowCache::Lazy { max_rows },
            "full" => {
                let batch = Texts::new(&chars, &offsets).map_err(to_py)?;
                let mut table = vec![0f32; batch.len() * embedder.dim()];
                run::embed_batch(py, &embedder, &batch, &mut table, num_threads, None)?;
                RowCache::Full(table)
            }
            other => {
                let message = format!("cache={other:?}: expected 'none', 'lazy' or 'full'");
                return Err(PyValueError::new_err(message));
            }
        };
        let inner = BoundVocab::new(embedder, chars, offsets, cache).map_err(to_py)?;
        Ok(PyVocab { inner })
    }

    /// Tokens in the vocabulary.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Rows the cache holds now.
    #[getter]
    fn cached_rows(&self) -> usize {
        self.inner.cached_rows()
    }

    /// The tokens, in id order (for pickling).
    fn tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let strings = (0..self.inner.len())
            .map(|i| ucs4_string(py, self.inner.token(i)))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, strings)
    }

    /// Writes into `out` (C-contiguous, of shape `ids.shape + (dim,)`, float32, float64 or
    /// float16) the row of every id of `ids` (a numpy integer array of any shape and
    /// strides); zeros where `mask` (same shape, bool or integer) is 0 or the id is one of
    /// `zero_ids`. Float32 rows go through the cache; other dtypes compute their ids.
    #[pyo3(signature = (ids, out, mask = None, zero_ids = Vec::new(), num_threads = None))]
    fn embed_ids_into(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
        mask: Option<&Bound<'_, PyAny>>,
        zero_ids: Vec<i64>,
        num_threads: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let num_threads = threads_arg(num_threads)?;
        // Read with the GIL held: the arrays are Python objects another thread could resize
        // meanwhile, and one pass over the ids costs less than releasing and taking it back.
        let index = self.index(ids, mask, &zero_ids)?;
        let writer = IdRows {
            vocab: self,
            py,
            index: &index,
            threads: num_threads,
        };
        // `hashembed.VocabEmbedder` allocates or checks `out` as C-contiguous.
        floats::write::<IxDyn>(out, "out is not C-contiguous", writer, || {
            Err(PyTypeError::new_err(
                "out must be a numpy array of float32, float64 or float16",
            ))
        })
    }
}

/// The rows of ids, as `embed_ids_into` writes them.
struct IdRows<'a, 'py> {
    vocab: &'a PyVocab,
    py: Python<'py>,
    index: &'a [u32],
    threads: Option<usize>,
}

impl floats::Writer for IdRows<'_, '_> {
    fn write<T: Element>(self, out: &mut [T]) -> PyResult<()> {
        self.vocab.run(self.py, self.index, out, self.threads)
    }

    fn write_f32(self, out: &mut [f32]) -> PyResult<()> {
        self.vocab.run_f32(self.py, self.index, out, self.threads)
    }
}

impl PyVocab {
    /// Each position's id, in C order, as `ZERO_ROW` where it gives zeros; an id outside the
    /// vocabulary at a position the mask keeps is an IndexError naming its position. Masked
    /// positions may hold anything: collators pad with -1 or -100 under the mask.
    fn index(
        &self,
        ids: &Bound<'_, PyAny>,
        mask: Option<&Bound<'_, PyAny>>,
        zero_ids: &[i64],
    ) -> PyResult<Vec<u32>> {
        let zero_ids: Vec<i128> = zero_ids.iter().map(|&z| i128::from(z)).collect();
        let shape = untyped(ids, "ids")?.shape().to_vec();
        let masked = match mask {
            Some(mask) => masked_positions(mask, &shape)?,
            None => Vec::new(),
        };
        let mut index = Vec::with_capacity(shape.iter().product());
        let tokens = self.inner.len() as i128;
        let mut bad = None;
        with_ints(ids, "ids", |v| {
            for x in v {
                let p = index.len();
                index.push(if masked.get(p) == Some(&true) || zero_ids.contains(&x) {
                    ZERO_ROW
                } else if (0..tokens).contains(&x) {
                    x as u32
                } else {
                    bad.get_or_insert((p, x));
                    ZERO_ROW
                });
            }
        })?;
        if let Some((p, x)) = bad {
            let kept = if mask.is_some() {
                " where attention_mask is not 0"
            } else {
                ""
            };
            return Err(PyIndexError::new_err(format!(
                "ids{} = {x} is not an id of the vocabulary: expected 0 <= id < {tokens}{kept}",
                position(p, &shape)
            )));
        }
        Ok(index)
    }

    /// Float32 rows: the ids the cache lacks are computed, then every position is written.
    fn run_f32(
        &self,
        py: Python<'_>,
        index: &[u32],
        out: &mut [f32],
        threads: Option<usize>,
    ) -> PyResult<()> {
        let v = &self.inner;
        let ids = py.detach(|| v.missing(index, true)).map_err(to_py)?;
        let rows = self.compute::<f32>(py, &ids, threads)?;
        py.detach(|| v.fill_f32(index, &ids, &rows, out, threads))
            .map_err(to_py)
    }

    /// Rows of another element type, computed for every distinct id (the cache is float32).
    fn run<T: Element>(
        &self,
        py: Python<'_>,
        index: &[u32],
        out: &mut [T],
        threads: Option<usize>,
    ) -> PyResult<()> {
        let v = &self.inner;
        let ids = py.detach(|| v.missing(index, false)).map_err(to_py)?;
        let rows = self.compute::<T>(py, &ids, threads)?;
        py.detach(|| v.fill(index, &ids, &rows, out, threads))
            .map_err(to_py)
    }

    /// The rows of tokens `ids`, computed with the GIL released and interruptibly.
    fn compute<T: Element>(
        &self,
        py: Python<'_>,
        ids: &[u32],
        threads: Option<usize>,
    ) -> PyResult<Vec<T>> {
        let v = &self.inner;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (chars, offsets) = v.batch_of(ids);
        let batch = Texts::new(&chars, &offsets).map_err(to_py)?;
        let n = ids.len() * v.embedder().dim();
        let mut rows = Vec::new();
        rows.try_reserve_exact(n).map_err(|_| {
            PyMemoryError::new_err(format!(
                "the {} distinct ids of this call need {:.1} GB of rows: embed them in chunks",
                ids.len(),
                (n * std::mem::size_of::<T>()) as f64 / 1e9
            ))
        })?;
        rows.resize(n, T::ZERO);
        run::embed_batch(py, v.embedder(), &batch, &mut rows, threads, None)?;
        Ok(rows)
    }
}

/// An array argument's shape and dtype, or a TypeError naming it.
fn untyped<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    name: &str,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    obj.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a numpy array, not {}",
            args::type_name(obj)
        ))
    })
}

/// Whether each position of `mask` (of `shape`, the ids') is 0, in C order.
fn masked_positions(mask: &Bound<'_, PyAny>, shape: &[usize]) -> PyResult<Vec<bool>> {
    let mshape = untyped(mask, "attention_mask")?.shape().to_vec();
    if mshape != shape {
        return Err(PyValueError::new_err(format!(
            "attention_mask has shape {mshape:?}: expected the shape of ids, {shape:?}"
        )));
    }
    let mut masked = Vec::with_capacity(shape.iter().product());
    with_ints(mask, "attention_mask", |v| masked.extend(v.map(|x| x == 0)))?;
    Ok(masked)
}

/// Calls `f` with `obj`'s values as i128, whatever integer (or bool) dtype it has;
/// the view reads the array in place, in C order, whatever its strides.
fn with_ints(
    obj: &Bound<'_, PyAny>,
    name: &str,
    mut f: impl FnMut(&mut dyn Iterator<Item = i128>),
) -> PyResult<()> {
    macro_rules! try_dtype {
        ($($t:ty),*) => {$(
            if let Ok(a) = obj.cast::<PyArrayDyn<$t>>() {
                let ro = a.try_readonly().map_err(|_| {
                    PyValueError::new_err(format!("{name} is being written by another thread"))
                })?;
                let view: ArrayViewD<'_, $t> = ro.as_array();
                // A slice when the array is C-contiguous: iterating a view of dynamic rank
                // indexes every element through its shape, the slowest part of a small call.
                match view.as_slice() {
                    Some(values) => f(&mut values.iter().map(|&x| x as i128)),
                    None => f(&mut view.iter().map(|&x| x as i128)),
                }
                return Ok(());
            }
        )*};
    }
    // i128 holds every value of every integer dtype, so none wraps into the id range.
    try_dtype!(i64, i32, i16, i8, u64, u32, u16, u8);
    if let Ok(a) = obj.cast::<PyArrayDyn<bool>>() {
        let ro = a.try_readonly().map_err(|_| {
            PyValueError::new_err(format!("{name} is being written by another thread"))
        })?;
        let view = ro.as_array();
        match view.as_slice() {
            Some(values) => f(&mut values.iter().map(|&x| i128::from(x))),
            None => f(&mut view.iter().map(|&x| i128::from(x))),
        }
        return Ok(());
    }
    let dtype = untyped(obj, name)?.dtype();
    Err(PyTypeError::new_err(format!(
        "{name} must be an array of integers, not of {dtype}"
    )))
}

/// `[i, j, ...]` for flat position `p` of an array of `shape`.
fn position(mut p: usize, shape: &[usize]) -> String {
    let mut at = vec![0; shape.len()];
    for (k, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            at[k] = p % n;
            p /= n;
        }
    }
    let parts: Vec<String> = at.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// A str of the code points `cps`, lone surrogates included (UTF-32 with "surrogatepass",
/// the limited API's way to make one).
fn ucs4_string<'py>(py: Python<'py>, cps: &[u32]) -> PyResult<Bound<'py, PyString>> {
    let mut order: std::ffi::c_int = -1; // little-endian, as the bytes below
    let bytes: Vec<u8> = cps.iter().flat_map(|c| c.to_le_bytes()).collect();
    // SAFETY: `bytes` is valid for its length; the call copies it into a new str or fails
    // with an exception set, which `from_owned_ptr_or_err` turns into the error.
    unsafe {
        let obj = ffi::PyUnicode_DecodeUTF32(
            bytes.as_ptr().cast(),
            bytes.len() as ffi::Py_ssize_t,
            c"surrogatepass".as_ptr(),
            &mut order,
        );
        Ok(Bound::from_owned_ptr_or_err(py, obj)?.cast_into_unchecked())
    }
}
