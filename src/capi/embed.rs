//! Embedding calls: one text (UTF-8 or UTF-32) or a batch (one buffer plus offsets), into a
//! caller's float32 or float64 buffer; and the sizes those buffers need.

// The batch calls take a text buffer, offsets, an output buffer and a thread count.
#![allow(clippy::too_many_arguments)]

use std::ffi::c_char;

use super::config::{embedder_ref, hashembed_embedder};
use super::status::{guard, input, output, Failure, Result, Status};
use crate::batch::{BatchOptions, Texts};
use crate::element::Element;
use crate::embedder::Embedder;
use crate::utf8::decode_rows;

/// Largest accepted `threads` argument (the Python binding's limit too).
const MAX_THREADS: usize = 1024;

fn utf8_chars(bytes: &[u8]) -> Result<Vec<u32>> {
    let s = core::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            Status::InvalidUtf8,
            format!("text is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    // Reserved fallibly: a failed allocation would abort the caller's process, where a batch
    // of the same text reports TOO_LARGE.
    let mut chars = Vec::new();
    chars
        .try_reserve_exact(s.chars().count())
        .map_err(|_| crate::error::Error::TooLarge)?;
    chars.extend(s.chars().map(u32::from));
    Ok(chars)
}

/// Checks that every value is at most 0x10FFFF (surrogates are allowed, as in the spec).
fn check_code_points(chars: &[u32], start: usize, what: &str) -> Result<()> {
    match chars.iter().position(|&c| c > 0x10_FFFF) {
        None => Ok(()),
        Some(i) => Err(Failure::new(
            Status::InvalidCodePoint,
            format!(
                "{what}[{}]={:#x} is not a code point: expected at most 0x10ffff",
                start + i,
                chars[i]
            ),
        )),
    }
}

fn batch_options(threads: usize) -> Result<BatchOptions<'static>> {
    if threads > MAX_THREADS {
        return Err(Failure::new(
            Status::InvalidArgument,
            format!("threads={threads} is out of range: expected 0 (all cores) to {MAX_THREADS}"),
        ));
    }
    Ok(BatchOptions {
        threads: (threads != 0).then_some(threads),
        stop: None,
    })
}

/// `n * dim`, the values a batch of `n` texts writes.
fn batch_len(e: &Embedder, n: usize) -> Result<usize> {
    n.checked_mul(e.dim()).ok_or_else(|| {
        Failure::new(
            Status::TooLarge,
            format!("n={n} texts of dim={} values overflow size_t", e.dim()),
        )
    })
}

/// The `n + 1` batch offsets at `offsets`.
///
/// # Safety
/// `offsets` must be NULL or point to `n + 1` values.
unsafe fn offsets<'a>(offsets: *const u64, n: usize) -> Result<&'a [u64]> {
    let len = n
        .checked_add(1)
        .ok_or_else(|| Failure::new(Status::TooLarge, format!("n={n} is too large")))?;
    // SAFETY: the caller's contract.
    unsafe { input(offsets, len, "offsets") }
}

/// # Safety
/// As `hashembed_embed_utf8`.
unsafe fn utf8<T: Element>(
    name: &str,
    e: *const hashembed_embedder,
    text: *const c_char,
    text_len: usize,
    out: *mut T,
    out_len: usize,
) -> Status {
    guard(name, || {
        // SAFETY (all three): the caller's contract.
        let e = unsafe { embedder_ref(e)? };
        let chars = utf8_chars(unsafe { input(text.cast::<u8>(), text_len, "text")? })?;
        let out = unsafe { output(out, out_len, e.dim(), "out")? };
        Ok(e.embed_into(&chars, out)?)
    })
}

/// # Safety
/// As `hashembed_embed_utf32`.
unsafe fn utf32<T: Element>(
    name: &str,
    e: *const hashembed_embedder,
    text: *const u32,
    text_len: usize,
    out: *mut T,
    out_len: usize,
) -> Status {
    guard(name, || {
        // SAFETY (all three): the caller's contract.
        let e = unsafe { embedder_ref(e)? };
        let text = unsafe { input(text, text_len, "text")? };
        check_code_points(text, 0, "text")?;
        let out = unsafe { output(out, out_len, e.dim(), "out")? };
        Ok(e.embed_into(text, out)?)
    })
}

