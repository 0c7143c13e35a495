//! Arbitrary configurations (invalid ones included) and arbitrary code point sequences (any
//! u32: surrogates and values past 0x10FFFF too). Invalid configurations must be refused with
//! an error; valid ones must embed with every supported kernel to the same bits as the scalar
//! kernel, into [-1, 1] with no NaN, and (on small inputs) equal a naive reading of the spec.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use hashembed::internals::shoup_quotient;
use hashembed::Kernel;
use hashembed::{Config, Embedder, F16};
use hashembed_fuzz::{check_params, naive, repeat_to, ConfigIn};
use libfuzzer_sys::fuzz_target;

/// Keeps one run fast: about this many (window, position) products per kernel.
const WORK: usize = 1 << 18;
/// The naive oracle runs below this many products.
const NAIVE_WORK: usize = 1 << 14;

#[derive(Arbitrary, Debug)]
struct Input {
    config: ConfigIn,
    text: Vec<u32>,
    /// Raw projection inputs for `Kernel::accumulate`: any u32 hash, seeds folded into range.
    hashes: Vec<u32>,
    raw_seeds: Vec<u32>,
    raw_buckets: u32,
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn kernels() -> impl Iterator<Item = Kernel> {
    Kernel::ALL.into_iter().filter(|k| k.is_supported())
}

fn check_accumulate(input: &Input) {
    let b = 3 + input.raw_buckets % ((1 << 31) - 3);
    let seeds: Vec<u32> = input
        .raw_seeds
        .iter()
        .take(200)
        .map(|&h| 1 + h % (b - 1))
        .collect();
    let quots: Vec<u32> = seeds.iter().map(|&h| shoup_quotient(h, b)).collect();
    let hashes = &input.hashes[..input.hashes.len().min(200)];
    let want: Vec<i64> = seeds
        .iter()
        .map(|&h| {
            hashes
                .iter()
                .map(|&s| {
                    let r = (u64::from(s) * u64::from(h) % u64::from(b)) as i64;
                    if 2 * r > i64::from(b) {
                        r - i64::from(b)
                    } else {
                        r
                    }
                })
                .sum()
        })
        .collect();
    for k in kernels() {
        let mut sums = vec![0i64; seeds.len()];
        k.accumulate(hashes, &seeds, &quots, b, &mut sums);
        assert_eq!(sums, want, "kernel {} b={b}", k.name());
    }
}

fn run(input: Input, mut u: Unstructured<'_>) {
    check_accumulate(&input);
    let Some(config): Option<Config> = input.config.config() else {
        return;
    };
    let params = match config.validate() {
        Ok(p) => p,
        Err(e) => {
            // Refused: the error renders, and the embedder refuses it the same way.
            assert!(!e.to_string().is_empty());
            assert_eq!(Embedder::new(&config), Err(e));
            return;
        }
    };
    check_params(&config, &params);
    let embedder = match input.config.hash_seeds(params.dim, params.buckets) {
        None => Embedder::new(&config).expect("validated"),
        Some(seeds) => match Embedder::with_hash_seeds(&config, &seeds) {
            Ok(e) => {
                assert!(seeds
                    .iter()
                    .all(|&h| h >= 1 && h < u64::from(params.buckets)));
                e
            }
            Err(_) => {
                let ok = seeds.len() == params.dim
                    && seeds
                        .iter()
                        .all(|&h| h >= 1 && h < u64::from(params.buckets));
                assert!(!ok, "valid explicit seeds refused");
                return;
            }
        },
    };
    assert!(embedder
        .hash_seeds()
        .iter()
        .all(|&h| h >= 1 && h < params.buckets));

    let cap = (WORK / params.dim).max(1);
    let text = repeat_to(&mut u, &input.text, cap);
    let tables = embedder.tables();
    let dim = params.dim;

    let mut want = vec![0f32; dim];
    tables
        .embed_into(Kernel::Scalar, &text, &mut want)
        .expect("dim values");
    assert!(
        want.iter().all(|x| (-1.0..=1.0).contains(x)),
        "value outside [-1, 1] or NaN"
    );
    for k in kernels() {
        let mut got = vec![f32::NAN; dim];
        tables.embed_into(k, &text, &mut got).expect("dim values");
        assert!(same_bits(&got, &want), "kernel {} differs", k.name());
    }
    // Other element types: one rounding from the same doubles.
    let mut wide = vec![f64::NAN; dim];
    tables.embed_into(Kernel::best(), &text, &mut wide).unwrap();
    let narrowed: Vec<f32> = wide.iter().map(|&v| v as f32).collect();
    assert!(same_bits(&narrowed, &want), "float64 output disagrees");
    let mut half = vec![F16(0xffff); dim];
    tables.embed_into(Kernel::best(), &text, &mut half).unwrap();
    assert!(half
        .iter()
        .zip(&wide)
        .all(|(h, &v)| h.0 == hashembed::internals::f64_to_f16_bits(v)));
    // Wrong output lengths are errors.
    if dim > 1 {
        assert!(tables
            .embed_into(Kernel::Scalar, &text, &mut want[1..])
            .is_err());
    }
    assert!(tables
        .embed_into(Kernel::Scalar, &text, &mut vec![0f32; dim + 1])
        .is_err());
    // The spec, read naively.
    if dim * text.len() * params.max_ngram <= NAIVE_WORK {
        let slow = naive(&params, embedder.hash_seeds(), &text);
        assert!(
            slow.iter()
                .zip(&wide)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "differs from the naive definition"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(input) = Input::arbitrary(&mut u) {
        run(input, u);
    }
});
