//! Writing an `out` array in whichever float type it holds: float32, float64 or float16.

use numpy::ndarray::Dimension;
use numpy::{PyArray, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::element::{Element, F16};

/// Writes an output array's values, given as a slice of its element type.
pub(super) trait Writer: Sized {
    fn write<T: Element>(self, out: &mut [T]) -> PyResult<()>;

    /// Float32 on its own, for a writer with a faster way to it (the vocabulary's row cache).
    fn write_f32(self, out: &mut [f32]) -> PyResult<()> {
        self.write(out)
    }
}

/// Has `writer` write `out`, a `D`-dimensional array of float32, float64 or float16;
/// `not_slice` is the message when its elements are not one slice, and `wrong_dtype` gives
/// the error for anything else, the callers' wordings differing.
pub(super) fn write<D: Dimension>(
    out: &Bound<'_, PyAny>,
    not_slice: &'static str,
    writer: impl Writer,
    wrong_dtype: impl FnOnce() -> PyResult<()>,
) -> PyResult<()> {
    if let Ok(a) = out.cast::<PyArray<f32, D>>() {
        with_slice(a, not_slice, |s| writer.write_f32(s))
    } else if let Ok(a) = out.cast::<PyArray<f64, D>>() {
        with_slice(a, not_slice, |s| writer.write(s))
    } else if let Ok(a) = out.cast::<PyArray<half::f16, D>>() {
        with_slice(a, not_slice, |s| {
            // SAFETY: `F16` and `half::f16` are both `repr(transparent)` over the u16 bits of
            // an IEEE binary16, so the slice may be viewed as either.
            let bits =
                unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<F16>(), s.len()) };
            writer.write(bits)
        })
    } else {
        wrong_dtype()
    }
}

fn with_slice<T: numpy::Element, D: Dimension>(
    a: &Bound<'_, PyArray<T, D>>,
    not_slice: &'static str,
    f: impl FnOnce(&mut [T]) -> PyResult<()>,
) -> PyResult<()> {
    // The borrow guard keeps other Rust code from taking the array while we write it; the
    // GIL is released inside, as NumPy's own ufuncs do, so the caller must not mutate `out`
    // from another thread meanwhile.
    let mut rw = a.try_readwrite().map_err(not_writable)?;
    let slice = rw
        .as_slice_mut()
        .map_err(|_| PyValueError::new_err(not_slice))?;
    f(slice)
}

/// Why `out` cannot be written: read-only, or already borrowed by Rust code, which happens
/// when it shares memory with another argument of the call (data, offsets or rows) or is being
/// filled by a call running in another thread.
fn not_writable(e: numpy::BorrowError) -> PyErr {
    match e {
        numpy::BorrowError::NotWriteable => PyValueError::new_err("out is read-only"),
        _ => PyValueError::new_err(
            "out is in use: it shares memory with another argument, or another thread is \
             writing into it",
        ),
    }
}
