//! Parameters, their defaults and their validation. Validation turns a [`Config`] into
//! [`Params`]: plain numbers the kernels can trust, with the layout resolved to boundaries
//! by `layout.rs` (which owns [`Layout`] and depends on nothing here).

use crate::error::Error;
pub use crate::layout::{Layout, MAX_NGRAM};

/// Largest supported output length.
pub const MAX_DIM: u64 = 65536;
const LIMIT_31: u64 = 1 << 31;

/// The parameters of the embedding function, as a user states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Config {
    pub dim: u64,
    pub max_ngram: u64,
    pub layout: Layout,
    pub seed: u64,
    pub base: u64,
    pub hash_modulus: u64,
    pub buckets: u64,
    /// Wrap every text in U+0002 ... U+0003 before hashing, so n-grams at a word's start and
    /// end differ from the same characters inside it. Off by default (the spec's function).
    pub boundary_markers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dim: 768,
            max_ngram: 3,
            layout: Layout::Proportional,
            seed: 42,
            base: 31,
            hash_modulus: 1_000_000_007,
            buckets: 1_000_000_007,
            boundary_markers: false,
        }
    }
}

/// A validated configuration: everything the kernels need except the seed vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Params {
    pub dim: usize,
    pub max_ngram: usize,
    /// `bounds[i-1]..bounds[i]` are the output positions of n-gram size `i`.
    pub bounds: [usize; MAX_NGRAM + 1],
    pub seed: u64,
    pub base: u32,
    pub hash_modulus: u32,
    pub buckets: u32,
    pub boundary_markers: bool,
}

impl Params {
    /// Output positions of n-gram size `size` (1-based).
    pub fn part(&self, size: usize) -> core::ops::Range<usize> {
        self.bounds[size - 1]..self.bounds[size]
    }
    /// Part sizes, one per n-gram size.
    pub fn part_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        (1..=self.max_ngram).map(|i| self.bounds[i] - self.bounds[i - 1])
    }
}

/// The valid range of each numeric parameter, as shown in error messages.
pub fn range_text(param: &str) -> &'static str {
    match param {
        "dim" => "1 <= dim <= 65536",
        "max_ngram" => "1 <= max_ngram <= 8",
        "seed" => "0 <= seed <= 18446744073709551615",
        "base" => "1 <= base <= 2147483647",
        "hash_modulus" => "2 <= hash_modulus <= 2147483647",
        "buckets" => "3 <= buckets <= 2147483647",
        _ => "a positive integer",
    }
}

fn check(param: &'static str, value: u64, ok: bool) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            param,
            value,
            range: range_text(param),
        })
    }
}

impl Config {
    /// Checks every parameter against the spec's ranges and resolves the layout.
    pub fn validate(&self) -> Result<Params, Error> {
        let d = self.dim;
        check("dim", d, (1..=MAX_DIM).contains(&d))?;
        let n = self.max_ngram;
        check("max_ngram", n, (1..=MAX_NGRAM as u64).contains(&n))?;
        check("base", self.base, (1..LIMIT_31).contains(&self.base))?;
        let m = self.hash_modulus;
        check("hash_modulus", m, (2..LIMIT_31).contains(&m))?;
        let b = self.buckets;
        check("buckets", b, (3..LIMIT_31).contains(&b))?;
        let n = n as usize;
        let bounds = crate::layout::bounds(&self.layout, d, n)?;
        Ok(Params {
            dim: d as usize,
            max_ngram: n,
            bounds,
            seed: self.seed,
            base: self.base as u32,
            hash_modulus: m as u32,
            buckets: b as u32,
            boundary_markers: self.boundary_markers,
        })
    }
}
