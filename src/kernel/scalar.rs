//! The portable kernel: one position at a time, Shoup reduction, no division.

use crate::modarith::mul_mod_lazy;

/// The centred residue of spec step 5 from a lazily reduced product `r` in `0..2b`.
#[inline(always)]
pub fn centre(r: u32, b: u32) -> i64 {
    let half = b / 2;
    let r = if r >= b { r - b } else { r };
    if r > half {
        i64::from(r) - i64::from(b)
    } else {
        i64::from(r)
    }
}

/// Adds to `sums[k]` the centred `(s * seeds[k]) mod b` of every window hash `s`.
pub fn accumulate(hashes: &[u32], seeds: &[u32], quots: &[u32], b: u32, sums: &mut [i64]) {
    for ((sum, &h), &hq) in sums.iter_mut().zip(seeds).zip(quots) {
        *sum += hashes
            .iter()
            .map(|&s| centre(mul_mod_lazy(s, h, hq, b), b))
            .sum::<i64>();
    }
}

/// Spec step 6 into float32: each sum divided by `den`, rounded once to f32.
pub fn divide_f32(sums: &[i64], den: f64, out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(sums) {
        *o = (s as f64 / den) as f32;
    }
}
