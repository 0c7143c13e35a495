//! `hashembed._core.Embedder`, the native object a `hashembed.HashEmbedder` holds.

use numpy::{
    npyffi, Ix2, PyArray1, PyArrayDescr, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray1,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBool, PyTuple};

use super::errors::{self, ParameterError, ParameterTypeError};
use super::{args, floats, run, texts, to_py};
use crate::batch::{Texts, LONG_TEXT};
use crate::config::{range_text, Config, MAX_NGRAM};
use crate::element::Element;
use crate::embedder::Embedder;
use crate::error::Error;
use crate::utf8::decode_rows;

/// An embedding function with a fixed configuration. Immutable, so it is shared freely
/// between threads.
#[pyclass(name = "Embedder", module = "hashembed._core", frozen)]
pub struct PyEmbedder {
    inner: Embedder,
}

impl PyEmbedder {
    pub(super) fn inner(&self) -> &Embedder {
        &self.inner
    }
}

#[pymethods]
impl PyEmbedder {
    /// Every argument is required here; `hashembed.HashEmbedder` supplies the defaults.
    #[new]
    #[pyo3(signature = (
        dim, *, max_ngram, layout, seed, base, hash_modulus, buckets, hash_seeds,
        boundary_markers,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dim: &Bound<'_, PyAny>,
        max_ngram: &Bound<'_, PyAny>,
        layout: &Bound<'_, PyAny>,
        seed: &Bound<'_, PyAny>,
        base: &Bound<'_, PyAny>,
        hash_modulus: &Bound<'_, PyAny>,
        buckets: &Bound<'_, PyAny>,
        hash_seeds: &Bound<'_, PyAny>,
        boundary_markers: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let max_ngram = args::param(max_ngram, "max_ngram")?;
        if !(1..=MAX_NGRAM as u64).contains(&max_ngram) {
            // Checked before the layout, whose length depends on it.
            return Err(to_py(Error::OutOfRange {
                param: "max_ngram",
                value: max_ngram,
                range: range_text("max_ngram"),
            }));
        }
        let config = Config {
            dim: args::param(dim, "dim")?,
            max_ngram,
            layout: args::layout(layout, max_ngram)?,
            seed: args::param(seed, "seed")?,
            base: args::param(base, "base")?,
            hash_modulus: args::param(hash_modulus, "hash_modulus")?,
            buckets: args::param(buckets, "buckets")?,
            boundary_markers: args::flag(boundary_markers, "boundary_markers")?,
        };
        let inner = if hash_seeds.is_none() {
            Embedder::new(&config)
        } else {
            config.validate().map_err(to_py)?;
            Embedder::with_hash_seeds(&config, &args::hash_seeds(hash_seeds)?)
        }
        .map_err(to_py)?;
        Ok(PyEmbedder { inner })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn max_ngram(&self) -> usize {
        self.inner.params().max_ngram
    }

