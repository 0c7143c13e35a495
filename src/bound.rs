//! A vocabulary bound to an embedder: token ids in, rows out.
//!
//! A training loop embeds the same vocabulary every step, and its token ids already say which
//! string each position holds, so a row needs computing once: [`RowCache::Lazy`] keeps each id's
//! float32 row the first time it is seen (up to a number of rows), [`RowCache::Full`] holds the
//! whole table, and [`RowCache::None`] computes the distinct ids of every call afresh. Rows are
//! the same bits `Embedder::embed_batch` gives the tokens' strings, however they are cached.
//!
//! A call goes in three steps so that the binding can run the middle one, the only long one,
//! interruptibly and without any lock: [`BoundVocab::missing`] lists the ids to compute,
//! [`BoundVocab::batch_of`] gathers their code points for `Embedder::embed_batch`, and
//! [`BoundVocab::fill_f32`] (or [`BoundVocab::fill`]) keeps what the cache has room for and
//! writes every position. Two threads may compute the same new id at once; the first to
//! finish keeps it, and both write the same bits.

use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::batch::Texts;
use crate::element::Element;
use crate::embedder::Embedder;
use crate::error::Error;
use crate::pool;

/// The index of a position whose row is zeros (masked, or one of the zero ids).
pub const ZERO_ROW: u32 = u32::MAX;

/// Below this many output values a call writes its rows on the calling thread.
const SERIAL_VALUES: usize = 1 << 18;

/// How rows are kept between calls.
#[derive(Debug)]
pub enum RowCache {
    /// Nothing is kept: each call computes the distinct ids it sees.
    None,
    /// A row is computed the first time its id is seen and kept, up to `max_rows` rows;
    /// later ids are computed in every call that sees them.
    Lazy { max_rows: usize },
    /// The whole float32 table, row `i` for id `i`.
    Full(Vec<f32>),
}

/// The rows a lazy cache has kept: `slot_of[id]` is the id's row in `rows`, or `ZERO_ROW`.
struct Kept {
    slot_of: Vec<u32>,
    rows: Vec<f32>,
}

/// A vocabulary's code points (token `i` is `chars[offsets[i]..offsets[i + 1]]`) and an
/// embedder, with the cache of their rows.
pub struct BoundVocab {
    embedder: Embedder,
    chars: Vec<u32>,
    offsets: Vec<usize>,
    cache: RowCache,
    kept: Mutex<Kept>,
}

impl BoundVocab {
    /// Checks the offsets (and a full table's length) and binds them.
    pub fn new(
        embedder: Embedder,
        chars: Vec<u32>,
        offsets: Vec<usize>,
        cache: RowCache,
    ) -> Result<Self, Error> {
        let texts = Texts::new(&chars, &offsets)?;
        if texts.len() >= ZERO_ROW as usize {
            return Err(Error::TooLarge);
        }
        if let RowCache::Full(table) = &cache {
            let expected = texts.len() * embedder.dim();
            if table.len() != expected {
                return Err(Error::OutputLength {
                    expected,
                    got: table.len(),
                });
            }
        }
        let slot_of = match cache {
            RowCache::Lazy { .. } => vec![ZERO_ROW; texts.len()],
            _ => Vec::new(),
        };
        Ok(BoundVocab {
            embedder,
            chars,
            offsets,
            cache,
            kept: Mutex::new(Kept {
                slot_of,
                rows: Vec::new(),
            }),
        })
    }

    /// Tokens in the vocabulary.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    pub fn cache(&self) -> &RowCache {
        &self.cache
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        // The cache is only ever appended to after its rows are complete, so a panic while
        // the lock was held leaves it valid.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rows held: the whole vocabulary with a full table, else those a lazy cache has kept.
    pub fn cached_rows(&self) -> usize {
        match &self.cache {
            RowCache::None => 0,
            RowCache::Full(_) => self.len(),
            RowCache::Lazy { .. } => self.kept().rows.len() / self.embedder.dim(),
        }
    }

    /// The distinct ids of `index` (`ZERO_ROW` skipped), in order of first appearance, that
    /// have no cached float32 row; with `cached` false (another dtype), all of them. An id
    /// not below `len()` is [`Error::Id`].
    pub fn missing(&self, index: &[u32], cached: bool) -> Result<Vec<u32>, Error> {
        self.check_ids(index)?;
        let mut seen = FxHashSet::default();
        let mut distinct = |have: &dyn Fn(u32) -> bool| {
            index
                .iter()
                .filter(|&&id| id != ZERO_ROW && !have(id) && seen.insert(id))
                .copied()
                .collect()
        };
        Ok(match (&self.cache, cached) {
            (RowCache::Full(_), true) => Vec::new(),
            (RowCache::Lazy { .. }, true) => {
                let kept = self.kept();
                distinct(&|id| kept.slot_of[id as usize] != ZERO_ROW)
            }
            _ => distinct(&|_| false),
        })
    }

