//! Criterion benchmarks of the core, without Python: `cargo bench --bench embed`.
//!
//! Inputs: one short token ("hello"), a whole BERT vocabulary (30,522 distinct word pieces, read
//! from the file named by `HASHEMBED_VOCAB`, else a synthetic one of the same size), and 16
//! strings of 10,000 characters. Each goes through `Embedder::embed_batch` (default options:
//! every core) and through the single-string `Embedder::embed_into` (one core, one string at a
//! time). The `kernel` group runs `Tables::embed_into` with every kernel this CPU supports on
//! one token and one long string, so the SIMD speedup shows. Throughput is in texts per second.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hashembed::{BatchOptions, Config, Embedder, Kernel, Texts};

const VOCAB_SIZE: usize = 30_522;
const LONG_TEXTS: usize = 16;
const LONG_CHARS: usize = 10_000;

/// Texts as one code point buffer with offsets, the form `embed_batch` reads.
struct Batch {
    chars: Vec<u32>,
    offsets: Vec<usize>,
}

impl Batch {
    fn new<S: AsRef<str>>(texts: &[S]) -> Batch {
        let mut chars = Vec::new();
        let mut offsets = vec![0];
        for t in texts {
            chars.extend(t.as_ref().chars().map(u32::from));
            offsets.push(chars.len());
        }
        Batch { chars, offsets }
    }

    fn texts(&self) -> Texts<'_> {
        Texts::new(&self.chars, &self.offsets).expect("offsets are built in order")
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// A small deterministic generator (SplitMix64), so the inputs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The vocabulary named by `HASHEMBED_VOCAB` (one token a line), else a synthetic one.
fn vocab() -> Vec<String> {
    match std::env::var_os("HASHEMBED_VOCAB").filter(|p| !p.is_empty()) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("HASHEMBED_VOCAB={}: {e}", path.to_string_lossy()));
            let words: Vec<String> = text.lines().map(String::from).collect();
            eprintln!(
                "vocabulary: {} tokens from {}",
                words.len(),
                path.to_string_lossy()
            );
            words
        }
        None => {
            eprintln!(
                "note: HASHEMBED_VOCAB is not set, so the vocabulary benchmarks use a synthetic \
                 vocabulary of {VOCAB_SIZE} distinct word pieces; set it to a BERT vocab.txt \
                 for the real one (see BENCHMARKS.md)"
            );
            synthetic_vocab()
        }
    }
}

/// `VOCAB_SIZE` distinct word-piece-like strings: 1 to 12 lowercase letters, weighted towards
/// 3 to 7, a quarter of them continuation pieces starting with "##".
fn synthetic_vocab() -> Vec<String> {
    const LENGTHS: [usize; 16] = [1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 10, 12];
    let mut rng = Rng(7);
    let mut seen = HashSet::new();
    let mut words = Vec::with_capacity(VOCAB_SIZE);
    while words.len() < VOCAB_SIZE {
        let len = LENGTHS[rng.below(LENGTHS.len())];
        let mut w = String::from(if rng.below(4) == 0 { "##" } else { "" });
        w.extend((0..len).map(|_| char::from(b'a' + rng.below(26) as u8)));
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// `LONG_TEXTS` strings of `LONG_CHARS` characters: mostly ASCII prose characters, some
/// accented Latin, Greek, Cyrillic, CJK and emoji.
fn long_texts() -> Vec<String> {
    let mut alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz".repeat(4).chars().collect();
    alphabet.extend("      ETAOINSHRDLU0123456789.,;:'\"()-!?\n".chars());
    alphabet.extend("éèàüöçñßøåαβγδλπσωабвгдежзия的一是不了人我在有他😀👍🎉".chars());
    let mut rng = Rng(11);
    (0..LONG_TEXTS)
        .map(|_| {
            (0..LONG_CHARS)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        })
        .collect()
}

fn code_points(text: &str) -> Vec<u32> {
    text.chars().map(u32::from).collect()
}

fn bench_embedder(c: &mut Criterion) {
    let embedder = Embedder::new(&Config::default()).expect("the default config is valid");
    let dim = embedder.dim();
    eprintln!(
        "active kernel: {}; supported: {:?}",
        hashembed::Kernel::active().name(),
        Kernel::ALL
            .into_iter()
            .filter(|k| k.is_supported())
            .map(Kernel::name)
            .collect::<Vec<_>>()
    );
    let inputs = [
        ("hello", Batch::new(&["hello"])),
        ("vocab", Batch::new(&vocab())),
        ("long_16x10k", Batch::new(&long_texts())),
    ];

    let mut group = c.benchmark_group("embed_batch");
    for (name, batch) in &inputs {
        if batch.chars.len() > 100_000 {
            group.sample_size(10);
        }
        let texts = batch.texts();
        let mut out = vec![0f32; batch.len() * dim];
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                embedder
                    .embed_batch(black_box(&texts), &mut out, BatchOptions::default())
                    .expect("the output holds every row");
                black_box(&out);
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("embed_into");
    for (name, batch) in &inputs {
        if batch.chars.len() > 100_000 {
            group.sample_size(10);
        }
        let texts = batch.texts();
        let mut out = vec![0f32; dim];
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                for i in 0..texts.len() {
                    embedder
                        .embed_into(black_box(texts.get(i)), &mut out)
                        .expect("the output holds dim values");
                    black_box(&out);
                }
            })
        });
    }
    group.finish();

    let tables = embedder.tables();
    let hello = code_points("hello");
    let long = code_points(&long_texts()[0]);
    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(1));
    for kernel in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
        for (name, text) in [("hello", &hello), ("long_10k", &long)] {
            let mut out = vec![0f32; dim];
            group.bench_with_input(BenchmarkId::new(name, kernel.name()), text, |b, text| {
                b.iter(|| {
                    tables
                        .embed_into(kernel, black_box(text), &mut out)
                        .expect("the output holds dim values");
                    black_box(&out);
                })
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_embedder
}
criterion_main!(benches);
