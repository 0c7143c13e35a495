//! Batch layouts: arbitrary offsets, texts (short, repeated, and long enough for the split
//! paths), row maps, output lengths, thread counts and stop flags, through `Texts::new`,
//! `Embedder::embed_batch` and `Embedder::embed_batch_rows`. Errors are allowed, panics are
//! not; a batch that succeeds must equal one-at-a-time `embed_into` row for row, and leave
//! every row it was not given untouched.
#![no_main]

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use arbitrary::{Arbitrary, Unstructured};
use hashembed::{BatchOptions, Config, Embedder, Error, Layout, Texts};
use hashembed_fuzz::repeat_to;
use libfuzzer_sys::fuzz_target;

/// Code points in one batch at most (enough for a text split into ranges of windows).
const MAX_CHARS: usize = 300_000;
/// About this many (window, position) products in one batch at most.
const WORK: usize = 1 << 23;
/// The sentinel of rows the batch must not touch.
const UNTOUCHED: u32 = 0x7fc0_1234;

#[derive(Arbitrary, Debug)]
enum OffsetsIn {
    /// Well-formed: the texts back to back from `start`.
    Packed { start: u8 },
    /// Well-formed, then one entry replaced.
    Poked { index: u16, value: u32 },
    /// Anything at all.
    Raw(Vec<u32>),
}