    /// Token `id`'s code points (`id < len()`).
    pub fn token(&self, id: usize) -> &[u32] {
        &self.chars[self.offsets[id]..self.offsets[id + 1]]
    }

    /// The code points of tokens `ids`, as one batch (code points and offsets).
    pub fn batch_of(&self, ids: &[u32]) -> (Vec<u32>, Vec<usize>) {
        let total = ids.iter().map(|&id| self.token(id as usize).len()).sum();
        let mut chars = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(ids.len() + 1);
        offsets.push(0);
        for &id in ids {
            chars.extend_from_slice(self.token(id as usize));
            offsets.push(chars.len());
        }
        (chars, offsets)
    }

    /// Writes position `p`'s row into row `p` of `out`: zeros for `ZERO_ROW`, else the id's
    /// float32 row, from the cache or from `rows` (row `k` embeds `ids[k]`, as `missing`
    /// listed them). A lazy cache first keeps as many of `rows` as it has room for.
    pub fn fill_f32(
        &self,
        index: &[u32],
        ids: &[u32],
        rows: &[f32],
        out: &mut [f32],
        threads: Option<usize>,
    ) -> Result<(), Error> {
        let dim = self.embedder.dim();
        match &self.cache {
            RowCache::None => self.fill(index, ids, rows, out, threads),
            RowCache::Full(table) => {
                self.check(index, ids, rows, out)?;
                write_rows(index, out, dim, threads, |id| {
                    &table[id as usize * dim..][..dim]
                })
            }
            RowCache::Lazy { max_rows } => {
                self.check(index, ids, rows, out)?;
                let fresh = row_map(ids);
                let mut kept = self.kept();
                let kept = &mut *kept;
                if kept.rows.capacity() == 0 && !ids.is_empty() {
                    // Reserved at once if it can be: a large allocation is mapped memory,
                    // resident only as rows are written, and never moved by a later growth.
                    let _ = kept
                        .rows
                        .try_reserve_exact((*max_rows).min(self.len()) * dim);
                }
                for (k, &id) in ids.iter().enumerate() {
                    // Short of memory, the cache stops growing rather than aborting.
                    let room =
                        kept.rows.len() / dim < *max_rows && kept.rows.try_reserve(dim).is_ok();
                    if room && kept.slot_of[id as usize] == ZERO_ROW {
                        kept.slot_of[id as usize] = (kept.rows.len() / dim) as u32;
                        kept.rows.extend_from_slice(&rows[k * dim..][..dim]);
                    }
                }
                let kept = &*kept;
                write_rows(index, out, dim, threads, |id| {
                    match kept.slot_of[id as usize] {
                        ZERO_ROW => &rows[fresh[&id] * dim..][..dim],
                        slot => &kept.rows[slot as usize * dim..][..dim],
                    }
                })
            }
        }
    }

    /// `fill_f32` for any element type, from `rows` alone (`missing(index, false)`'s ids).
    pub fn fill<T: Element>(
        &self,
        index: &[u32],
        ids: &[u32],
        rows: &[T],
        out: &mut [T],
        threads: Option<usize>,
    ) -> Result<(), Error> {
        let dim = self.embedder.dim();
        self.check(index, ids, rows, out)?;
        let fresh = row_map(ids);
        write_rows(index, out, dim, threads, |id| {
            &rows[fresh[&id] * dim..][..dim]
        })
    }

    fn check<T>(&self, index: &[u32], ids: &[u32], rows: &[T], out: &[T]) -> Result<(), Error> {
        let dim = self.embedder.dim();
        for (expected, got) in [
            (ids.len() * dim, rows.len()),
            (index.len() * dim, out.len()),
        ] {
            if expected != got {
                return Err(Error::OutputLength { expected, got });
            }
        }
        self.check_ids(index.iter().chain(ids))
    }

    /// [`Error::Id`] for the first id (in order) that is not `ZERO_ROW` and not below `len()`.
    fn check_ids<'a>(&self, ids: impl IntoIterator<Item = &'a u32>) -> Result<(), Error> {
        let tokens = self.len();
        match ids
            .into_iter()
            .enumerate()
            .find(|(_, &id)| id != ZERO_ROW && id as usize >= tokens)
        {
            Some((index, &id)) => Err(Error::Id {
                index,
                id: id as usize,
                tokens,
            }),
            None => Ok(()),
        }
    }
}

