//! Constructor arguments: Python ints (never bools, floats or strings) checked against the
//! core's ranges, so every message names the parameter, the value and the valid range.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use crate::config::{range_text, Layout, MAX_NGRAM};
use crate::error::Error;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// An integer argument as u64; `name` is how the message refers to it (e.g. "hash_seeds[3]").
pub fn int_arg(obj: &Bound<'_, PyAny>, name: &str, range: &str) -> PyResult<u64> {
    let index = if obj.is_instance_of::<PyBool>() {
        None
    } else {
        // `__index__` admits Python and NumPy integers and rejects floats and strings.
        obj.call_method0("__index__").ok()
    };
    let Some(value) = index else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int, not {}",
            type_name(obj)
        )));
    };
    value.extract::<u64>().map_err(|_| {
        PyValueError::new_err(format!("{name}={value} is out of range: expected {range}"))
    })
}

/// A yes/no parameter: a bool (NumPy's included), nothing else.
pub fn flag(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(b.is_true());
    }
    if type_name(obj) == "bool" {
        return obj.is_truthy();
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a bool, not {}",
        type_name(obj)
    )))
}

/// A numeric constructor parameter.
pub fn param(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<u64> {
    int_arg(obj, name, range_text(name))
}

/// `layout`: "proportional", "equal" or one positive int per n-gram size.
pub fn layout(obj: &Bound<'_, PyAny>, max_ngram: u64) -> PyResult<Layout> {
    let expected =
        "'proportional', 'equal' or a sequence of max_ngram positive ints summing to dim";
    if let Ok(s) = obj.cast::<PyString>() {
        return match &*s.to_cow()? {
            "proportional" => Ok(Layout::Proportional),
            "equal" => Ok(Layout::Equal),
            other => Err(PyValueError::new_err(format!(
                "layout={other:?} is unknown: expected {expected}"
            ))),
        };
    }
    let items: Vec<Bound<'_, PyAny>> =
        obj.try_iter().and_then(|it| it.collect()).map_err(|_| {
            PyTypeError::new_err(format!("layout must be {expected}, not {}", type_name(obj)))
        })?;
    if items.len() as u64 != max_ngram {
        let e = Error::LayoutLength {
            expected: max_ngram as usize,
            got: items.len(),
        };
        return Err(PyValueError::new_err(e.to_string()));
    }
    let parts = items
        .iter()
        .enumerate()
        .map(|(i, x)| int_arg(x, &format!("layout[{i}]"), "a positive int"))
        .collect::<PyResult<Vec<u64>>>()?;
    debug_assert!(parts.len() <= MAX_NGRAM);
    Layout::explicit(&parts).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `hash_seeds`: a sequence of ints (their range is checked by the core against `buckets`).
pub fn hash_seeds(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    let it = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "hash_seeds must be a sequence of ints, not {}",
            type_name(obj)
        ))
    })?;
    it.enumerate()
        .map(|(i, x)| int_arg(&x?, &format!("hash_seeds[{i}]"), "1 <= h < buckets"))
        .collect()
}