#[derive(Arbitrary, Debug)]
enum RowsIn {
    Identity,
    /// A permutation of a larger output (spread rows, some left untouched).
    Spread {
        extra: u8,
        seed: u64,
    },
    /// Anything at all (out of range and repeated rows are errors).
    Raw(Vec<u16>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    dim_choice: u8,
    max_ngram: u8,
    equal: bool,
    boundary_markers: bool,
    texts: Vec<Vec<u32>>,
    /// Indices of earlier texts to repeat.
    repeats: Vec<u8>,
    offsets: OffsetsIn,
    rows: RowsIn,
    /// Output length adjustments: extra rows, and stray extra elements.
    out_rows_delta: i8,
    out_extra: u8,
    threads: u8,
    stop: u8,
    use_rows_api: bool,
}

const DIMS: [u64; 8] = [1, 3, 8, 12, 16, 33, 64, 520];

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn run(input: Input, mut u: Unstructured<'_>) {
    let max_ngram = u64::from(input.max_ngram % 4) + 1;
    let dim = DIMS[usize::from(input.dim_choice) % DIMS.len()];
    let layout = if input.equal {
        Layout::Equal
    } else {
        Layout::Proportional
    };
    let Ok(embedder) = Embedder::new(&Config {
        dim,
        max_ngram,
        layout,
        boundary_markers: input.boundary_markers,
        ..Config::default()
    }) else {
        return; // a dim too small for the layout
    };
    let dim = embedder.dim();

    // Texts, some long (repeated patterns), some repeats of earlier ones; the total is
    // bounded so that one run stays fast.
    let budget = (WORK / dim).min(MAX_CHARS);
    let mut texts: Vec<Vec<u32>> = Vec::new();
    let mut total = 0;
    for t in input.texts.iter().take(300) {
        let t = repeat_to(&mut u, t, (budget - total) / 2);
        total += t.len();
        texts.push(t);
    }
    for &r in &input.repeats {
        if let Some(t) = texts.get(usize::from(r) % texts.len().max(1)) {
            if total + t.len() <= 2 * budget {
                total += t.len();
                texts.push(t.clone());
            }
        }
    }
    let mut chars: Vec<u32> = Vec::new();
    let mut offsets: Vec<usize> = Vec::new();
    match input.offsets {
        OffsetsIn::Raw(ref raw) => {
            chars = texts.concat();
            offsets = raw.iter().map(|&o| o as usize).collect();
        }
        ref packed => {
            let start = match *packed {
                OffsetsIn::Packed { start } => usize::from(start % 8),
                _ => 0,
            };
            chars.resize(start, 0x41);
            offsets.push(start);
            for t in &texts {
                chars.extend_from_slice(t);
                offsets.push(chars.len());
            }
            if let OffsetsIn::Poked { index, value } = *packed {
                let i = usize::from(index) % offsets.len();
                offsets[i] = value as usize;
            }
        }
    }
    let batch = match Texts::new(&chars, &offsets) {
        Ok(b) => b,
        Err(Error::Offsets { index }) => {
            let bad =
                offsets[index] > chars.len() || (index > 0 && offsets[index - 1] > offsets[index]);
            assert!(bad, "offsets[{index}] refused but fine");
            return;
        }
        Err(e) => panic!("unexpected error {e:?}"),
    };
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]) && offsets.iter().all(|&o| o <= chars.len()));
    let n = batch.len();

    // The row map and the output.
    let rows: Option<Vec<usize>> = match &input.rows {
        RowsIn::Identity => None,
        RowsIn::Spread { extra, seed } => {
            let capacity = n + usize::from(*extra % 16);
            let mut all: Vec<usize> = (0..capacity).collect();
            let mut g = hashembed::internals::SplitMix64::new(*seed);
            for i in (1..all.len()).rev() {
                let j = (g.next().unwrap() % (i as u64 + 1)) as usize;
                all.swap(i, j);
            }
            all.truncate(n);
            Some(all)
        }
        RowsIn::Raw(r) => Some(r.iter().map(|&x| usize::from(x)).collect()),
    };
    let base_rows = rows
        .as_ref()
        .map_or(n, |r| r.iter().max().map_or(0, |m| m + 1));
    let out_rows = (base_rows as isize + isize::from(input.out_rows_delta % 4)).max(0) as usize;
    let out_len =
        out_rows * dim + usize::from(input.out_extra % 3) * usize::from(input.out_extra >= 250);
    let mut out = vec![f32::from_bits(UNTOUCHED); out_len];

    let threads = match input.threads % 6 {
        0 => None,
        t => Some(usize::from(t)),
    };
    let stop = AtomicBool::new(input.stop == 0xff);
    let options = BatchOptions {
        threads,
        stop: Some(&stop),
    };
    let result = if input.use_rows_api || rows.is_some() {
        embedder.embed_batch_rows(&batch, &mut out, rows.as_deref(), options)
    } else {
        embedder.embed_batch(&batch, &mut out, options)
    };
    match result {
        Ok(()) => {}
        Err(Error::Cancelled) => {
            assert!(input.stop == 0xff);
            return;
        }
        Err(Error::OutputLength { .. }) => {
            let fits = out_len % dim == 0
                && match &rows {
                    None if input.use_rows_api => n <= out_len / dim,
                    None => n * dim == out_len,
                    Some(_) => true,
                };
            assert!(!fits, "output length refused but fine");
            return;
        }
        Err(Error::RowsLength { expected, got }) => {
            assert_eq!((expected, got), (n, rows.as_ref().map_or(n, Vec::len)));
            assert_ne!(expected, got);
            return;
        }
        Err(Error::Row {
            index,
            row,
            rows: cap,
        }) => {
            let r = rows.as_ref().expect("a row map");
            assert_eq!(r[index], row);
            assert!(row >= cap || r[..index].contains(&row));
            return;
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
    let mut written = vec![false; out_len / dim];
    let mut one_at_a_time: HashMap<&[u32], Vec<f32>> = HashMap::new();
    for i in 0..n {
        let r = rows.as_ref().map_or(i, |m| m[i]);
        written[r] = true;
        let want = one_at_a_time.entry(batch.get(i)).or_insert_with(|| {
            let mut v = vec![0f32; dim];
            embedder.embed_into(batch.get(i), &mut v).unwrap();
            v
        });
        let got = &out[r * dim..(r + 1) * dim];
        assert!(
            same_bits(got, want),
            "text {i} (row {r}) differs from embed_into"
        );
    }
    for (r, w) in written.iter().enumerate() {
        if !*w {
            assert!(out[r * dim..(r + 1) * dim]
                .iter()
                .all(|x| x.to_bits() == UNTOUCHED));
        }
    }
    assert!(out[written.len() * dim..]
        .iter()
        .all(|x| x.to_bits() == UNTOUCHED));
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(input) = Input::arbitrary(&mut u) {
        run(input, u);
    }
});
