//! Exceptions that say which parameter or which item an error is about, as attributes, so
//! that Python code (tokens, Arrow, the CLI) renames an item without reading a message back.
//! They subclass the ValueError and TypeError raised before they existed.

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::{BoundObject, PyTypeInfo};

use crate::error::{Error, Utf8Reason};

create_exception!(
    hashembed,
    ParameterError,
    PyValueError,
    "A parameter out of its range: `.parameter` is its name, `.value` the value given and \
     `.index` the position of the bad element for a sequence (layout, hash_seeds, rows), else None."
);
create_exception!(
    hashembed,
    ParameterTypeError,
    PyTypeError,
    "A parameter of the wrong type; attributes as for ParameterError."
);
create_exception!(
    hashembed,
    ItemError,
    PyValueError,
    "An item of a batch that cannot be embedded: `.index` is its position, `.reason` the \
     message after the item's name; for invalid UTF-8, `.byte` is where it goes wrong."
);
create_exception!(
    hashembed,
    ItemTypeError,
    PyTypeError,
    "An item of a batch of the wrong type; attributes as for ItemError."
);

/// Sets `attrs` on the exception `err`. Setting an attribute on an exception instance only
/// fails on memory exhaustion, and the exception is still worth raising then.
fn with_attrs(py: Python<'_>, err: PyErr, attrs: &[(&str, Bound<'_, PyAny>)]) -> PyErr {
    let value = err.value(py);
    for (name, v) in attrs {
        let _ = value.setattr(*name, v);
    }
    err
}

/// `v` as a Python object; None if it cannot be made (it can only fail on memory exhaustion).
fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> Bound<'py, PyAny> {
    v.into_pyobject(py)
        .map_or_else(|_| py.None().into_bound(py), |o| o.into_any().into_bound())
}

/// A ParameterError (or, with `T` = ParameterTypeError, a TypeError) about `parameter`.
pub fn parameter<T: PyTypeInfo>(
    py: Python<'_>,
    message: String,
    parameter: &str,
    index: Option<usize>,
    value: Option<Bound<'_, PyAny>>,
) -> PyErr {
    let attrs = [
        ("parameter", PyString::new(py, parameter).into_any()),
        ("index", obj(py, index)),
        ("value", value.unwrap_or_else(|| py.None().into_bound(py))),
    ];
    with_attrs(py, PyErr::new::<T, _>(message), &attrs)
}

/// An ItemError or ItemTypeError: "`name` `reason`", `name` being how the message refers to
/// item `index` (such as "texts[3]").
pub fn item<T: PyTypeInfo>(py: Python<'_>, name: &str, index: usize, reason: String) -> PyErr {
    let message = format!("{name} {reason}");
    let attrs = [
        ("index", obj(py, index)),
        ("reason", PyString::new(py, &reason).into_any()),
    ];
    with_attrs(py, PyErr::new::<T, _>(message), &attrs)
}

/// The exception for one of the core's errors about a parameter or an item, if it is one.
pub fn of_core(py: Python<'_>, e: Error) -> Option<PyErr> {
    let message = e.to_string();
    let param = |name: &str, index: Option<usize>, value: Option<u64>| {
        parameter::<ParameterError>(py, message.clone(), name, index, value.map(|v| obj(py, v)))
    };
    Some(match e {
        Error::OutOfRange {
            param: name, value, ..
        } => param(name, None, Some(value)),
        Error::LayoutLength { .. } | Error::LayoutSum { .. } | Error::LayoutPartEmpty { .. } => {
            param("layout", None, None)
        }
        Error::LayoutPartZero { index } => param("layout", Some(index), Some(0)),
        Error::HashSeedsLength { .. } => param("hash_seeds", None, None),
        Error::HashSeed { index, value, .. } => param("hash_seeds", Some(index), Some(value)),
        Error::RowsLength { .. } => param("rows", None, None),
        Error::Row { index, row, .. } => param("rows", Some(index), Some(row as u64)),
        Error::Offsets { index } => param("offsets", Some(index), None),
        Error::OutputLength { .. } => param("out", None, None),
        Error::Utf8 { index, byte } => {
            let reason = Utf8Reason(byte).to_string();
            let err = item::<ItemError>(py, &format!("text {index}"), index, reason);
            with_attrs(py, err, &[("byte", obj(py, byte))])
        }
        _ => return None,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ParameterError", py.get_type::<ParameterError>())?;
    m.add("ParameterTypeError", py.get_type::<ParameterTypeError>())?;
    m.add("ItemError", py.get_type::<ItemError>())?;
    m.add("ItemTypeError", py.get_type::<ItemTypeError>())?;
    Ok(())
}
