//! Python strings to code points. A `str` is read with `PyUnicode_AsUCS4`, which copies its
//! code points as they are: lone surrogates survive, and no UTF-8 round trip can fail.

use pyo3::exceptions::{PyMemoryError, PyTypeError};

use super::args::type_name;
use super::errors::{self, ItemTypeError, ParameterTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

/// Code points in `s`.
fn length(s: &Bound<'_, PyString>) -> PyResult<usize> {
    // SAFETY: `s` is a live str object and we hold the GIL.
    let len = unsafe { ffi::PyUnicode_GetLength(s.as_ptr()) };
    usize::try_from(len).map_err(|_| PyErr::fetch(s.py()))
}

/// The MemoryError for a buffer of `count` code points, which is `limit`.
fn too_big(count: usize, limit: &str) -> PyErr {
    PyMemoryError::new_err(format!(
        "the texts hold {count} code points, {:.1} GB as UTF-32, {limit}: embed them in chunks",
        count as f64 * 4.0 / 1e9
    ))
}

/// Fails with MemoryError if `count` code points (4 bytes each) would not fit in the memory
/// available. A huge batch (say one long str repeated many times) would otherwise fill the
/// memory until the kernel kills the process.
pub fn check_fits(count: usize) -> PyResult<()> {
    let bytes = count.saturating_mul(4) as u64;
    // Reading the available memory costs a file read: only worth it for a large buffer.
    if bytes < 1 << 28 {
        return Ok(());
    }
    match super::available_memory() {
        Some(available) if bytes > available => Err(too_big(
            count,
            &format!("more than the {:.1} GB available", available as f64 / 1e9),
        )),
        _ => Ok(()),
    }
}

/// Makes room for exactly `more` more code points in `buf`, or fails with MemoryError before
/// allocating (a failed allocation would abort the process).
fn reserve(buf: &mut Vec<u32>, more: usize) -> PyResult<()> {
    check_fits(more)?;
    buf.try_reserve_exact(more)
        .map_err(|_| too_big(more, "more than can be allocated"))
}

/// Appends the code points of `s` (`len` of them) to `buf`.
fn push_code_points(s: &Bound<'_, PyString>, len: usize, buf: &mut Vec<u32>) -> PyResult<()> {
    let start = buf.len();
    if buf.capacity() - start < len {
        reserve(buf, len)?;
    }
    // SAFETY: there is room for `len` more u32 after `start`; PyUnicode_AsUCS4 writes
    // exactly `len` code points there (copy_null = 0: no terminator) or fails and writes none
    // we keep. `set_len` follows only a successful copy.
    unsafe {
        let dst = buf.as_mut_ptr().add(start);
        if ffi::PyUnicode_AsUCS4(s.as_ptr(), dst, len as ffi::Py_ssize_t, 0).is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        buf.set_len(start + len);
    }
    Ok(())
}

/// The code points of a `str` argument named `name`.
pub fn code_points(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<u32>> {
    let s = obj.cast::<PyString>().map_err(|_| {
        let message = format!("{name} must be str, not {}", type_name(obj));
        errors::parameter::<ParameterTypeError>(obj.py(), message, name, None, Some(obj.clone()))
    })?;
    let mut buf = Vec::new();
    push_code_points(s, length(s)?, &mut buf)?;
    Ok(buf)
}

/// Calls `f` with every item of a list or tuple, which must all be `str`.
fn for_each_str<'py>(
    seq: &Bound<'py, PyAny>,
    mut f: impl FnMut(&Bound<'py, PyString>) -> PyResult<()>,
) -> PyResult<()> {
    let mut each = |i: usize, item: Bound<'py, PyAny>| {
        let s = item.cast::<PyString>().map_err(|_| {
            let reason = format!("must be str, not {}", type_name(&item));
            errors::item::<ItemTypeError>(item.py(), &format!("texts[{i}]"), i, reason)
        })?;
        f(s)
    };
    if let Ok(list) = seq.cast::<PyList>() {
        list.iter().enumerate().try_for_each(|(i, x)| each(i, x))
    } else if let Ok(tuple) = seq.cast::<PyTuple>() {
        tuple.iter().enumerate().try_for_each(|(i, x)| each(i, x))
    } else {
        Err(PyTypeError::new_err(
            "texts must be a list or tuple of str at this level",
        ))
    }
}

/// Every item of a list or tuple of `str`, as one code point buffer plus `len + 1` offsets.
/// Nothing is returned (and so nothing is written anywhere) unless every item is a `str`.
/// The items are read twice, the GIL held throughout: once to check their types and add up
/// their lengths, so that the buffer is allocated once or refused with MemoryError, then to
/// copy them.
pub fn gather(seq: &Bound<'_, PyAny>) -> PyResult<(Vec<u32>, Vec<usize>)> {
    let mut total = 0usize;
    for_each_str(seq, |s| {
        total = total.saturating_add(length(s)?);
        Ok(())
    })?;
    let mut chars = Vec::new();
    reserve(&mut chars, total)?;
    let mut offsets = Vec::with_capacity(seq.len().unwrap_or(0) + 1);
    offsets.push(0usize);
    for_each_str(seq, |s| {
        push_code_points(s, length(s)?, &mut chars)?;
        offsets.push(chars.len());
        Ok(())
    })?;
    Ok((chars, offsets))
}
