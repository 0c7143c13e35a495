//! [`Embedder`]: a validated configuration with its seed vector, ready to embed.

use crate::config::{Config, Params};
use crate::element::Element;
use crate::embed::Tables;
use crate::error::Error;
use crate::kernel;
use crate::modarith::shoup_quotient;
use crate::seeds;

/// An embedding function. Immutable after construction, so one can be shared between threads.
///
/// Two embedders are equal when they compute the same function: the same parameters and
/// seed vector. `seed` only derives the seeds, so it does not count on its own (explicit
/// seeds equal to derived ones make an equal embedder); nor does how the seeds were given.
#[derive(Debug, Clone)]
pub struct Embedder {
    params: Params,
    seeds: Vec<u32>,
    quots: Vec<u32>,
    explicit_seeds: bool,
}

impl Embedder {
    /// What equality and hashing compare: everything but `seed` and the seeds' origin (the
    /// quotients follow from the seeds).
    fn key(&self) -> (Params, &[u32]) {
        let params = Params {
            seed: 0,
            ..self.params
        };
        (params, &self.seeds)
    }
}

impl PartialEq for Embedder {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Embedder {}

impl core::hash::Hash for Embedder {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl Embedder {
    /// An embedder whose seeds derive from `config.seed`.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let params = config.validate()?;
        let mut s = vec![0u32; params.dim];
        seeds::derive(params.seed, params.buckets, &mut s);
        Ok(Self::from_parts(params, s, false))
    }

    /// An embedder with an explicit seed vector (`dim` values, each `1 <= h < buckets`).
    pub fn with_hash_seeds(config: &Config, hash_seeds: &[u64]) -> Result<Self, Error> {
        let params = config.validate()?;
        let mut s = vec![0u32; params.dim];
        seeds::check_explicit(hash_seeds, params.buckets, &mut s)?;
        Ok(Self::from_parts(params, s, true))
    }

    fn from_parts(params: Params, seeds: Vec<u32>, explicit_seeds: bool) -> Self {
        let quots = seeds
            .iter()
            .map(|&h| shoup_quotient(h, params.buckets))
            .collect();
        Embedder {
            params,
            seeds,
            quots,
            explicit_seeds,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn dim(&self) -> usize {
        self.params.dim
    }

    /// The hash seeds `h_0 .. h_{dim-1}`.
    pub fn hash_seeds(&self) -> &[u32] {
        &self.seeds
    }

    /// Whether the seeds were given explicitly rather than derived from `seed`.
    pub fn has_explicit_seeds(&self) -> bool {
        self.explicit_seeds
    }

    /// The borrowed view the embedding functions work on.
    pub fn tables(&self) -> Tables<'_> {
        Tables {
            params: &self.params,
            seeds: &self.seeds,
            quots: &self.quots,
        }
    }

    /// Writes the embedding of `text` (code points) into `out`, which must hold `dim` values.
    pub fn embed_into<T: Element>(&self, text: &[u32], out: &mut [T]) -> Result<(), Error> {
        self.tables().embed_into(kernel::active(), text, out)
    }

    /// The float32 embedding of a Rust string.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        let cps: Vec<u32> = text.chars().map(u32::from).collect();
        let mut out = vec![0.0f32; self.dim()];
        self.embed_into(&cps, &mut out)
            .expect("the buffer is allocated with dim values");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layout;
    use crate::kernel::Kernel;

    fn bits(v: &[f32], k: usize) -> u32 {
        v[k].to_bits()
    }

    #[test]
    fn spec_check_values_for_hello() {
        let e = Embedder::new(&Config::default()).unwrap();
        let v = e.embed("hello");
        let want = [
            (0, 0xbc0df7f2),
            (1, 0xbe0a7f8c),
            (128, 0x3ecbddac),
            (384, 0xbe408d50),
            (767, 0xbe05742d),
        ];
        for (k, b) in want {
            assert_eq!(bits(&v, k), b, "position {k}");
        }
    }

    #[test]
    fn spec_check_values_for_a_at_dim_12() {
        let e = Embedder::new(&Config {
            dim: 12,
            ..Config::default()
        })
        .unwrap();
        let v = e.embed("a");
        assert_eq!(v[0], -0.365_042_42);
        assert_eq!(v[1], -0.980_446_04);
        assert!(v[2..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn tables_over_caller_buffers_equal_the_embedder() {
        let params = Config::default().validate().unwrap();
        let (mut seeds, mut quots) = ([0u32; 768], [0u32; 768]);
        let tables = Tables::derive(&params, &mut seeds, &mut quots).unwrap();
        let text: Vec<u32> = "hello".chars().map(u32::from).collect();
        let mut out = [0f32; 768];
        tables.embed_into(Kernel::best(), &text, &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            Embedder::new(&Config::default()).unwrap().embed("hello")
        );
    }

    #[test]
    fn equal_functions_are_equal_embedders() {
        use std::hash::BuildHasher;

        let derived = Embedder::new(&Config::default()).unwrap();
        let seeds: Vec<u64> = derived.hash_seeds().iter().map(|&h| u64::from(h)).collect();
        let other_seed = Config {
            seed: 7,
            ..Config::default()
        };
        let explicit = Embedder::with_hash_seeds(&other_seed, &seeds).unwrap();
        assert_eq!(derived, explicit);
        let state = std::hash::RandomState::new();
        assert_eq!(state.hash_one(&derived), state.hash_one(&explicit));
        assert_ne!(derived, Embedder::new(&other_seed).unwrap());
    }

    #[test]
    fn empty_string_is_all_zeros() {
        let e = Embedder::new(&Config::default()).unwrap();
        assert!(e
            .embed("")
            .iter()
            .all(|&x| x == 0.0 && x.is_sign_positive()));
    }

    #[test]
    fn every_kernel_gives_the_same_bits() {
        let text: Vec<u32> = "naïve café \u{1F600} ☃ \u{0645}\u{0631}\u{062D}\u{0628}\u{0627}"
            .chars()
            .map(u32::from)
            .chain([0xD800, 0, 0x10FFFF])
            .cycle()
            .take(700)
            .collect();
        let configs = [
            Config::default(),
            Config {
                dim: 37,
                max_ngram: 5,
                layout: Layout::Equal,
                buckets: 3,
                hash_modulus: 2,
                base: 1,
                ..Config::default()
            },
            Config {
                dim: 1000,
                max_ngram: 8,
                buckets: (1 << 31) - 1,
                hash_modulus: (1 << 31) - 1,
                base: (1 << 31) - 1,
                seed: u64::MAX,
                ..Config::default()
            },
        ];
        for c in configs {
            let e = Embedder::new(&c).unwrap();
            for len in [0, 1, 2, 9, 255, 256, 257, 700] {
                let mut want = vec![0f32; e.dim()];
                e.tables()
                    .embed_into(Kernel::Scalar, &text[..len], &mut want)
                    .unwrap();
                for k in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
                    let mut got = vec![0f32; e.dim()];
                    e.tables().embed_into(k, &text[..len], &mut got).unwrap();
                    let same = got
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "kernel {} len {len} config {c:?}", k.name());
                    assert!(got.iter().all(|x| (-1.0..=1.0).contains(x)));
                }
            }
        }
    }
}
