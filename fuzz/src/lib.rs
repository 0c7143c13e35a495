//! Shared pieces of the fuzz targets: arbitrary (mostly valid, often invalid) configurations,
//! and a naive implementation of the spec used as an oracle on small inputs.

use arbitrary::{Arbitrary, Unstructured};
use hashembed::MAX_NGRAM;
use hashembed::{Config, Layout, Params};

/// A number drawn so that small values, range edges and anything at all all come up often.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Num {
    Small(u8),
    Edge(u8),
    Word(u32),
    Raw(u64),
}

/// Values at and around the edges of every parameter's range.
const EDGES: [u64; 20] = [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    9,
    12,
    31,
    65_535,
    65_536,
    65_537,
    1_000_000_007,
    (1 << 31) - 2,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX as u64,
    1 << 32,
    u64::MAX,
];

impl Num {
    pub fn value(self) -> u64 {
        match self {
            Num::Small(v) => u64::from(v),
            Num::Edge(i) => EDGES[usize::from(i) % EDGES.len()],
            Num::Word(v) => u64::from(v),
            Num::Raw(v) => v,
        }
    }
}

/// How the layout is given.
#[derive(Arbitrary, Debug, Clone)]
pub enum LayoutIn {
    Proportional,
    Equal,
    /// Through `Layout::explicit` (which refuses 0 or more than 8 parts).
    Explicit(Vec<Num>),
    /// Parts built to sum to `dim` (some may be 0, which validation must refuse).
    Fitted(Vec<u8>),
    /// The enum built directly, with any length field: validation must cope.
    Direct([u64; MAX_NGRAM], usize),
}

/// Explicit hash seeds.
#[derive(Arbitrary, Debug, Clone)]
pub enum SeedsIn {
    Derived,
    /// Exactly the given values (almost never `dim` of them: a length error).
    Given(Vec<Num>),
    /// `dim` values cycled from the given ones, each as it is (may be out of range).
    Cycled(Vec<Num>),
    /// `dim` values cycled from the given ones, folded into `1..buckets`.
    Valid(Vec<u32>),
}

#[derive(Arbitrary, Debug, Clone)]
pub struct ConfigIn {
    pub dim: Num,
    pub max_ngram: Num,
    pub layout: LayoutIn,
    pub seed: u64,
    pub base: Num,
    pub hash_modulus: Num,
    pub buckets: Num,
    pub boundary_markers: bool,
    pub seeds: SeedsIn,
}

impl ConfigIn {
    /// The configuration, or `None` when `Layout::explicit` refuses the parts (checked to be
    /// for the documented reason).
    pub fn config(&self) -> Option<Config> {
        let dim = self.dim.value();
        let layout = match &self.layout {
            LayoutIn::Proportional => Layout::Proportional,
            LayoutIn::Equal => Layout::Equal,
            LayoutIn::Explicit(parts) => {
                let parts: Vec<u64> = parts.iter().map(|p| p.value()).collect();
                match Layout::explicit(&parts) {
                    Ok(l) => l,
                    Err(_) => {
                        assert!(parts.is_empty() || parts.len() > MAX_NGRAM);
                        return None;
                    }
                }
            }
            LayoutIn::Fitted(weights) => {
                let n = weights.len().clamp(1, MAX_NGRAM);
                let w: Vec<u64> = (0..n)
                    .map(|i| 1 + u64::from(*weights.get(i).unwrap_or(&0)))
                    .collect();
                let total: u64 = w.iter().sum();
                let mut acc = 0u64;
                let mut prev = 0u64;
                let parts: Vec<u64> = w
                    .iter()
                    .map(|x| {
                        acc += x;
                        let b = (u128::from(dim) * u128::from(acc) / u128::from(total)) as u64;
                        let part = b - prev;
                        prev = b;
                        part
                    })
                    .collect();
                Layout::explicit(&parts).expect("1 to 8 parts")
            }
            LayoutIn::Direct(parts, len) => Layout::Explicit {
                parts: *parts,
                len: *len,
            },
        };
        Some(Config {
            dim,
            max_ngram: self.max_ngram.value(),
            layout,
            seed: self.seed,
            base: self.base.value(),
            hash_modulus: self.hash_modulus.value(),
            buckets: self.buckets.value(),
            boundary_markers: self.boundary_markers,
        })
    }

