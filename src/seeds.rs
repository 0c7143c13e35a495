//! The hash-seed vector (spec step 2): SplitMix64 from `seed`, folded into `1..buckets`.

#[cfg(feature = "std")]
use crate::error::Error;

/// The SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

impl Iterator for SplitMix64 {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    }
}

/// Fills `out` with the seeds derived from `seed`: `h_k = 1 + z_k mod (buckets - 1)`.
pub fn derive(seed: u64, buckets: u32, out: &mut [u32]) {
    let span = u64::from(buckets) - 1;
    for (h, z) in out.iter_mut().zip(SplitMix64::new(seed)) {
        *h = (1 + z % span) as u32;
    }
}

/// Copies explicit seeds into `out`, checking each lies in `1..buckets` (only an `Embedder`
/// takes explicit seeds, so only with `std`).
#[cfg(feature = "std")]
pub fn check_explicit(given: &[u64], buckets: u32, out: &mut [u32]) -> Result<(), Error> {
    if given.len() != out.len() {
        return Err(Error::HashSeedsLength {
            expected: out.len(),
            got: given.len(),
        });
    }
    for (index, (&value, h)) in given.iter().zip(out.iter_mut()).enumerate() {
        if value == 0 || value >= u64::from(buckets) {
            return Err(Error::HashSeed {
                index,
                value,
                buckets: u64::from(buckets),
            });
        }
        *h = value as u32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_stream_from_zero() {
        let z: [u64; 2] = core::array::from_fn({
            let mut g = SplitMix64::new(0);
            move |_| g.next().unwrap()
        });
        assert_eq!(z, [0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4]);
    }

    #[test]
    fn spec_seeds_for_42() {
        let mut h = [0u32; 4];
        derive(42, 1_000_000_007, &mut h);
        assert_eq!(h, [678530714, 427935848, 627061557, 163067633]);
    }

    #[test]
    fn seeds_stay_in_range_for_smallest_buckets() {
        let mut h = [0u32; 64];
        derive(7, 3, &mut h);
        assert!(h.iter().all(|&x| (1..3).contains(&x)));
    }

    #[test]
    fn explicit_seeds_are_checked() {
        let mut h = [0u32; 2];
        assert_eq!(
            check_explicit(&[1, 7], 7, &mut h),
            Err(Error::HashSeed {
                index: 1,
                value: 7,
                buckets: 7
            })
        );
        assert_eq!(
            check_explicit(&[1], 7, &mut h),
            Err(Error::HashSeedsLength {
                expected: 2,
                got: 1
            })
        );
        check_explicit(&[1, 6], 7, &mut h).unwrap();
        assert_eq!(h, [1, 6]);
    }
}