/// Each id's row in a block of rows computed for `ids`.
fn row_map(ids: &[u32]) -> FxHashMap<u32, usize> {
    ids.iter().enumerate().map(|(k, &id)| (id, k)).collect()
}

/// Row `p` of `out` gets `row(index[p])`, or zeros; in parallel when there is enough to copy.
fn write_rows<'r, T: Element>(
    index: &[u32],
    out: &mut [T],
    dim: usize,
    threads: Option<usize>,
    row: impl Fn(u32) -> &'r [T] + Sync,
) -> Result<(), Error> {
    let one = |(dst, &id): (&mut [T], &u32)| match id {
        ZERO_ROW => dst.fill(T::ZERO),
        id => dst.copy_from_slice(row(id)),
    };
    if out.len() < SERIAL_VALUES {
        out.chunks_mut(dim).zip(index).for_each(one);
        return Ok(());
    }
    pool::get(threads)?.install(|| {
        out.par_chunks_mut(dim)
            .zip(index)
            .with_min_len(64)
            .for_each(one)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchOptions;
    use crate::config::Config;

    fn vocab(words: &[&str]) -> (Vec<u32>, Vec<usize>) {
        let mut chars = Vec::new();
        let mut offsets = vec![0];
        for w in words {
            chars.extend(w.chars().map(u32::from));
            offsets.push(chars.len());
        }
        (chars, offsets)
    }

    /// Rows of `index` through `v` as a caller does it: missing, compute, fill.
    fn embed(v: &BoundVocab, index: &[u32]) -> Vec<f32> {
        let ids = v.missing(index, true).unwrap();
        let (chars, offsets) = v.batch_of(&ids);
        let texts = Texts::new(&chars, &offsets).unwrap();
        let dim = v.embedder().dim();
        let mut rows = vec![0f32; ids.len() * dim];
        let options = BatchOptions::default();
        v.embedder()
            .embed_batch(&texts, &mut rows, options)
            .unwrap();
        let mut out = vec![f32::NAN; index.len() * dim];
        v.fill_f32(index, &ids, &rows, &mut out, None).unwrap();
        out
    }

    #[test]
    fn every_cache_gives_the_rows_of_the_strings() {
        let words = ["[PAD]", "the", "cat", "##s", "", "sat"];
        let e = Embedder::new(&Config {
            dim: 24,
            ..Config::default()
        })
        .unwrap();
        let (chars, offsets) = vocab(&words);
        let texts = Texts::new(&chars, &offsets).unwrap();
        let mut table = vec![0f32; words.len() * 24];
        e.embed_batch(&texts, &mut table, BatchOptions::default())
            .unwrap();
        let index = [1, 2, ZERO_ROW, 1, 3, 5, 4, 2, ZERO_ROW];
        let caches = [
            RowCache::None,
            RowCache::Lazy { max_rows: 2 },
            RowCache::Lazy { max_rows: 100 },
            RowCache::Full(table.clone()),
        ];
        for cache in caches {
            let v = BoundVocab::new(e.clone(), chars.clone(), offsets.clone(), cache).unwrap();
            for _ in 0..2 {
                let out = embed(&v, &index);
                for (row, &id) in out.chunks(24).zip(&index) {
                    let want = match id {
                        ZERO_ROW => &[0f32; 24][..],
                        id => &table[id as usize * 24..][..24],
                    };
                    assert_eq!(row, want, "cache {:?}", v.cache());
                }
            }
            let expected = match v.cache() {
                RowCache::None => 0,
                RowCache::Lazy { max_rows } => (*max_rows).min(5),
                RowCache::Full(_) => words.len(),
            };
            assert_eq!(v.cached_rows(), expected);
            if let RowCache::Lazy { max_rows: 2 } = v.cache() {
                assert_eq!(v.missing(&index, true), Ok(vec![3, 5, 4]));
            }
        }
    }

    #[test]
    fn an_id_past_the_vocabulary_is_refused() {
        let e = Embedder::new(&Config::default()).unwrap();
        let (chars, offsets) = vocab(&["a", "b"]);
        let v = BoundVocab::new(e, chars, offsets, RowCache::None).unwrap();
        let bad = Err(Error::Id {
            index: 1,
            id: 2,
            tokens: 2,
        });
        assert_eq!(v.missing(&[0, 2], true), bad);
        let mut out = vec![0f32; 2 * 768];
        let err = v.fill_f32(&[0, 2], &[0], &[0f32; 768], &mut out, None);
        assert_eq!(
            err,
            Err(Error::Id {
                index: 1,
                id: 2,
                tokens: 2
            })
        );
    }
}