    /// Output positions of each n-gram size, smallest size first.
    #[getter]
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.params().part_sizes().collect::<Vec<_>>())
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.params().seed
    }

    #[getter]
    fn base(&self) -> u32 {
        self.inner.params().base
    }

    #[getter]
    fn hash_modulus(&self) -> u32 {
        self.inner.params().hash_modulus
    }

    #[getter]
    fn buckets(&self) -> u32 {
        self.inner.params().buckets
    }

    /// A copy of the hash seeds, one per output position.
    #[getter]
    fn hash_seeds<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, self.inner.hash_seeds())
    }

    /// Whether texts are wrapped in U+0002 ... U+0003 before hashing.
    #[getter]
    fn boundary_markers(&self) -> bool {
        self.inner.params().boundary_markers
    }

    /// Whether the seeds were given explicitly rather than derived from `seed`.
    #[getter]
    fn explicit_hash_seeds(&self) -> bool {
        self.inner.has_explicit_seeds()
    }

    /// Equal when both compute the same function (see the core's `Embedder`: `seed` alone
    /// does not count, since it only derives the seeds).
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        let Ok(other) = other.cast::<PyEmbedder>() else {
            return py.NotImplemented();
        };
        let equal = self.inner == other.get().inner;
        let result = match op {
            CompareOp::Eq => equal,
            CompareOp::Ne => !equal,
            _ => return py.NotImplemented(),
        };
        PyBool::new(py, result).to_owned().into_any().unbind()
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        // Fixed keys: the same function hashes the same in every process.
        BuildHasherDefault::<DefaultHasher>::default().hash_one(&self.inner)
    }

    /// The float32 embedding of one string, shape `(dim,)`.
    fn embed<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let cps = texts::code_points(text, "text")?;
        let out = PyArray1::<f32>::zeros(py, [self.inner.dim()], false);
        {
            let mut rw = out.readwrite();
            let slice = rw.as_slice_mut()?;
            if cps.len() < LONG_TEXT {
                self.inner.embed_into(&cps, slice).map_err(to_py)?;
            } else {
                // Long texts go through the batch path: split across cores, GIL released.
                let offsets = [0, cps.len()];
                let one = Texts::new(&cps, &offsets).map_err(to_py)?;
                run::embed_batch(py, &self.inner, &one, slice, None, None)?;
            }
        }
        Ok(out)
    }

    /// Fills `out` (C-contiguous, writable, 2-D with `dim` columns, float32, float64 or
    /// float16) with the embeddings of `texts`, a list or tuple of `str`: text `i` goes to row
    /// `rows[i]` (distinct int64 row numbers), or to row `i` with exactly one row per text.
    #[pyo3(signature = (texts, out, num_threads = None, rows = None))]
    fn embed_batch_into(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
        num_threads: Option<&Bound<'_, PyAny>>,
        rows: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let threads = threads_arg(num_threads)?;
        let rows = rows
            .map(|r| array_arg::<i64>(r, "rows", "int64"))
            .transpose()?;
        let (chars, offsets) = texts::gather(texts)?;
        let batch = Texts::new(&chars, &offsets).map_err(to_py)?;
        write_rows(
            py,
            &self.inner,
            &batch,
            out,
            threads,
            rows_arg(rows.as_ref())?.as_deref(),
        )
    }

    /// As `embed_batch_into`, for texts given as UTF-8: text `i` is
    /// `data[offsets[i]:offsets[i + 1]]` (the layout of an Arrow string array).
    #[pyo3(signature = (data, offsets, out, num_threads = None, rows = None))]
    fn embed_utf8_into(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        offsets: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
        num_threads: Option<&Bound<'_, PyAny>>,
        rows: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let threads = threads_arg(num_threads)?;
        let data = array_arg::<u8>(data, "data", "uint8")?;
        let offsets = array_arg::<i64>(offsets, "offsets", "int64")?;
        let rows = rows
            .map(|r| array_arg::<i64>(r, "rows", "int64"))
            .transpose()?;
        let offs: Vec<u64> = offsets
            .as_array()
            .iter()
            .enumerate()
            .map(|(i, &o)| u64::try_from(o).map_err(|_| to_py(Error::Offsets { index: i })))
            .collect::<PyResult<_>>()?;
        let bytes = data.as_array();
        let bytes = bytes
            .as_slice()
            .ok_or_else(|| PyValueError::new_err("data is not contiguous"))?;
        texts::check_fits(bytes.len())?;
        let (chars, offsets) = py.detach(|| decode_rows(bytes, &offs)).map_err(to_py)?;
        let batch = Texts::new(&chars, &offsets).map_err(to_py)?;
        write_rows(
            py,
            &self.inner,
            &batch,
            out,
            threads,
            rows_arg(rows.as_ref())?.as_deref(),
        )
    }
}

pub(super) fn threads_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    const RANGE: &str = "None or 1 <= num_threads <= 1024";
    match obj.filter(|o| !o.is_none()) {
        None => Ok(None),
        Some(o) => {
            let n = args::int_arg(o, "num_threads", None, RANGE)?;
            if !(1..=1024).contains(&n) {
                let message = format!("num_threads={n} is out of range: expected {RANGE}");
                return Err(errors::parameter::<ParameterError>(
                    o.py(),
                    message,
                    "num_threads",
                    None,
                    Some(o.clone()),
                ));
            }
            Ok(Some(n as usize))
        }
    }
}

/// A 1-D array argument of `T` (`dtype` names it), or a TypeError saying what it is instead
/// (PyO3's own says "'ndarray' object is not an instance of 'ndarray'").
fn array_arg<'py, T: numpy::Element>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    dtype: &str,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let py = obj.py();
    let wrong = |what: String| {
        let message = format!("{name} must be a 1-D numpy array of {dtype}, not {what}");
        errors::parameter::<ParameterTypeError>(py, message, name, None, None)
    };
    let Ok(array) = obj.cast::<PyArray1<T>>() else {
        return Err(wrong(match obj.cast::<PyUntypedArray>() {
            Ok(a) => format!("a {}-D array of {}", a.ndim(), a.dtype()),
            Err(_) => args::type_name(obj),
        }));
    };
    array
        .try_readonly()
        .map_err(|_| PyValueError::new_err(format!("{name} is being written by another thread")))
}

fn rows_arg(rows: Option<&PyReadonlyArray1<'_, i64>>) -> PyResult<Option<Vec<usize>>> {
    rows.map(|r| {
        r.as_array()
            .iter()
            .enumerate()
            .map(|(index, &row)| {
                usize::try_from(row).map_err(|_| {
                    let message = format!("rows[{index}]={row} is negative");
                    let value = row.into_pyobject(r.py()).ok().map(|v| v.into_any());
                    errors::parameter::<ParameterError>(r.py(), message, "rows", Some(index), value)
                })
            })
            .collect()
    })
    .transpose()
}