    /// Explicit seeds for a configuration whose `dim` and `buckets` are valid.
    pub fn hash_seeds(&self, dim: usize, buckets: u32) -> Option<Vec<u64>> {
        let cycle = |n: usize| (0..dim).map(move |k| k % n);
        match &self.seeds {
            SeedsIn::Derived => None,
            SeedsIn::Given(v) => Some(v.iter().map(|x| x.value()).collect()),
            SeedsIn::Cycled(v) if v.is_empty() => Some(Vec::new()),
            SeedsIn::Cycled(v) => Some(cycle(v.len()).map(|k| v[k].value()).collect()),
            SeedsIn::Valid(v) if v.is_empty() => None,
            SeedsIn::Valid(v) => Some(
                cycle(v.len())
                    .map(|k| 1 + u64::from(v[k]) % u64::from(buckets - 1))
                    .collect(),
            ),
        }
    }
}

/// Code points, possibly repeated to reach the long-text paths of the batch driver.
pub fn repeat_to(u: &mut Unstructured<'_>, pattern: &[u32], cap: usize) -> Vec<u32> {
    if pattern.is_empty() {
        return Vec::new();
    }
    let times = match u.arbitrary::<u8>().unwrap_or(0) {
        0..=199 => 1,
        200..=239 => usize::from(u.arbitrary::<u8>().unwrap_or(0)) + 1,
        _ => usize::from(u.arbitrary::<u16>().unwrap_or(0)) + 1,
    };
    let len = (pattern.len() * times).min(cap);
    pattern.iter().copied().cycle().take(len).collect()
}

/// Checks the invariants of validated parameters.
pub fn check_params(c: &Config, p: &Params) {
    assert_eq!(p.dim as u64, c.dim);
    assert!((1..=65_536).contains(&p.dim));
    assert!((1..=MAX_NGRAM).contains(&p.max_ngram));
    assert!(p.base >= 1 && p.base < 1 << 31);
    assert!(p.hash_modulus >= 2 && p.hash_modulus < 1 << 31);
    assert!(p.buckets >= 3 && p.buckets < 1 << 31);
    assert_eq!(p.bounds[0], 0);
    assert_eq!(p.bounds[p.max_ngram], p.dim);
    assert!(p.bounds[..=p.max_ngram].windows(2).all(|w| w[0] < w[1]));
    assert_eq!(p.part_sizes().sum::<usize>(), p.dim);
    assert_eq!(p.boundary_markers, c.boundary_markers);
}

/// The spec's function computed the slow, obvious way: the text wrapped in U+0002 ... U+0003
/// when boundary markers are on, Horner hashes with `%`, projections with `%`, then the
/// division of step 6. Returns the float64 values.
pub fn naive(p: &Params, seeds: &[u32], text: &[u32]) -> Vec<f64> {
    let marked: Vec<u32>;
    let text = if p.boundary_markers {
        marked = [&[2u32][..], text, &[3]].concat();
        &marked[..]
    } else {
        text
    };
    let (b, m, base) = (
        u64::from(p.buckets),
        u64::from(p.hash_modulus),
        u64::from(p.base),
    );
    let mut out = vec![0f64; p.dim];
    for size in 1..=p.max_ngram {
        if text.len() < size {
            continue;
        }
        let hashes: Vec<u64> = text
            .windows(size)
            .map(|g| g.iter().fold(0u64, |h, &c| (h * base + u64::from(c)) % m))
            .collect();
        let n = hashes.len() as f64;
        for k in p.part(size) {
            let h = u64::from(seeds[k]);
            let sum: i64 = hashes
                .iter()
                .map(|&s| {
                    let r = (s * h % b) as i64;
                    if 2 * r > b as i64 {
                        r - b as i64
                    } else {
                        r
                    }
                })
                .sum();
            out[k] = sum as f64 / (n * (b as f64 / 2.0));
        }
    }
    out
}
