//! Constructor arguments: Python ints (never bools, floats or strings) checked against the
//! core's ranges, so every message names the parameter, the value and the valid range.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use super::errors::{self, ParameterError, ParameterTypeError};
use super::to_py;

use crate::config::{range_text, Layout, MAX_NGRAM};
use crate::error::Error;

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// An integer argument as u64: parameter `name`, or element `index` of it.
pub fn int_arg(
    obj: &Bound<'_, PyAny>,
    name: &str,
    index: Option<usize>,
    range: &str,
) -> PyResult<u64> {
    let py = obj.py();
    let label = match index {
        Some(i) => format!("{name}[{i}]"),
        None => name.to_owned(),
    };
    let as_int = if obj.is_instance_of::<PyBool>() {
        None
    } else {
        // PyNumber_Index admits Python and NumPy integers and rejects floats and strings,
        // and (unlike calling `__index__`) an `__index__` that returns something else.
        // SAFETY: `obj` is a live object and we hold the GIL; a new reference or NULL.
        let raw = unsafe { ffi::PyNumber_Index(obj.as_ptr()) };
        // SAFETY: as above; NULL (with an exception set, fetched and dropped) is None.
        unsafe { Bound::from_owned_ptr_or_err(py, raw) }.ok()
    };
    let Some(value) = as_int else {
        let message = format!("{label} must be an int, not {}", type_name(obj));
        return Err(errors::parameter::<ParameterTypeError>(
            py,
            message,
            name,
            index,
            Some(obj.clone()),
        ));
    };
    value.extract::<u64>().map_err(|_| {
        let message = format!("{label}={value} is out of range: expected {range}");
        errors::parameter::<ParameterError>(py, message, name, index, Some(value.clone()))
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
    let message = format!("{name} must be a bool, not {}", type_name(obj));
    Err(errors::parameter::<ParameterTypeError>(
        obj.py(),
        message,
        name,
        None,
        Some(obj.clone()),
    ))
}

/// A numeric constructor parameter.
pub fn param(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<u64> {
    int_arg(obj, name, None, range_text(name))
}

/// `layout`: "proportional", "equal" or one positive int per n-gram size.
pub fn layout(obj: &Bound<'_, PyAny>, max_ngram: u64) -> PyResult<Layout> {
    let expected =
        "'proportional', 'equal' or a sequence of max_ngram positive ints summing to dim";
    if let Ok(s) = obj.cast::<PyString>() {
        return match &*s.to_cow()? {
            "proportional" => Ok(Layout::Proportional),
            "equal" => Ok(Layout::Equal),
            other => {
                let message = format!("layout={other:?} is unknown: expected {expected}");
                let value = Some(obj.clone());
                Err(errors::parameter::<ParameterError>(
                    obj.py(),
                    message,
                    "layout",
                    None,
                    value,
                ))
            }
        };
    }
    let items: Vec<Bound<'_, PyAny>> =
        obj.try_iter().and_then(|it| it.collect()).map_err(|_| {
            let message = format!("layout must be {expected}, not {}", type_name(obj));
            let value = Some(obj.clone());
            errors::parameter::<ParameterTypeError>(obj.py(), message, "layout", None, value)
        })?;
    if items.len() as u64 != max_ngram {
        return Err(to_py(Error::LayoutLength {
            expected: max_ngram as usize,
            got: items.len(),
        }));
    }
    let parts = items
        .iter()
        .enumerate()
        .map(|(i, x)| int_arg(x, "layout", Some(i), "a positive int"))
        .collect::<PyResult<Vec<u64>>>()?;
    debug_assert!(parts.len() <= MAX_NGRAM);
    Layout::explicit(&parts).map_err(to_py)
}

/// `hash_seeds`: a sequence of ints (their range is checked by the core against `buckets`).
pub fn hash_seeds(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    let it = obj.try_iter().map_err(|_| {
        let message = format!(
            "hash_seeds must be a sequence of ints, not {}",
            type_name(obj)
        );
        let value = Some(obj.clone());
        errors::parameter::<ParameterTypeError>(obj.py(), message, "hash_seeds", None, value)
    })?;
    it.enumerate()
        .map(|(i, x)| int_arg(&x?, "hash_seeds", Some(i), "1 <= h < buckets"))
        .collect()
}