/// # Safety
/// As `hashembed_embed_utf8_batch`.
unsafe fn utf8_batch<T: Element>(
    name: &str,
    e: *const hashembed_embedder,
    bytes: *const c_char,
    bytes_len: usize,
    offsets_ptr: *const u64,
    n: usize,
    out: *mut T,
    out_len: usize,
    threads: usize,
) -> Status {
    guard(name, || {
        let options = batch_options(threads)?;
        // SAFETY (all four): the caller's contract.
        let e = unsafe { embedder_ref(e)? };
        let bytes = unsafe { input(bytes.cast::<u8>(), bytes_len, "bytes")? };
        let offsets = unsafe { offsets(offsets_ptr, n)? };
        let out = unsafe { output(out, out_len, batch_len(e, n)?, "out")? };
        if offsets[0] > bytes.len() as u64 {
            return Err(crate::error::Error::Offsets { index: 0 }.into());
        }
        let (chars, offs) = decode_rows(bytes, offsets)?;
        let texts = Texts::new(&chars, &offs)?;
        Ok(e.embed_batch(&texts, out, options)?)
    })
}

/// # Safety
/// As `hashembed_embed_utf32_batch`.
unsafe fn utf32_batch<T: Element>(
    name: &str,
    e: *const hashembed_embedder,
    chars: *const u32,
    chars_len: usize,
    offsets_ptr: *const u64,
    n: usize,
    out: *mut T,
    out_len: usize,
    threads: usize,
) -> Status {
    guard(name, || {
        let options = batch_options(threads)?;
        // SAFETY (all four): the caller's contract.
        let e = unsafe { embedder_ref(e)? };
        let chars = unsafe { input(chars, chars_len, "chars")? };
        let offsets = unsafe { offsets(offsets_ptr, n)? };
        let out = unsafe { output(out, out_len, batch_len(e, n)?, "out")? };
        let offs = offsets
            .iter()
            .enumerate()
            .map(|(index, &o)| {
                usize::try_from(o).map_err(|_| crate::error::Error::Offsets { index }.into())
            })
            .collect::<Result<Vec<usize>>>()?;
        let texts = Texts::new(chars, &offs)?;
        let (first, last) = (offs[0], offs[n]);
        check_code_points(&chars[first..last], first, "chars")?;
        Ok(e.embed_batch(&texts, out, options)?)
    })
}

/// The output length of an embedder (`dim`), or 0 if `e` is NULL.
///
/// # Safety
/// `e` must be NULL or a live embedder from `hashembed_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hashembed_dim(e: *const hashembed_embedder) -> usize {
    let mut dim = 0;
    guard("hashembed_dim", || {
        // SAFETY: the caller's contract.
        dim = unsafe { embedder_ref(e)? }.dim();
        Ok(())
    });
    dim
}

/// Writes to `*len` the number of values a batch of `n` texts writes (`n * dim`).
///
/// # Safety
/// `e` must be NULL or a live embedder; `len` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hashembed_output_len(
    e: *const hashembed_embedder,
    n: usize,
    len: *mut usize,
) -> Status {
    guard("hashembed_output_len", || {
        // SAFETY: the caller's contract.
        let e = unsafe { embedder_ref(e)? };
        let need = batch_len(e, n)?;
        // SAFETY: the caller's contract; one value, checked for NULL and alignment.
        let len = unsafe { output(len, 1, 1, "len")? };
        len[0] = need;
        Ok(())
    })
}