/// Checks `out` and writes the batch into it, in whichever float type it holds.
fn write_rows(
    py: Python<'_>,
    embedder: &Embedder,
    batch: &Texts<'_>,
    out: &Bound<'_, PyAny>,
    threads: Option<usize>,
    rows: Option<&[usize]>,
) -> PyResult<()> {
    let want_rows = rows.is_none().then_some(batch.len());
    check_out(out, &[want_rows, Some(embedder.dim())], None)?;
    let writer = Batch {
        py,
        embedder,
        batch,
        threads,
        rows,
    };
    // `check_out` passed, so the elements are one slice, but that stays checked.
    floats::write::<Ix2>(out, "out is not aligned for its dtype", writer, || {
        let dtype = out.getattr("dtype")?;
        let message = format!("out has dtype {dtype}: expected float32, float64 or float16");
        let value = Some(out.clone());
        Err(errors::parameter::<ParameterError>(
            py, message, "out", None, value,
        ))
    })
}

/// A batch's rows, as `write_rows` writes them.
struct Batch<'a, 'py> {
    py: Python<'py>,
    embedder: &'a Embedder,
    batch: &'a Texts<'a>,
    threads: Option<usize>,
    rows: Option<&'a [usize]>,
}

impl floats::Writer for Batch<'_, '_> {
    fn write<T: Element>(self, out: &mut [T]) -> PyResult<()> {
        run::embed_batch(
            self.py,
            self.embedder,
            self.batch,
            out,
            self.threads,
            self.rows,
        )
    }
}

/// `(a, b)`, as Python writes a shape; `None` is any length, shown as "rows".
fn shape_text(shape: impl IntoIterator<Item = Option<usize>>) -> String {
    let parts: Vec<String> = shape
        .into_iter()
        .map(|n| n.map_or_else(|| "rows".to_owned(), |n| n.to_string()))
        .collect();
    match parts.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", parts.join(", ")),
    }
}

/// Checks an output array, for every call that writes one (here, and from Python through
/// `_core.check_out`, so the rules and their messages have one home): an ndarray of `shape`
/// (`None`: any length on that axis), of `dtype` when given (else any, the float types being
/// checked when it is written), C-contiguous, writable and aligned.
fn check_out<'py>(
    out: &Bound<'py, PyAny>,
    shape: &[Option<usize>],
    dtype: Option<&Bound<'py, PyArrayDescr>>,
) -> PyResult<()> {
    let py = out.py();
    let error = |message: String| {
        errors::parameter::<ParameterError>(py, message, "out", None, Some(out.clone()))
    };
    let arr = out.cast::<PyUntypedArray>().map_err(|_| {
        let message = format!("out must be a numpy.ndarray, not {}", args::type_name(out));
        errors::parameter::<ParameterTypeError>(py, message, "out", None, Some(out.clone()))
    })?;
    let fits = arr.ndim() == shape.len()
        && arr
            .shape()
            .iter()
            .zip(shape)
            .all(|(n, want)| want.is_none_or(|w| *n == w));
    if !fits {
        let got = shape_text(arr.shape().iter().map(|&n| Some(n)));
        let want = shape_text(shape.iter().copied());
        return Err(error(format!("out has shape {got}: expected {want}")));
    }
    if let Some(dt) = dtype {
        if !arr.dtype().is_equiv_to(dt) {
            return Err(error(format!(
                "out has dtype {}: expected {dt} (the dtype argument)",
                arr.dtype()
            )));
        }
    }
    // SAFETY: `arr` is a live ndarray; reading its flags.
    let flags = unsafe { (*arr.as_array_ptr()).flags };
    if !arr.is_c_contiguous() {
        return Err(error("out is not C-contiguous".to_owned()));
    }
    if flags & npyffi::NPY_ARRAY_WRITEABLE == 0 {
        return Err(error("out is read-only".to_owned()));
    }
    if flags & npyffi::NPY_ARRAY_ALIGNED == 0 {
        return Err(error(format!(
            "out is not aligned to its {} items: allocate it with numpy",
            arr.dtype()
        )));
    }
    Ok(())
}

/// `check_out` for Python callers: `shape` a tuple of ints, `dtype` a numpy dtype.
#[pyfunction(name = "check_out")]
pub fn py_check_out<'py>(
    out: &Bound<'py, PyAny>,
    shape: Vec<usize>,
    dtype: &Bound<'py, PyArrayDescr>,
) -> PyResult<()> {
    let shape: Vec<Option<usize>> = shape.into_iter().map(Some).collect();
    check_out(out, &shape, Some(dtype))
}
