//! Batches: many texts in one flat code point buffer, embedded in parallel into one
//! caller-owned row-major buffer.
//!
//! Equal texts are embedded once: the first occurrence's row is computed, later ones copy it.
//! Short texts are spread over the workers in small groups; a long text is split into blocks
//! of output positions, so a few huge texts still keep every core busy. Every row is written
//! exactly once.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::element::Element;
use crate::embed::POSITION_BLOCK;
use crate::embedder::Embedder;
use crate::error::Error;
use crate::kernel::{self, Kernel};
use crate::pool;
use crate::rowcopy::{copy_row, fence};

/// A text at least this long is split into blocks of positions across workers.
pub const LONG_TEXT: usize = 4096;

/// Texts as one code point buffer and `len + 1` offsets: text `i` is `chars[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    chars: &'a [u32],
    offsets: &'a [usize],
}

impl<'a> Texts<'a> {
    /// Checks that the offsets are non-decreasing and within `chars`.
    pub fn new(chars: &'a [u32], offsets: &'a [usize]) -> Result<Self, Error> {
        if let Some(i) = offsets.iter().position(|&o| o > chars.len()) {
            return Err(Error::Offsets { index: i });
        }
        if let Some(i) = offsets.windows(2).position(|w| w[0] > w[1]) {
            return Err(Error::Offsets { index: i + 1 });
        }
        Ok(Texts { chars, offsets })
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Code points in all the texts together.
    pub fn total_chars(&self) -> usize {
        match (self.offsets.first(), self.offsets.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    pub fn get(&self, i: usize) -> &'a [u32] {
        &self.chars[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// How to run a batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchOptions<'s> {
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Checked between pieces of work: once set, the batch stops with [`Error::Cancelled`].
    pub stop: Option<&'s AtomicBool>,
}

/// Rows of the output, shared by the workers; text `i` owns row `map[i]` (or `i`).
struct Rows<'m, T> {
    ptr: *mut T,
    dim: usize,
    map: Option<&'m [usize]>,
}

// SAFETY: workers only touch the rows they are given, and the batch hands each row to exactly
// one worker for writing (see `embed_batch`), so no two threads access one element unsynchronised.
unsafe impl<T: Send> Send for Rows<'_, T> {}
unsafe impl<T: Send> Sync for Rows<'_, T> {}

impl<T> Rows<'_, T> {
    fn start(&self, i: usize) -> usize {
        self.map.map_or(i, |m| m[i]) * self.dim
    }

    /// # Safety
    /// Text `i` exists and no other reference to its row is live.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, i: usize) -> &mut [T] {
        std::slice::from_raw_parts_mut(self.ptr.add(self.start(i)), self.dim)
    }

    /// # Safety
    /// Text `i` exists and no thread writes its row while the slice is live.
    unsafe fn row_ref(&self, i: usize) -> &[T] {
        std::slice::from_raw_parts(self.ptr.add(self.start(i)), self.dim)
    }
}

/// Checks that `rows` names one distinct row of `0..capacity` per text.
fn check_rows(rows: &[usize], texts: usize, capacity: usize) -> Result<(), Error> {
    if rows.len() != texts {
        return Err(Error::RowsLength {
            expected: texts,
            got: rows.len(),
        });
    }
    let mut taken = vec![false; capacity];
    for (index, &r) in rows.iter().enumerate() {
        match taken.get_mut(r) {
            Some(t) if !*t => *t = true,
            _ => {
                return Err(Error::Row {
                    index,
                    row: r,
                    rows: capacity,
                })
            }
        }
    }
    Ok(())
}

/// For each text, the index of the first text equal to it.
fn first_occurrences(texts: &Texts<'_>) -> Vec<u32> {
    let mut seen: HashMap<&[u32], u32, FxBuildHasher> = HashMap::default();
    (0..texts.len())
        .map(|i| match seen.entry(texts.get(i)) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => *e.insert(i as u32),
        })
        .collect()
}

