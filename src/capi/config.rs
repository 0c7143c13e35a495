//! `hashembed_config`, and making and freeing embedders from it.

use super::status::{check_one, guard, input, Failure, Result, Status};
use crate::config::{Config, Layout, MAX_NGRAM};
use crate::embedder::Embedder;

/// How `dim` is split between the n-gram sizes: the `layout` field of [`hashembed_config`]
/// (`enum hashembed_layout` in C).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// Size `i` gets a share proportional to `i`.
    Proportional = 0,
    /// Every size gets the same share.
    Equal = 1,
    /// The part sizes are given in `layout_parts`.
    Explicit = 2,
}

impl LayoutKind {
    /// The kind whose value is `v`, if any.
    fn from_raw(v: i32) -> Option<Self> {
        [Self::Proportional, Self::Equal, Self::Explicit]
            .into_iter()
            .find(|&k| k as i32 == v)
    }
}

/// The parameters of an embedder, as C fills them in. `hashembed_config_default` writes the
/// defaults; `layout` is one of [`LayoutKind`]'s values; `layout_parts` (explicit layouts
/// only) and `hash_seeds` (NULL to derive the seeds from `seed`) are borrowed for the duration
/// of `hashembed_new`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct hashembed_config {
    pub dim: u64,
    pub max_ngram: u64,
    pub layout: i32,
    pub layout_parts: *const u64,
    pub layout_parts_len: usize,
    pub seed: u64,
    pub base: u64,
    pub hash_modulus: u64,
    pub buckets: u64,
    pub hash_seeds: *const u64,
    pub hash_seeds_len: usize,
    pub boundary_markers: i32,
}

impl Default for hashembed_config {
    fn default() -> Self {
        let c = Config::default();
        hashembed_config {
            dim: c.dim,
            max_ngram: c.max_ngram,
            layout: LayoutKind::Proportional as i32,
            layout_parts: core::ptr::null(),
            layout_parts_len: 0,
            seed: c.seed,
            base: c.base,
            hash_modulus: c.hash_modulus,
            buckets: c.buckets,
            hash_seeds: core::ptr::null(),
            hash_seeds_len: 0,
            boundary_markers: i32::from(c.boundary_markers),
        }
    }
}

fn invalid(message: String) -> Failure {
    Failure::new(Status::InvalidConfig, message)
}

impl hashembed_config {
    /// Validates the configuration and builds its embedder.
    ///
    /// # Safety
    /// `layout_parts` and `hash_seeds` must each be NULL or point to their stated number of
    /// values.
    unsafe fn build(&self) -> Result<Embedder> {
        // SAFETY: the caller's contract for both arrays.
        let parts = unsafe { input(self.layout_parts, self.layout_parts_len, "layout_parts")? };
        let kind = LayoutKind::from_raw(self.layout);
        if kind != Some(LayoutKind::Explicit) && !parts.is_empty() {
            return Err(invalid(format!(
                "layout_parts_len={} but layout is not HASHEMBED_LAYOUT_EXPLICIT",
                parts.len()
            )));
        }
        let layout = match kind {
            Some(LayoutKind::Proportional) => Layout::Proportional,
            Some(LayoutKind::Equal) => Layout::Equal,
            Some(LayoutKind::Explicit) if parts.is_empty() => {
                return Err(invalid(
                    "layout is HASHEMBED_LAYOUT_EXPLICIT but layout_parts_len is 0: \
                     expected one part size per n-gram size"
                        .into(),
                ))
            }
            Some(LayoutKind::Explicit) if parts.len() > MAX_NGRAM => {
                return Err(invalid(format!(
                    "layout_parts_len={} is out of range: expected one part size per n-gram \
                     size, so at most {MAX_NGRAM}",
                    parts.len()
                )))
            }
            Some(LayoutKind::Explicit) => Layout::explicit(parts)?,
            None => {
                return Err(invalid(format!(
                    "layout={} is not a layout: expected HASHEMBED_LAYOUT_PROPORTIONAL (0), \
                     HASHEMBED_LAYOUT_EQUAL (1) or HASHEMBED_LAYOUT_EXPLICIT (2)",
                    self.layout
                )))
            }
        };
        let boundary_markers = match self.boundary_markers {
            0 => false,
            1 => true,
            other => {
                return Err(invalid(format!(
                    "boundary_markers={other} is out of range: expected 0 or 1"
                )))
            }
        };
        let config = Config {
            boundary_markers,
            dim: self.dim,
            max_ngram: self.max_ngram,
            layout,
            seed: self.seed,
            base: self.base,
            hash_modulus: self.hash_modulus,
            buckets: self.buckets,
        };
        if self.hash_seeds.is_null() && self.hash_seeds_len == 0 {
            return Ok(Embedder::new(&config)?);
        }
        // SAFETY: as above.
        let seeds = unsafe { input(self.hash_seeds, self.hash_seeds_len, "hash_seeds")? };
        Ok(Embedder::with_hash_seeds(&config, seeds)?)
    }
}

