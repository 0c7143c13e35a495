//! AVX2 kernel: four positions per 256-bit register, sixteen per block.
//!
//! Each 64-bit lane holds one position's seed and Shoup quotient (zero-extended 32-bit values),
//! so `_mm256_mul_epu32` gives exact 64-bit products and the sums stay exact in `i64` lanes.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

const LANES: usize = 4;
const BLOCK: usize = 4 * LANES;

/// # Safety
/// The CPU must support AVX2; `seeds`, `quots` and `sums` must have equal lengths.
#[target_feature(enable = "avx2")]
pub unsafe fn accumulate(hashes: &[u32], seeds: &[u32], quots: &[u32], b: u32, sums: &mut [i64]) {
    let whole = sums.len() / BLOCK * BLOCK;
    let bv = _mm256_set1_epi64x(i64::from(b));
    let half = _mm256_set1_epi64x(i64::from(b / 2));
    let upper = _mm256_set1_epi64x(i64::from(b) + i64::from(b / 2));
    for start in (0..whole).step_by(BLOCK) {
        let load32 = |v: &[u32], j: usize| {
            // SAFETY: start + BLOCK <= whole <= len, so 4 u32 from start + 4j are in bounds.
            unsafe {
                _mm256_cvtepu32_epi64(_mm_loadu_si128(v.as_ptr().add(start + LANES * j).cast()))
            }
        };
        let h: [__m256i; 4] = core::array::from_fn(|j| load32(seeds, j));
        let hq: [__m256i; 4] = core::array::from_fn(|j| load32(quots, j));
        let sp = sums.as_mut_ptr().add(start).cast::<__m256i>();
        let mut acc: [__m256i; 4] = core::array::from_fn(|j| _mm256_loadu_si256(sp.add(j)));
        for &s in hashes {
            let sv = _mm256_set1_epi64x(i64::from(s));
            for j in 0..4 {
                let q = _mm256_srli_epi64::<32>(_mm256_mul_epu32(sv, hq[j]));
                let r = _mm256_sub_epi64(_mm256_mul_epu32(sv, h[j]), _mm256_mul_epu32(q, bv));
                // r lies in 0..2b: subtract b once above b/2 and again above b + b/2.
                let over = _mm256_add_epi64(
                    _mm256_and_si256(_mm256_cmpgt_epi64(r, half), bv),
                    _mm256_and_si256(_mm256_cmpgt_epi64(r, upper), bv),
                );
                acc[j] = _mm256_add_epi64(acc[j], _mm256_sub_epi64(r, over));
            }
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