impl Embedder {
    /// Embeds every text into `out`, row `i` holding text `i` (`texts.len() * dim` values).
    pub fn embed_batch<T: Element>(
        &self,
        texts: &Texts<'_>,
        out: &mut [T],
        options: BatchOptions<'_>,
    ) -> Result<(), Error> {
        let expected = texts.len().checked_mul(self.dim()).ok_or(Error::TooLarge)?;
        if out.len() != expected {
            return Err(Error::OutputLength {
                expected,
                got: out.len(),
            });
        }
        self.embed_batch_rows(texts, out, None, options)
    }

    /// Embeds text `i` into row `rows[i]` of `out` (row-major, `dim` values a row); rows not
    /// named are left as they are. With `rows` of `None`, text `i` goes to row `i`.
    /// The rows must be distinct and within `out`.
    pub fn embed_batch_rows<T: Element>(
        &self,
        texts: &Texts<'_>,
        out: &mut [T],
        rows: Option<&[usize]>,
        options: BatchOptions<'_>,
    ) -> Result<(), Error> {
        let dim = self.dim();
        let capacity = out.len() / dim;
        if !out.len().is_multiple_of(dim) {
            return Err(Error::OutputLength {
                expected: (capacity + 1) * dim,
                got: out.len(),
            });
        }
        if texts.len() > u32::MAX as usize {
            return Err(Error::TooLarge);
        }
        match rows {
            Some(rows) => check_rows(rows, texts.len(), capacity)?,
            None if texts.len() > capacity => {
                return Err(Error::OutputLength {
                    expected: texts.len() * dim,
                    got: out.len(),
                })
            }
            None => {}
        }
        let never = AtomicBool::new(false);
        let stop = options.stop.unwrap_or(&never);
        let kernel = kernel::active();
        let rows = Rows {
            ptr: out.as_mut_ptr(),
            dim,
            map: rows,
        };
        pool::get(options.threads)?.install(|| {
            let first = first_occurrences(texts);
            self.embed_unique(texts, &first, &rows, kernel, stop)?;
            copy_repeats(&first, &rows);
            Ok(())
        })
    }

    /// Computes the row of every text that is its own first occurrence.
    fn embed_unique<T: Element>(
        &self,
        texts: &Texts<'_>,
        first: &[u32],
        rows: &Rows<'_, T>,
        kernel: Kernel,
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        let tables = self.tables();
        let unique = |i: &usize| first[*i] as usize == *i;
        let short: Vec<usize> = (0..texts.len())
            .filter(|i| unique(i) && texts.get(*i).len() < LONG_TEXT)
            .collect();
        short.par_iter().with_min_len(32).try_for_each(|&i| {
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            // SAFETY: `i` is a first occurrence, and each appears once in `short`.
            tables.embed_into(kernel, texts.get(i), unsafe { rows.row(i) })
        })?;
        let p = self.params();
        let blocks: Vec<(usize, usize, usize)> = (0..texts.len())
            .filter(|i| unique(i) && texts.get(*i).len() >= LONG_TEXT)
            .flat_map(|i| {
                (1..=p.max_ngram).flat_map(move |size| {
                    p.part(size)
                        .step_by(POSITION_BLOCK)
                        .map(move |start| (i, size, start))
                })
            })
            .collect();
        blocks.par_iter().try_for_each(|&(i, size, start)| {
            let end = (start + POSITION_BLOCK).min(p.part(size).end);
            // SAFETY: blocks of one row cover disjoint position ranges, so these slices of
            // row `i` never overlap; no other worker touches row `i`.
            let out = unsafe { &mut rows.row(i)[start..end] };
            tables.embed_span(kernel, texts.get(i), size, start..end, out, stop)
        })
    }
}

/// Copies each repeated text's row from its first occurrence's row.
fn copy_repeats<T: Element>(first: &[u32], rows: &Rows<'_, T>) {
    first
        .par_chunks(1024)
        .enumerate()
        .for_each(|(chunk, firsts)| {
            for (k, &f) in firsts.iter().enumerate() {
                let (i, f) = (chunk * 1024 + k, f as usize);
                if f != i {
                    // SAFETY: row `f` is complete and only read from now on; row `i` is a repeat,
                    // written here and nowhere else, and `f != i`.
                    unsafe { copy_row(rows.row(i), rows.row_ref(f)) };
                }
            }
            fence();
        });
}
