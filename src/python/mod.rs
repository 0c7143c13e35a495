//! The Python extension `hashembed._core`: the only code that knows PyO3. It converts
//! arguments, releases the GIL around the core's work and maps its errors to exceptions.

mod args;
mod embedder;
mod errors;
mod floats;
mod run;
mod texts;
mod vocab;

use numpy::PyArrayMethods;
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::config::{Config, Layout};
use crate::error::Error;
use crate::kernel::{self, Kernel};

/// The exception for a core error. Called with the GIL held (after any `detach`).
fn to_py(e: Error) -> PyErr {
    if let Some(err) = Python::attach(|py| errors::of_core(py, e)) {
        return err;
    }
    match e {
        Error::TooLarge => PyMemoryError::new_err(e.to_string()),
        Error::Threads => PyRuntimeError::new_err(e.to_string()),
        Error::Cancelled => PyKeyboardInterrupt::new_err(e.to_string()),
        Error::Id { .. } => pyo3::exceptions::PyIndexError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Bytes of memory available to new allocations (Linux's MemAvailable), or None if unknown:
/// what large input buffers here, and outputs (`hashembed._checks.check_fits`), must fit in.
#[pyfunction]
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// The kernel `name` (a str, else ParameterTypeError) names, as `setting` (what the message
/// calls it: "kernel" or "HASHEMBED_KERNEL") says it.
fn kernel_named(name: &Bound<'_, PyAny>, setting: &str) -> PyResult<Kernel> {
    let py = name.py();
    let text = name.cast::<PyString>().map_err(|_| {
        let ty = args::type_name(name);
        let message = format!("{setting} must be a str, not {ty}");
        errors::parameter::<errors::ParameterTypeError>(
            py,
            message,
            setting,
            None,
            Some(name.clone()),
        )
    })?;
    let text = text.to_cow()?;
    Kernel::from_name(text.trim()).map_err(|e| {
        let message = match e {
            Error::UnknownKernel => format!(
                "{setting}={text:?} is unknown: expected 'auto', 'scalar', 'avx2' or 'avx512'"
            ),
            e => format!("{setting}={text:?}: {e}"),
        };
        errors::parameter::<errors::ParameterError>(py, message, setting, None, Some(name.clone()))
    })
}

/// Forces the projection kernel for the whole process: "auto", "scalar", "avx2" or "avx512".
#[pyfunction]
fn set_kernel(name: &Bound<'_, PyAny>) -> PyResult<()> {
    kernel::set_active(kernel_named(name, "kernel")?).map_err(to_py)
}

/// `HASHEMBED_KERNEL`, checked: a name the core would ignore (it cannot report one) is an
/// error here, at import, rather than a silent fallback.
fn check_kernel_env(py: Python<'_>) -> PyResult<()> {
    if kernel::from_env().is_ok() {
        return Ok(());
    }
    let value = std::env::var_os("HASHEMBED_KERNEL").unwrap_or_default();
    let value = value.to_string_lossy();
    let message = format!(
        "HASHEMBED_KERNEL={value:?} is unknown: expected 'auto', 'scalar', 'avx2' or 'avx512'"
    );
    let value = Some(PyString::new(py, &value).into_any());
    Err(errors::parameter::<errors::ParameterError>(
        py,
        message,
        "HASHEMBED_KERNEL",
        None,
        value,
    ))
}

/// The kernel in use.
#[pyfunction]
fn get_kernel() -> &'static str {
    kernel::active().name()
}

/// The kernels this CPU can run, slowest first.
#[pyfunction]
fn available_kernels() -> Vec<&'static str> {
    Kernel::ALL
        .into_iter()
        .filter(|k| k.is_supported())
        .map(Kernel::name)
        .collect()
}

/// The default configuration (the spec's), as keyword arguments of `HashEmbedder`: the one
/// source of the defaults, which the Python signature and the CLI are checked against and
/// the C API's `hashembed_config_default` also takes from `Config::default`.
#[pyfunction]
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let c = Config::default();
    let layout = match c.layout {
        Layout::Proportional => PyString::new(py, "proportional").into_any(),
        Layout::Equal => PyString::new(py, "equal").into_any(),
        Layout::Explicit { parts, len } => PyTuple::new(py, &parts[..len])?.into_any(),
    };
    let d = PyDict::new(py);
    d.set_item("dim", c.dim)?;
    d.set_item("max_ngram", c.max_ngram)?;
    d.set_item("layout", layout)?;
    d.set_item("seed", c.seed)?;
    d.set_item("base", c.base)?;
    d.set_item("hash_modulus", c.hash_modulus)?;
    d.set_item("buckets", c.buckets)?;
    d.set_item("hash_seeds", py.None())?;
    d.set_item("boundary_markers", c.boundary_markers)?;
    Ok(d)
}

/// Worker threads a batch uses by default.
#[pyfunction]
fn default_threads() -> usize {
    crate::pool::default_threads()
}

/// Sets up what the bindings take from NumPy (its C API and rust-numpy's borrow checking) so
/// that no later call does it. rust-numpy does it lazily, runs Python code on the way (numpy's
/// version parser) and panics if that fails, so a Ctrl-C landing in a process's first batch
/// was a PanicException. Here the same lookups are made fallibly first, where an exception
/// propagates from the import; rust-numpy's own then find everything imported and cached.
fn init_numpy(py: Python<'_>) -> PyResult<()> {
    numpy::get_array_module(py)?.getattr("_ARRAY_API")?;
    let probe = numpy::PyArray1::<half::f16>::zeros(py, 0, false);
    let _borrow = probe.try_readwrite();
    numpy::dtype::<f32>(py);
    numpy::dtype::<f64>(py);
    Ok(())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_numpy(m.py())?;
    check_kernel_env(m.py())?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<embedder::PyEmbedder>()?;
    m.add_class::<vocab::PyVocab>()?;
    m.add_function(wrap_pyfunction!(set_kernel, m)?)?;
    m.add_function(wrap_pyfunction!(get_kernel, m)?)?;
    m.add_function(wrap_pyfunction!(available_kernels, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(available_memory, m)?)?;
    m.add_function(wrap_pyfunction!(embedder::py_check_out, m)?)?;
    Ok(())
}
