//! Output element types: every value is computed as an `f64` (spec step 6) and rounded once,
//! straight to the element type, so no value is rounded twice.

use crate::kernel::Kernel;

/// A type an embedding can be written in.
pub trait Element: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn from_f64(v: f64) -> Self;

    /// `out[k] = from_f64(sums[k] as f64 / den)` (spec step 6 for a row); `|sums[k]| < 2^50`.
    fn divide(_kernel: Kernel, sums: &[i64], den: f64, out: &mut [Self]) {
        for (o, &s) in out.iter_mut().zip(sums) {
            *o = Self::from_f64(s as f64 / den);
        }
    }
}

impl Element for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        // `as` rounds to nearest, ties to even, as the spec asks.
        v as f32
    }

    fn divide(kernel: Kernel, sums: &[i64], den: f64, out: &mut [f32]) {
        kernel.divide_f32(sums, den, out);
    }
}

impl Element for f64 {
    const ZERO: f64 = 0.0;
    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
}

/// An IEEE 754 binary16 value, as its bits (the layout NumPy's float16 uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct F16(pub u16);

impl Element for F16 {
    const ZERO: F16 = F16(0);
    fn from_f64(v: f64) -> F16 {
        F16(f64_to_f16_bits(v))
    }
}

/// Rounds a double to the nearest binary16, ties to even, overflow to infinity.
pub fn f64_to_f16_bits(v: f64) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mant = bits & ((1u64 << 52) - 1);
    if exp == 0x7ff {
        let nan = if mant != 0 { 0x200 } else { 0 };
        return sign | 0x7c00 | nan;
    }
    let e = exp - 1023;
    if e > 15 {
        return sign | 0x7c00;
    }
    // The kept bits and how many low bits of the (implicit-one) mantissa are dropped.
    let (kept, shift, exp_bits) = if e >= -14 {
        (mant, 42u32, ((e + 15) as u64) << 10)
    } else if exp == 0 || e < -25 {
        return sign;
    } else {
        (mant | (1u64 << 52), (42 + (-14 - e)) as u32, 0)
    };
    let mut out = (kept >> shift) + exp_bits;
    let rest = kept & ((1u64 << shift) - 1);
    let halfway = 1u64 << (shift - 1);
    if rest > halfway || (rest == halfway && out & 1 == 1) {
        // A carry out of the mantissa correctly bumps the exponent (up to infinity).
        out += 1;
    }
    sign | out as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_half_values() {
        let cases: [(f64, u16); 12] = [
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-1.0, 0xbc00),
            (0.5, 0x3800),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00),
            (1e9, 0x7c00),
            (6.103515625e-05, 0x0400),
            (5.960464477539063e-08, 0x0001),
            (2.9802322387695312e-08, 0x0000),
            (1.0 + 1.0 / 2048.0, 0x3c00),
        ];
        for (v, want) in cases {
            assert_eq!(f64_to_f16_bits(v), want, "{v}");
        }
        assert_eq!(f64_to_f16_bits(1.0 + 3.0 / 2048.0), 0x3c02);
        assert_eq!(f64_to_f16_bits(f64::NAN) & 0x7e00, 0x7e00);
    }
}
