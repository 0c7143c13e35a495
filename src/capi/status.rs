//! Status codes, the thread-local last-error message, the panic guard every exported
//! function runs its body in, and the pointer checks they share.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

/// A status code as C passes it in: any `int32_t`, not only the values of [`Status`].
pub type hashembed_status = i32;

/// The status every fallible function returns (`hashembed_status`, an `int32_t`, in C).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullPointer = 1,
    /// The configuration is invalid (a parameter out of range, a bad layout or hash seeds).
    InvalidConfig = 2,
    /// An output buffer is too small for the values the call writes.
    BufferSize = 3,
    /// A text is not valid UTF-8.
    InvalidUtf8 = 4,
    /// Batch offsets decrease or run past the end of the text buffer.
    InvalidOffsets = 5,
    /// A UTF-32 value above 0x10FFFF.
    InvalidCodePoint = 6,
    /// Another argument is invalid: a misaligned pointer, a thread count above 1024, or an
    /// unknown `HASHEMBED_KERNEL`.
    InvalidArgument = 7,
    /// A size overflows the address space.
    TooLarge = 8,
    /// The worker threads of a batch could not be started.
    Threads = 9,
    /// An internal error (a bug in hashembed): a panic was caught at the boundary.
    Panic = 10,
}

impl Status {
    /// The short description `hashembed_status_str` returns.
    fn describe(code: hashembed_status) -> &'static CStr {
        match code {
            0 => c"ok",
            1 => c"a required pointer is NULL",
            2 => c"invalid configuration",
            3 => c"output buffer too small",
            4 => c"text is not valid UTF-8",
            5 => c"invalid batch offsets",
            6 => c"value is not a Unicode code point",
            7 => c"invalid argument",
            8 => c"size too large for the address space",
            9 => c"could not start worker threads",
            10 => c"internal error (panic)",
            _ => c"unknown status code",
        }
    }
}

/// A failed call: its status and the message `hashembed_last_error` will return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Status,
    pub message: String,
}

impl Failure {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::OutOfRange { .. }
            | Error::LayoutLength { .. }
            | Error::LayoutPartZero { .. }
            | Error::LayoutSum { .. }
            | Error::LayoutPartEmpty { .. }
            | Error::HashSeedsLength { .. }
            | Error::HashSeed { .. } => Status::InvalidConfig,
            Error::OutputLength { .. } => Status::BufferSize,
            Error::Utf8 { .. } => Status::InvalidUtf8,
            Error::Offsets { .. } => Status::InvalidOffsets,
            Error::TooLarge => Status::TooLarge,
            Error::Threads => Status::Threads,
            // None of these can come from a C API call; if one does, it is a bug.
            Error::RowsLength { .. }
            | Error::Row { .. }
            | Error::Id { .. }
            | Error::UnknownKernel
            | Error::UnsupportedKernel { .. }
            | Error::Cancelled => Status::Panic,
        };
        Failure::new(status, e.to_string())
    }
}

pub type Result<T> = core::result::Result<T, Failure>;

thread_local! {
    /// The message of the last failed call on this thread; empty until one fails.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: String) {
    // A NUL inside the message would cut it short in C; show it instead.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // During thread teardown the slot may be gone; the status code still reports the failure.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = c;
        }
    });
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

/// Runs `body` with panics caught; a failure or panic is stored as the last error, prefixed
/// with `name` (the exported function's name).
pub fn guard(name: &str, body: impl FnOnce() -> Result<()>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok,
        Ok(Err(f)) => {
            set_last_error(format!("{name}: {}", f.message));
            f.status
        }
        Err(payload) => {
            set_last_error(format!(
                "{name}: internal error (panic): {}",
                panic_text(&*payload)
            ));
            // Dropping a payload can itself panic; that must not unwind into C either.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            Status::Panic
        }
    }
}

/// Checks that `len` values of `T` may be read or written at `ptr`: non-NULL and aligned
/// unless `len` is 0, and not larger than the address space allows.
fn check_ptr<T>(ptr: *const T, len: usize, what: &str) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    if ptr.is_null() {
        return Err(Failure::new(
            Status::NullPointer,
            format!("{what} is NULL but its length is {len}"),
        ));
    }
    if !ptr.is_aligned() {
        return Err(Failure::new(
            Status::InvalidArgument,
            format!(
                "{what} is not aligned to {} bytes",
                core::mem::align_of::<T>()
            ),
        ));
    }
    if len > isize::MAX as usize / core::mem::size_of::<T>().max(1) {
        return Err(Failure::new(
            Status::TooLarge,
            format!("{what} has length {len}, more than the address space holds"),
        ));
    }
    Ok(())
}

/// Checks that `ptr` may point to one value: non-NULL and aligned.
pub fn check_one<T>(ptr: *const T, what: &str) -> Result<()> {
    if ptr.is_null() {
        return Err(Failure::new(Status::NullPointer, format!("{what} is NULL")));
    }
    if !ptr.is_aligned() {
        return Err(Failure::new(
            Status::InvalidArgument,
            format!("{what} is misaligned"),
        ));
    }
    Ok(())
}

/// The `len` values at `ptr`, which may be NULL when `len` is 0.
///
/// # Safety
/// Unless `len` is 0 or `ptr` is NULL, `ptr` must point to `len` initialised values that
/// nothing writes while the returned slice lives.
pub unsafe fn input<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T]> {
    check_ptr(ptr, len, what)?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: non-NULL, aligned and within the address space (checked); valid for `len`
    // reads by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The first `need` values of the caller's buffer of `capacity` values at `ptr`.
///
/// # Safety
/// Unless `capacity` is 0 or `ptr` is NULL, `ptr` must point to `capacity` writable values
/// that nothing else accesses while the returned slice lives.
pub unsafe fn output<'a, T>(
    ptr: *mut T,
    capacity: usize,
    need: usize,
    what: &str,
) -> Result<&'a mut [T]> {
    if capacity < need {
        return Err(Failure::new(
            Status::BufferSize,
            format!("{what} holds {capacity} values: expected at least {need}"),
        ));
    }
    check_ptr(ptr, capacity, what)?;
    if need == 0 {
        return Ok(&mut []);
    }
    // SAFETY: non-NULL and aligned (checked), `need <= capacity`, and valid for `capacity`
    // writes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, need) })
}

/// The message of the last call on this thread that failed (`""` if none has), as a
/// NUL-terminated UTF-8 string owned by the library. It stays valid until the next failing
/// call on the same thread, or until the thread exits; successful calls do not change it.
#[unsafe(no_mangle)]
pub extern "C" fn hashembed_last_error() -> *const c_char {
    catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| slot.try_borrow().ok().map(|s| s.as_ptr()))
            .ok()
            .flatten()
    })
    .ok()
    .flatten()
    .unwrap_or(c"".as_ptr())
}

/// A short static description of a status code (`"unknown status code"` for other values).
#[unsafe(no_mangle)]
pub extern "C" fn hashembed_status_str(status: hashembed_status) -> *const c_char {
    Status::describe(status).as_ptr()
}

/// The library version, such as `"0.1.0"`, as a static NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn hashembed_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