/// Defines entry points that each forward to the generic function named as its body, passing
/// its own name for error reports. The signatures stay written out, f32 and f64 alike:
/// `tests/capi_header.rs` reads them from this text to check them against the header.
macro_rules! entry_points {
    ($(
        $(#[$meta:meta])*
        pub unsafe extern "C" fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> Status {
            $generic:ident
        }
    )*) => {$(
        $(#[$meta])*
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> Status {
            // SAFETY: the caller's contract, passed on.
            unsafe { $generic(stringify!($name), $($arg),*) }
        }
    )*};
}

entry_points! {
    /// Embeds `text_len` bytes of UTF-8 at `text` into `out` (room for `out_len` floats; the
    /// first `dim` are written).
    ///
    /// # Safety
    /// `e` must be NULL or a live embedder; `text` must be NULL or hold `text_len` bytes; `out`
    /// must be NULL or hold `out_len` writable floats not overlapping the other arguments.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf8(
        e: *const hashembed_embedder,
        text: *const c_char,
        text_len: usize,
        out: *mut f32,
        out_len: usize,
    ) -> Status {
        utf8
    }

    /// As [`hashembed_embed_utf8`], writing float64 values.
    ///
    /// # Safety
    /// As [`hashembed_embed_utf8`].
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf8_f64(
        e: *const hashembed_embedder,
        text: *const c_char,
        text_len: usize,
        out: *mut f64,
        out_len: usize,
    ) -> Status {
        utf8
    }

    /// Embeds `text_len` code points at `text` (each at most 0x10FFFF; surrogates allowed).
    ///
    /// # Safety
    /// As [`hashembed_embed_utf8`], with `text` holding `text_len` `u32` values.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf32(
        e: *const hashembed_embedder,
        text: *const u32,
        text_len: usize,
        out: *mut f32,
        out_len: usize,
    ) -> Status {
        utf32
    }

    /// As [`hashembed_embed_utf32`], writing float64 values.
    ///
    /// # Safety
    /// As [`hashembed_embed_utf32`].
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf32_f64(
        e: *const hashembed_embedder,
        text: *const u32,
        text_len: usize,
        out: *mut f64,
        out_len: usize,
    ) -> Status {
        utf32
    }

    /// Embeds `n` UTF-8 texts, text `i` being `bytes[offsets[i]..offsets[i + 1]]`, into row `i`
    /// of `out` (`n * dim` values, row-major), with `threads` workers (0: all cores).
    ///
    /// # Safety
    /// `e` must be NULL or a live embedder; `bytes` must be NULL or hold `bytes_len` bytes;
    /// `offsets` must be NULL or hold `n + 1` values; `out` must be NULL or hold `out_len`
    /// writable floats not overlapping the other arguments.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf8_batch(
        e: *const hashembed_embedder,
        bytes: *const c_char,
        bytes_len: usize,
        offsets: *const u64,
        n: usize,
        out: *mut f32,
        out_len: usize,
        threads: usize,
    ) -> Status {
        utf8_batch
    }

    /// As [`hashembed_embed_utf8_batch`], writing float64 values.
    ///
    /// # Safety
    /// As [`hashembed_embed_utf8_batch`].
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf8_batch_f64(
        e: *const hashembed_embedder,
        bytes: *const c_char,
        bytes_len: usize,
        offsets: *const u64,
        n: usize,
        out: *mut f64,
        out_len: usize,
        threads: usize,
    ) -> Status {
        utf8_batch
    }

    /// Embeds `n` code point texts, text `i` being `chars[offsets[i]..offsets[i + 1]]`, into row
    /// `i` of `out`, with `threads` workers (0: all cores).
    ///
    /// # Safety
    /// As [`hashembed_embed_utf8_batch`], with `chars` holding `chars_len` `u32` values.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf32_batch(
        e: *const hashembed_embedder,
        chars: *const u32,
        chars_len: usize,
        offsets: *const u64,
        n: usize,
        out: *mut f32,
        out_len: usize,
        threads: usize,
    ) -> Status {
        utf32_batch
    }

    /// As [`hashembed_embed_utf32_batch`], writing float64 values.
    ///
    /// # Safety
    /// As [`hashembed_embed_utf32_batch`].
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn hashembed_embed_utf32_batch_f64(
        e: *const hashembed_embedder,
        chars: *const u32,
        chars_len: usize,
        offsets: *const u64,
        n: usize,
        out: *mut f64,
        out_len: usize,
        threads: usize,
    ) -> Status {
        utf32_batch
    }
}
