//! Batches: many texts in one flat code point buffer, embedded in parallel into one
//! caller-owned row-major buffer.
//!
//! Equal texts are embedded once: the first occurrence's row is computed, later ones copy it.
//! Short texts are spread over the workers in small groups; a long text is split into blocks
//! of output positions, so a few huge texts still keep every core busy. Every row is written
//! exactly once.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::element::Element;
use crate::embed::POSITION_BLOCK;
use crate::embedder::Embedder;
use crate::error::Error;
use crate::kernel::{self, Kernel};
use crate::pool;
use crate::rolling::Marked;
use crate::rowcopy::{copy_row, fence};

/// A text at least this long is split into blocks of positions across workers.
pub const LONG_TEXT: usize = 4096;
/// A batch with less work than this (code points, plus one per text, times `dim`) runs on
/// the calling thread: handing it to the pool would cost more than it saves.
const SERIAL_WORK: usize = 1 << 16;
/// A text with more windows than this is also split into ranges of windows.
const SPLIT_WINDOWS: usize = 1 << 16;

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

    /// Positions `span` of text `i`'s row, made without a reference to the rest of the row.
    ///
    /// # Safety
    /// Text `i` exists, `span` lies within `0..dim`, and no other reference to these
    /// positions is live.
    #[allow(clippy::mut_from_ref)]
    unsafe fn span(&self, i: usize, span: Range<usize>) -> &mut [T] {
        debug_assert!(span.start <= span.end && span.end <= self.dim);
        std::slice::from_raw_parts_mut(self.ptr.add(self.start(i) + span.start), span.len())
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

/// Code points (plus a fixed cost per text) hashed between two looks at the stop flag.
const STOP_CHECK_WORK: usize = 1 << 20;

/// For each text, the index of the first text equal to it. Hashing millions of texts takes a
/// good fraction of a second, so `stop` is checked along the way.
fn first_occurrences(texts: &Texts<'_>, stop: &AtomicBool) -> Result<Vec<u32>, Error> {
    let mut seen: HashMap<&[u32], u32, FxBuildHasher> = HashMap::default();
    // Empty texts are kept out of the map: in a batch of only empty texts their slices have a
    // dangling pointer, and comparing them (a zero-length memcmp, which AVX-512 libcs do with
    // a masked load from that address) costs a microcode assist, ~300 ns, every time.
    let mut first_empty = None;
    let mut first = Vec::with_capacity(texts.len());
    let mut work = 0;
    for i in 0..texts.len() {
        let text = texts.get(i);
        work += 32 + text.len();
        if work >= STOP_CHECK_WORK {
            work = 0;
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
        }
        first.push(match text {
            [] => *first_empty.get_or_insert(i as u32),
            text => match seen.entry(text) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(e) => *e.insert(i as u32),
            },
        });
    }
    Ok(first)
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
        if (texts.total_chars() + texts.len()).saturating_mul(dim) < SERIAL_WORK {
            return self.embed_serial(texts, &rows, kernel);
        }
        pool::get(options.threads)?.install(|| {
            let first = first_occurrences(texts, stop)?;
            self.embed_unique(texts, &first, &rows, kernel, stop)?;
            copy_repeats(&first, &rows, stop)
        })
    }

    /// A batch too small to be worth handing to the pool, embedded on this thread.
    fn embed_serial<T: Element>(
        &self,
        texts: &Texts<'_>,
        rows: &Rows<'_, T>,
        kernel: Kernel,
    ) -> Result<(), Error> {
        let first = first_occurrences(texts, &AtomicBool::new(false))?;
        for (i, &f) in first.iter().enumerate() {
            let f = f as usize;
            // SAFETY: one thread; row `i` is written once, and a repeat's first occurrence
            // `f < i` is complete and distinct from it.
            unsafe {
                if f == i {
                    self.tables()
                        .embed_into(kernel, texts.get(i), rows.row(i))?;
                } else {
                    rows.row(i).copy_from_slice(rows.row_ref(f));
                }
            }
        }
        Ok(())
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
        let long: Vec<usize> = (0..texts.len())
            .filter(|i| unique(i) && texts.get(*i).len() >= LONG_TEXT)
            .collect();
        let tasks = self.long_tasks(texts, &long);
        let partials = tasks
            .par_iter()
            .map(|t| {
                let text = texts.get(t.text);
                if t.pieces == 1 {
                    // SAFETY: tasks of one row cover disjoint position ranges, so these slices
                    // of row `t.text` never overlap; no other worker touches that row.
                    let out = unsafe { rows.span(t.text, t.span.clone()) };
                    tables.embed_span(kernel, text, t.size, t.span.clone(), out, stop)?;
                    return Ok(None);
                }
                let mut sums = vec![0i64; t.span.len()];
                let windows = t.windows.clone();
                tables.accumulate(
                    kernel,
                    text,
                    t.size,
                    windows,
                    t.span.clone(),
                    &mut sums,
                    stop,
                )?;
                Ok(Some(sums))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        // Add up the pieces of each split block (consecutive in `tasks`) and scale them.
        let mut k = 0;
        while k < tasks.len() {
            let t = &tasks[k];
            let pieces = &partials[k..k + t.pieces];
            if let Some(Some(first)) = pieces.first() {
                let mut sums = first.clone();
                for piece in pieces[1..].iter().flatten() {
                    sums.iter_mut().zip(piece).for_each(|(s, x)| *s += x);
                }
                // SAFETY: the workers are done; this thread alone writes row `t.text` now.
                let out = unsafe { rows.span(t.text, t.span.clone()) };
                tables.scale(kernel, t.windows_total, &sums, out);
            }
            k += t.pieces;
        }
        Ok(())
    }

    /// Splits long texts into independent pieces of work: blocks of output positions, and for
    /// very long texts also ranges of windows, so a few huge texts still keep every core busy
    /// and a stop request is seen quickly.
    fn long_tasks(&self, texts: &Texts<'_>, long: &[usize]) -> Vec<LongTask> {
        let p = *self.params();
        let most_pieces = 4 * rayon::current_num_threads();
        let mut tasks = Vec::new();
        for &i in long {
            let len = Marked::new(texts.get(i), p.boundary_markers).len();
            for size in 1..=p.max_ngram {
                let n = (len + 1).saturating_sub(size);
                let pieces = (n / SPLIT_WINDOWS).clamp(1, most_pieces);
                let part = p.part(size);
                for start in part.clone().step_by(POSITION_BLOCK) {
                    let span = start..(start + POSITION_BLOCK).min(part.end);
                    tasks.extend((0..pieces).map(|k| LongTask {
                        text: i,
                        size,
                        span: span.clone(),
                        windows: n * k / pieces..n * (k + 1) / pieces,
                        windows_total: n,
                        pieces,
                    }));
                }
            }
        }
        tasks
    }
}

/// Windows `windows` of text `text`'s `size`-grams, projected onto output positions `span`;
/// one of `pieces` consecutive tasks that together cover all `windows_total` windows.
struct LongTask {
    text: usize,
    size: usize,
    span: Range<usize>,
    windows: Range<usize>,
    windows_total: usize,
    pieces: usize,
}

/// Copies each repeated text's row from its first occurrence's row, checking `stop` between
/// chunks of rows.
fn copy_repeats<T: Element>(
    first: &[u32],
    rows: &Rows<'_, T>,
    stop: &AtomicBool,
) -> Result<(), Error> {
    first
        .par_chunks(1024)
        .enumerate()
        .try_for_each(|(chunk, firsts)| {
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            for (k, &f) in firsts.iter().enumerate() {
                let (i, f) = (chunk * 1024 + k, f as usize);
                if f != i {
                    // SAFETY: row `f` is complete and only read from now on; row `i` is a repeat,
                    // written here and nowhere else, and `f != i`.
                    unsafe { copy_row(rows.row(i), rows.row_ref(f)) };
                }
            }
            fence();
            Ok(())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn batch(words: &[&[u32]]) -> (Vec<u32>, Vec<usize>) {
        let mut chars = Vec::new();
        let mut offsets = vec![0];
        for w in words {
            chars.extend_from_slice(w);
            offsets.push(chars.len());
        }
        (chars, offsets)
    }

    #[test]
    fn long_and_repeated_texts_equal_one_at_a_time() {
        // One part wider than a block of positions, and a text split into ranges of windows.
        let e = Embedder::new(&Config {
            dim: 560,
            max_ngram: 2,
            layout: crate::Layout::explicit(&[40, 520]).unwrap(),
            ..Config::default()
        })
        .unwrap();
        let mut g = crate::seeds::SplitMix64::new(9);
        let huge: Vec<u32> = (0..2 * SPLIT_WINDOWS + 7)
            .map(|_| 32 + (g.next().unwrap() % 5000) as u32)
            .collect();
        let mid: Vec<u32> = huge[..5000].to_vec();
        let words: [&[u32]; 6] = [&huge, &[104, 105], &mid, &[], &[104, 105], &huge];
        let (chars, offsets) = batch(&words);
        let texts = Texts::new(&chars, &offsets).unwrap();
        for threads in [Some(1), Some(3), None] {
            let mut out = vec![f32::NAN; words.len() * e.dim()];
            let options = BatchOptions {
                threads,
                stop: None,
            };
            e.embed_batch(&texts, &mut out, options).unwrap();
            for (row, w) in out.chunks(e.dim()).zip(words) {
                let mut want = vec![0f32; e.dim()];
                e.embed_into(w, &mut want).unwrap();
                assert!(row
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }

    #[test]
    fn rows_map_texts_and_leave_the_rest() {
        let e = Embedder::new(&Config {
            dim: 16,
            ..Config::default()
        })
        .unwrap();
        let (chars, offsets) = batch(&[&[97], &[98, 99]]);
        let texts = Texts::new(&chars, &offsets).unwrap();
        let mut out = vec![7f32; 4 * 16];
        let options = BatchOptions::default();
        e.embed_batch_rows(&texts, &mut out, Some(&[3, 1]), options)
            .unwrap();
        assert!(out[..16].iter().chain(&out[32..48]).all(|&x| x == 7.0));
        let mut a = vec![0f32; 16];
        e.embed_into(&[97], &mut a).unwrap();
        assert_eq!(&out[48..], &a[..]);
        let err = e.embed_batch_rows(&texts, &mut out, Some(&[1, 1]), options);
        assert_eq!(
            err,
            Err(Error::Row {
                index: 1,
                row: 1,
                rows: 4
            })
        );
        let err = e.embed_batch_rows(&texts, &mut out, Some(&[0, 4]), options);
        assert_eq!(
            err,
            Err(Error::Row {
                index: 1,
                row: 4,
                rows: 4
            })
        );
    }

    #[test]
    fn first_occurrences_of_empty_and_repeated_texts() {
        let never = AtomicBool::new(false);
        let (chars, offsets) = batch(&[&[], &[], &[]]);
        assert!(chars.is_empty());
        let texts = Texts::new(&chars, &offsets).unwrap();
        assert_eq!(first_occurrences(&texts, &never), Ok(vec![0, 0, 0]));
        let (chars, offsets) = batch(&[&[7], &[], &[7], &[], &[8]]);
        let texts = Texts::new(&chars, &offsets).unwrap();
        assert_eq!(first_occurrences(&texts, &never), Ok(vec![0, 1, 0, 1, 4]));
    }

    #[test]
    fn finding_repeats_and_copying_them_stop_when_asked() {
        // Enough texts that hashing them checks the flag along the way.
        let words: Vec<[u32; 2]> = (0..100_000u32).map(|i| [i, i % 3]).collect();
        let refs: Vec<&[u32]> = words.iter().map(|w| &w[..]).collect();
        let (chars, offsets) = batch(&refs);
        let texts = Texts::new(&chars, &offsets).unwrap();
        let stop = AtomicBool::new(true);
        assert_eq!(first_occurrences(&texts, &stop), Err(Error::Cancelled));
        let mut out = vec![0f32; 4];
        let rows = Rows {
            ptr: out.as_mut_ptr(),
            dim: 1,
            map: None,
        };
        assert_eq!(
            copy_repeats(&[0, 0, 0, 0], &rows, &stop),
            Err(Error::Cancelled)
        );
        let go = AtomicBool::new(false);
        assert_eq!(copy_repeats(&[0, 1, 0, 1], &rows, &go), Ok(()));
    }

    #[test]
    fn a_set_stop_flag_cancels() {
        let e = Embedder::new(&Config::default()).unwrap();
        let text = vec![97u32; 300_000];
        let (chars, offsets) = batch(&[&text]);
        let texts = Texts::new(&chars, &offsets).unwrap();
        let stop = AtomicBool::new(true);
        let mut out = vec![0f32; 768];
        let options = BatchOptions {
            threads: Some(2),
            stop: Some(&stop),
        };
        assert_eq!(
            e.embed_batch(&texts, &mut out, options),
            Err(Error::Cancelled)
        );
    }
}