/// An embedder owned by C: made by `hashembed_new`, released by `hashembed_free`.
#[derive(Debug)]
pub struct hashembed_embedder {
    pub inner: Embedder,
}

/// The embedder behind `e`.
///
/// # Safety
/// `e` must be NULL or a pointer from `hashembed_new` that has not been freed.
pub unsafe fn embedder_ref<'a>(e: *const hashembed_embedder) -> Result<&'a Embedder> {
    check_one(e, "embedder")?;
    // SAFETY: the caller's contract.
    Ok(unsafe { &(*e).inner })
}

/// Writes the default configuration (the spec's defaults; no explicit layout or hash seeds)
/// into `*config`.
///
/// # Safety
/// `config` must be NULL or point to writable memory for one `hashembed_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hashembed_config_default(config: *mut hashembed_config) -> Status {
    guard("hashembed_config_default", || {
        check_one(config, "config")?;
        // SAFETY: non-NULL and aligned (checked); writable by the caller's contract. `write`
        // does not read the possibly uninitialised old value.
        unsafe { config.write(hashembed_config::default()) };
        Ok(())
    })
}

/// Validates `*config` and makes an embedder, stored in `*out`. On failure `*out` is set to
/// NULL (when `out` is not NULL) and the status says why.
///
/// # Safety
/// `config` must be NULL or point to a `hashembed_config` whose arrays are valid as it says;
/// `out` must be NULL or point to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hashembed_new(
    config: *const hashembed_config,
    out: *mut *mut hashembed_embedder,
) -> Status {
    guard("hashembed_new", || {
        check_one(out, "out")?;
        // SAFETY: non-NULL and aligned (checked), writable by the caller's contract.
        unsafe { out.write(core::ptr::null_mut()) };
        check_one(config, "config")?;
        // The kernel is chosen on first use, where a bad setting can only be ignored.
        crate::kernel::from_env()
            .map_err(|e| Failure::new(Status::InvalidArgument, format!("HASHEMBED_KERNEL: {e}")))?;
        // SAFETY: non-NULL and aligned (checked); the caller's contract covers the rest.
        let inner = unsafe { (*config).build()? };
        let boxed = Box::into_raw(Box::new(hashembed_embedder { inner }));
        // SAFETY: as above.
        unsafe { out.write(boxed) };
        Ok(())
    })
}

/// Releases an embedder. NULL is ignored. The embedder must not be in use by another thread
/// and must not be used afterwards.
///
/// # Safety
/// `e` must be NULL or a pointer from `hashembed_new` that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hashembed_free(e: *mut hashembed_embedder) {
    if e.is_null() {
        return;
    }
    let _ = guard("hashembed_free", || {
        // SAFETY: `e` came from `Box::into_raw` in `hashembed_new` and is freed once.
        drop(unsafe { Box::from_raw(e) });
        Ok(())
    });
}
