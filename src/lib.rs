//! Dynamic hash embeddings: a deterministic, table-free replacement for a transformer's input
//! embedding layer.
//!
//! Every character n-gram of a string (sizes `1..=max_ngram`) gets a polynomial rolling hash;
//! each hash is multiplied by a fixed vector of seeds modulo a prime, centred into
//! `(-B/2, B/2]`, and averaged over the n-grams of each size; the per-size parts, scaled into
//! `[-1, 1]`, are concatenated into `dim` floats. Any string gets a vector, no table is
//! stored, and strings sharing n-grams get nearby vectors. The exact function is written down
//! in `docs/spec.md`; every kernel here computes it bit for bit.
//!
//! ```
//! use hashembed::{Config, Embedder};
//!
//! let embedder = Embedder::new(&Config::default())?;
//! let v = embedder.embed("hello");
//! assert_eq!(v.len(), 768);
//! assert_eq!(v[0].to_bits(), 0xbc0df7f2);
//!
//! // A batch: one flat code point buffer and offsets, embedded in parallel.
//! let words = ["the", "cat", "the"];
//! let chars: Vec<u32> = words.iter().flat_map(|w| w.chars().map(u32::from)).collect();
//! let offsets = [0, 3, 6, 9];
//! let texts = hashembed::Texts::new(&chars, &offsets)?;
//! let mut out = vec![0f32; words.len() * embedder.dim()];
//! embedder.embed_batch(&texts, &mut out, Default::default())?;
//! assert_eq!(out[..768], out[2 * 768..]);
//! # Ok::<(), hashembed::Error>(())
//! ```
//!
//! Without the default `std` feature the crate is `no_std` and never allocates: validate a
//! [`Config`] into [`Params`], derive the seeds into two buffers of your own with
//! [`Tables::derive`], and embed single strings with [`Tables::embed_into`]. Batches, the
//! thread pool and the Python bindings need `std`.
#![cfg_attr(not(any(feature = "std", test)), no_std)]

// The modules are private: the API is what is re-exported below, so a caller cannot reach
// the pieces (pools, UTF-8 decoding, modular arithmetic) and combine them wrongly.
mod config;
mod element;
mod embed;
mod error;
mod kernel;
mod layout;
mod modarith;
mod rolling;
mod seeds;

#[cfg(feature = "std")]
mod batch;
#[cfg(feature = "std")]
mod bound;
#[cfg(feature = "capi")]
mod capi;
#[cfg(feature = "std")]
mod embedder;
#[cfg(feature = "std")]
mod pool;
#[cfg(feature = "python")]
mod python;
#[cfg(feature = "std")]
mod rowcopy;
// Batches given as UTF-8: what the C API and Python's Arrow path take (and the fuzzers check).
#[cfg(all(
    feature = "std",
    any(feature = "capi", feature = "python", feature = "fuzzing")
))]
mod utf8;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;

#[cfg(feature = "std")]
pub use batch::{BatchOptions, Texts};
#[cfg(feature = "std")]
pub use bound::{BoundVocab, RowCache, ZERO_ROW};
pub use config::{Config, Params, MAX_DIM};
pub use element::{Element, F16};
pub use embed::Tables;
#[cfg(feature = "std")]
pub use embedder::Embedder;
pub use error::Error;
pub use kernel::Kernel;
pub use layout::{Layout, MAX_NGRAM};

/// Pieces the fuzz targets check against their oracles (`fuzzing` feature); not the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod internals {
    pub use crate::element::f64_to_f16_bits;
    pub use crate::modarith::shoup_quotient;
    pub use crate::seeds::SplitMix64;
    #[cfg(feature = "std")]
    pub use crate::utf8::decode_rows;
}
