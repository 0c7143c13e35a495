//! Python strings to code points. A `str` is read with `PyUnicode_AsUCS4`, which copies its
//! code points as they are: lone surrogates survive, and no UTF-8 round trip can fail.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

/// Appends the code points of `s` to `buf`.
pub fn push_code_points(s: &Bound<'_, PyString>, buf: &mut Vec<u32>) -> PyResult<()> {
    // SAFETY: `s` is a live str object and we hold the GIL.
    let len = unsafe { ffi::PyUnicode_GetLength(s.as_ptr()) };
    if len < 0 {
        return Err(PyErr::fetch(s.py()));
    }
    let start = buf.len();
    buf.reserve(len as usize);
    // SAFETY: `reserve` made room for `len` more u32 after `start`; PyUnicode_AsUCS4 writes
    // exactly `len` code points there (copy_null = 0: no terminator) or fails and writes none
    // we keep. `set_len` follows only a successful copy.
    unsafe {
        let dst = buf.as_mut_ptr().add(start);
        if ffi::PyUnicode_AsUCS4(s.as_ptr(), dst, len, 0).is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        buf.set_len(start + len as usize);
    }
    Ok(())
}

/// The code points of a `str` argument named `name`.
pub fn code_points(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<u32>> {
    let s = obj.cast::<PyString>().map_err(|_| not_str(obj, name))?;
    let mut buf = Vec::new();
    push_code_points(s, &mut buf)?;
    Ok(buf)
}

fn not_str(obj: &Bound<'_, PyAny>, name: &str) -> PyErr {
    let ty = obj
        .get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string());
    PyTypeError::new_err(format!("{name} must be str, not {ty}"))
}

/// Every item of a list or tuple of `str`, as one code point buffer plus `len + 1` offsets.
/// Nothing is returned (and so nothing is written anywhere) unless every item is a `str`.
pub fn gather(seq: &Bound<'_, PyAny>) -> PyResult<(Vec<u32>, Vec<usize>)> {
    let mut chars = Vec::new();
    let mut offsets = Vec::with_capacity(seq.len().unwrap_or(0) + 1);
    offsets.push(0usize);
    let mut push = |i: usize, item: Bound<'_, PyAny>| -> PyResult<()> {
        let s = item
            .cast::<PyString>()
            .map_err(|_| not_str(&item, &format!("texts[{i}]")))?;
        push_code_points(s, &mut chars)?;
        offsets.push(chars.len());
        Ok(())
    };
    if let Ok(list) = seq.cast::<PyList>() {
        for (i, item) in list.iter().enumerate() {
            push(i, item)?;
        }
    } else if let Ok(tuple) = seq.cast::<PyTuple>() {
        for (i, item) in tuple.iter().enumerate() {
            push(i, item)?;
        }
    } else {
        return Err(PyTypeError::new_err(
            "texts must be a list or tuple of str at this level",
        ));
    }
    Ok((chars, offsets))
}
