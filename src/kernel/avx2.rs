//! AVX2 kernel: eight positions per 256-bit register, one register per block (more would
//! not fit the sixteen registers with the seeds, quotients and sums they need).
//!
//! Shoup's multiplication in 32-bit lanes: the quotient's high product comes from two
//! `_mm256_mul_epu32` (even lanes, then the odd ones shifted down) and the rest is exact
//! modulo 2^32, since the lazily reduced residue lies below 2B < 2^32. Two windows' centred
//! values, each of (-B/2, B/2], add up exactly in an `i32` lane; the pair is then widened into
//! `i64` sums, so the sums stay exact whatever the number of windows.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

const LANES: usize = 8;
const BLOCK: usize = LANES;

/// The centred `(s * w) mod b` of each lane: `s` broadcast, `w` the seeds, `wq` their Shoup
/// quotients, `wq_odd` those quotients shifted into the even lanes.
#[inline(always)]
unsafe fn centred(
    sv: __m256i,
    w: __m256i,
    wq: __m256i,
    wq_odd: __m256i,
    bv: __m256i,
    half: __m256i,
) -> __m256i {
    let q_even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(sv, wq));
    let q = _mm256_blend_epi32::<0b1010_1010>(q_even, _mm256_mul_epu32(sv, wq_odd));
    let r = _mm256_sub_epi32(_mm256_mullo_epi32(sv, w), _mm256_mullo_epi32(q, bv));
    // r lies in 0..2b: the unsigned minimum with r - b reduces it (r - b wraps when r < b).
    let r = _mm256_min_epu32(r, _mm256_sub_epi32(r, bv));
    _mm256_sub_epi32(r, _mm256_and_si256(_mm256_cmpgt_epi32(r, half), bv))
}

/// # Safety
/// The CPU must support AVX2; `seeds`, `quots` and `sums` must have equal lengths.
#[target_feature(enable = "avx2")]
pub unsafe fn accumulate(hashes: &[u32], seeds: &[u32], quots: &[u32], b: u32, sums: &mut [i64]) {
    let whole = sums.len() / BLOCK * BLOCK;
    let bv = _mm256_set1_epi32(b as i32);
    let half = _mm256_set1_epi32((b / 2) as i32);
    for start in (0..whole).step_by(BLOCK) {
        let load = |v: &[u32]| {
            // SAFETY: start + BLOCK <= whole <= len, so 8 u32 from start are in bounds.
            unsafe { _mm256_loadu_si256(v.as_ptr().add(start).cast()) }
        };
        let (w, wq) = (load(seeds), load(quots));
        let wq_odd = _mm256_srli_epi64::<32>(wq);
        let sp = sums.as_mut_ptr().add(start).cast::<__m256i>();
        let mut acc = [_mm256_loadu_si256(sp), _mm256_loadu_si256(sp.add(1))];
        let mut add = |c: __m256i| {
            let lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(c));
            let hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(c));
            acc = [_mm256_add_epi64(acc[0], lo), _mm256_add_epi64(acc[1], hi)];
        };
        let one = |s: u32| centred(_mm256_set1_epi32(s as i32), w, wq, wq_odd, bv, half);
        let mut pairs = hashes.chunks_exact(2);
        for pair in &mut pairs {
            add(_mm256_add_epi32(one(pair[0]), one(pair[1])));
        }
        if let [last] = pairs.remainder() {
            add(one(*last));
        }
        for (j, a) in acc.iter().enumerate() {
            _mm256_storeu_si256(sp.add(j), *a);
        }
    }
    super::scalar::accumulate(
        hashes,
        &seeds[whole..],
        &quots[whole..],
        b,
        &mut sums[whole..],
    );
}

/// The scalar kernel's `divide_f32`, four at a time: x86 has no 64-bit integer to double
/// conversion before AVX-512DQ, so each sum (below 2^50 in magnitude) is added to the bits of
/// 2^52 + 2^51, whose mantissa then holds it exactly, and the constant subtracted back. The
/// division and the rounding to f32 (nearest, ties to even) are the same IEEE operations as
/// the scalar `as` casts.
///
/// # Safety
/// The CPU must support AVX2; `sums` and `out` must have equal lengths; `|sums[k]| < 2^50`.
#[target_feature(enable = "avx2")]
pub unsafe fn divide_f32(sums: &[i64], den: f64, out: &mut [f32]) {
    const MAGIC: i64 = 0x4338_0000_0000_0000;
    let magic_bits = _mm256_set1_epi64x(MAGIC);
    let magic = _mm256_set1_pd(f64::from_bits(MAGIC as u64));
    let d = _mm256_set1_pd(den);
    let whole = sums.len() / 4 * 4;
    for k in (0..whole).step_by(4) {
        // SAFETY: k + 4 <= whole <= len of both slices.
        let x = _mm256_loadu_si256(sums.as_ptr().add(k).cast());
        let v = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(x, magic_bits)), magic);
        let q = _mm256_cvtpd_ps(_mm256_div_pd(v, d));
        _mm_storeu_ps(out.as_mut_ptr().add(k), q);
    }
    super::scalar::divide_f32(&sums[whole..], den, &mut out[whole..]);
}
