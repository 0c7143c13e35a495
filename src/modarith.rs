//! Multiplication modulo a 31-bit number by a fixed multiplier without division.
//!
//! Shoup's method: for a multiplier `w < m` precompute `wq = floor(w * 2^32 / m)`. For any
//! `x < 2^32`, `q = (x * wq) >> 32` undershoots `floor(x * w / m)` by at most one, so
//! `x * w - q * m` (exact in 64 bits, and below `2m < 2^32`) needs one conditional subtraction.
//! Every kernel uses this identity, which is why they agree with `(x * w) % m` bit for bit.

/// A multiplier with its precomputed Shoup quotient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulConst {
    pub w: u32,
    pub wq: u32,
}

/// Shoup's quotient for `w < m`, `m < 2^31`.
#[inline]
pub fn shoup_quotient(w: u32, m: u32) -> u32 {
    debug_assert!(w < m && m < 1 << 31);
    ((u64::from(w) << 32) / u64::from(m)) as u32
}

impl MulConst {
    pub fn new(w: u32, m: u32) -> Self {
        MulConst {
            w,
            wq: shoup_quotient(w, m),
        }
    }

    /// `(x * w) mod m` for any `x < 2^32`.
    #[inline(always)]
    pub fn mul_mod(self, x: u32, m: u32) -> u32 {
        let r = mul_mod_lazy(x, self.w, self.wq, m);
        if r >= m {
            r - m
        } else {
            r
        }
    }
}

/// `(x * w) mod m` plus 0 or `m`: the result lies in `0..2m`.
#[inline(always)]
pub fn mul_mod_lazy(x: u32, w: u32, wq: u32, m: u32) -> u32 {
    let q = ((u64::from(x) * u64::from(wq)) >> 32) as u32;
    x.wrapping_mul(w).wrapping_sub(q.wrapping_mul(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(x: u32, w: u32, m: u32) {
        let c = MulConst::new(w, m);
        assert_eq!(
            u64::from(c.mul_mod(x, m)),
            u64::from(x) * u64::from(w) % u64::from(m),
            "x={x} w={w} m={m}"
        );
    }

    #[test]
    fn matches_division_at_the_edges() {
        let ms = [2u32, 3, 7, 31, 65_537, 1_000_000_007, (1 << 31) - 1];
        for &m in &ms {
            for &w in &[0, 1, m / 2, m - 1] {
                for &x in &[0, 1, m - 1, m, m + 1, u32::MAX, u32::MAX - 1, 1 << 31] {
                    check(x, w, m);
                }
            }
        }
    }

    #[test]
    fn matches_division_on_a_pseudo_random_sweep() {
        let mut g = crate::seeds::SplitMix64::new(1);
        for _ in 0..200_000 {
            let a = g.next().unwrap();
            let m = 2 + (a as u32 % ((1 << 31) - 2));
            let w = (a >> 32) as u32 % m;
            check(g.next().unwrap() as u32, w, m);
        }
    }
}
