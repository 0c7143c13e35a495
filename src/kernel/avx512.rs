//! AVX-512 kernel: eight positions per 512-bit register, thirty-two per block.
//!
//! The same lane arithmetic as the AVX2 kernel, with mask registers for the centring.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

const LANES: usize = 8;
const BLOCK: usize = 4 * LANES;

/// # Safety
/// The CPU must support AVX-512F; `seeds`, `quots` and `sums` must have equal lengths.
#[target_feature(enable = "avx512f")]
pub unsafe fn accumulate(hashes: &[u32], seeds: &[u32], quots: &[u32], b: u32, sums: &mut [i64]) {
    let whole = sums.len() / BLOCK * BLOCK;
    let bv = _mm512_set1_epi64(i64::from(b));
    let half = _mm512_set1_epi64(i64::from(b / 2));
    let upper = _mm512_set1_epi64(i64::from(b) + i64::from(b / 2));
    for start in (0..whole).step_by(BLOCK) {
        let load32 = |v: &[u32], j: usize| {
            // SAFETY: start + BLOCK <= whole <= len, so 8 u32 from start + 8j are in bounds.
            unsafe {
                _mm512_cvtepu32_epi64(_mm256_loadu_si256(v.as_ptr().add(start + LANES * j).cast()))
            }
        };
        let h: [__m512i; 4] = core::array::from_fn(|j| load32(seeds, j));
        let hq: [__m512i; 4] = core::array::from_fn(|j| load32(quots, j));
        let sp = sums.as_mut_ptr().add(start);
        let mut acc: [__m512i; 4] =
            core::array::from_fn(|j| _mm512_loadu_si512(sp.add(LANES * j).cast()));
        for &s in hashes {
            let sv = _mm512_set1_epi64(i64::from(s));
            for j in 0..4 {
                let q = _mm512_srli_epi64::<32>(_mm512_mul_epu32(sv, hq[j]));
                let r = _mm512_sub_epi64(_mm512_mul_epu32(sv, h[j]), _mm512_mul_epu32(q, bv));
                // r lies in 0..2b: subtract b once above b/2 and again above b + b/2.
                let a = _mm512_add_epi64(acc[j], r);
                let a = _mm512_mask_sub_epi64(a, _mm512_cmpgt_epi64_mask(r, half), a, bv);
                acc[j] = _mm512_mask_sub_epi64(a, _mm512_cmpgt_epi64_mask(r, upper), a, bv);
            }
        }
        for (j, a) in acc.iter().enumerate() {
            _mm512_storeu_si512(sp.add(LANES * j).cast(), *a);
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
