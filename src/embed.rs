//! One string's embedding (spec steps 4 to 6) into a caller's buffer, with no allocation:
//! window hashes go through a small stack buffer and sums through a stack block of positions.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::config::Params;
use crate::element::Element;
use crate::error::Error;
use crate::kernel::Kernel;
use crate::modarith::shoup_quotient;
use crate::rolling::{Marked, Windows};

/// Window hashes computed at a time; a text with no more windows is hashed once per part.
const WINDOW_CHUNK: usize = 256;
/// Output positions whose sums are kept at a time.
pub const POSITION_BLOCK: usize = 512;

/// Everything needed to embed, borrowed: validated parameters, the seed vector and the Shoup
/// quotient of every seed.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    // Private: the quotients must be the seeds' (`shoup_quotient`), or the output is
    // silently wrong; only `derive` and `Embedder::tables` make them.
    pub(crate) params: &'a Params,
    pub(crate) seeds: &'a [u32],
    pub(crate) quots: &'a [u32],
}

impl<'a> Tables<'a> {
    /// Tables over caller-owned buffers of `dim` values each, with the seeds derived from
    /// `params.seed`: everything a program without an allocator needs to embed.
    pub fn derive(
        params: &'a Params,
        seeds: &'a mut [u32],
        quots: &'a mut [u32],
    ) -> Result<Self, Error> {
        if seeds.len() != params.dim || quots.len() != params.dim {
            return Err(Error::OutputLength {
                expected: params.dim,
                got: seeds.len().min(quots.len()),
            });
        }
        crate::seeds::derive(params.seed, params.buckets, seeds);
        for (q, &h) in quots.iter_mut().zip(seeds.iter()) {
            *q = shoup_quotient(h, params.buckets);
        }
        Ok(Tables {
            params,
            seeds,
            quots,
        })
    }

    /// Writes `dim` values for `text` (code points) into `out`.
    pub fn embed_into<T: Element>(
        &self,
        kernel: Kernel,
        text: &[u32],
        out: &mut [T],
    ) -> Result<(), Error> {
        let p = self.params;
        if out.len() != p.dim {
            return Err(Error::OutputLength {
                expected: p.dim,
                got: out.len(),
            });
        }
        let never = AtomicBool::new(false);
        for size in 1..=p.max_ngram {
            let part = p.part(size);
            self.embed_span(kernel, text, size, part.clone(), &mut out[part], &never)?;
        }
        Ok(())
    }

    /// Writes output positions `span` (which lie in the part of n-gram size `size`) into `out`.
    /// Long texts check `stop` every few hundred windows and return `Cancelled` once it is set.
    pub fn embed_span<T: Element>(
        &self,
        kernel: Kernel,
        text: &[u32],
        size: usize,
        span: Range<usize>,
        out: &mut [T],
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        // The block of sums is sized to the span: zeroing 4 KiB for a part of 128 positions
        // would cost a tenth of a short token's whole embedding.
        match span.len() {
            0..=128 => self.embed_blocks::<T, 128>(kernel, text, size, span, out, stop),
            129..=256 => self.embed_blocks::<T, 256>(kernel, text, size, span, out, stop),
            _ => self.embed_blocks::<T, POSITION_BLOCK>(kernel, text, size, span, out, stop),
        }
    }

    /// `embed_span` in blocks of `BLOCK` positions.
    fn embed_blocks<T: Element, const BLOCK: usize>(
        &self,
        kernel: Kernel,
        text: &[u32],
        size: usize,
        span: Range<usize>,
        out: &mut [T],
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        debug_assert_eq!(out.len(), span.len());
        let p = self.params;
        let windows = Windows::new(
            Marked::new(text, p.boundary_markers),
            size,
            p.base,
            p.hash_modulus,
        );
        let n = windows.count();
        let mut hashes = [0u32; WINDOW_CHUNK];
        let few = n <= WINDOW_CHUNK;
        if few {
            windows.clone().fill(&mut hashes);
        }
        let mut sums = [0i64; BLOCK];
        for (k, (start, out)) in span.step_by(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
            let block = start..start + out.len();
            let sums = &mut sums[..out.len()];
            if k > 0 {
                sums.fill(0);
            }
            if few {
                let (seeds, quots) = (&self.seeds[block.clone()], &self.quots[block]);
                kernel.accumulate(&hashes[..n], seeds, quots, p.buckets, sums);
            } else {
                self.accumulate(kernel, text, size, 0..n, block, sums, stop)?;
            }
            self.scale(kernel, n, sums, out);
        }
        Ok(())
    }

    /// Adds to `sums` (one per position of `span`, in the part of n-gram size `size`) the
    /// centred projections of windows `windows` of `text`. Checks `stop` between chunks.
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate(
        &self,
        kernel: Kernel,
        text: &[u32],
        size: usize,
        windows: Range<usize>,
        span: Range<usize>,
        sums: &mut [i64],
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        let p = self.params;
        let marked = Marked::new(text, p.boundary_markers);
        let mut w = Windows::new(marked, size, p.base, p.hash_modulus).range(windows);
        let (seeds, quots) = (&self.seeds[span.clone()], &self.quots[span]);
        let mut hashes = [0u32; WINDOW_CHUNK];
        loop {
            let got = w.fill(&mut hashes);
            if got == 0 {
                return Ok(());
            }
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            kernel.accumulate(&hashes[..got], seeds, quots, p.buckets, sums);
        }
    }

    /// Spec step 6: each sum over `windows` windows, divided by `windows * B / 2`, or all
    /// zeros when there are no windows.
    pub fn scale<T: Element>(&self, kernel: Kernel, windows: usize, sums: &[i64], out: &mut [T]) {
        if windows == 0 {
            out.fill(T::ZERO);
            return;
        }
        let den = windows as f64 * (f64::from(self.params.buckets) / 2.0);
        // A sum of `windows` values below B/2 < 2^30 in magnitude: `divide` needs < 2^50.
        if windows <= 1 << 20 {
            T::divide(kernel, sums, den, out);
        } else {
            for (o, &s) in out.iter_mut().zip(sums) {
                *o = T::from_f64(s as f64 / den);
            }
        }
    }
}
