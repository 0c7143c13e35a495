//! The projection (spec step 5): for every window hash `s` and output position `k`, the
//! centred `(s * h_k) mod B`, summed over windows. Three implementations of one definition,
//! chosen at run time so one build uses the widest vectors the CPU has.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::error::Error;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod avx2;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod avx512;
pub mod scalar;

/// One implementation of the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    Scalar,
    Avx2,
    Avx512,
}

impl Kernel {
    pub const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// The kernel named `name`; `"auto"` is the best one this CPU supports.
    pub fn from_name(name: &str) -> Result<Kernel, Error> {
        let k = match name {
            "auto" => return Ok(Kernel::best()),
            "scalar" => Kernel::Scalar,
            "avx2" => Kernel::Avx2,
            "avx512" => Kernel::Avx512,
            _ => return Err(Error::UnknownKernel),
        };
        if k.is_supported() {
            Ok(k)
        } else {
            Err(Error::UnsupportedKernel { name: k.name() })
        }
    }

    /// The kernel in use (see [`active`]).
    pub fn active() -> Kernel {
        active()
    }

    /// Makes this kernel the one used from now on, in the whole process (see [`set_active`]).
    pub fn set_active(self) -> Result<(), Error> {
        set_active(self)
    }

    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
            Kernel::Avx2 => std::is_x86_feature_detected!("avx2"),
            #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
            Kernel::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(all(not(feature = "std"), any(target_arch = "x86", target_arch = "x86_64")))]
            Kernel::Avx2 => cfg!(target_feature = "avx2"),
            #[cfg(all(not(feature = "std"), any(target_arch = "x86", target_arch = "x86_64")))]
            Kernel::Avx512 => cfg!(target_feature = "avx512f"),
            #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
            Kernel::Avx2 | Kernel::Avx512 => false,
        }
    }

    /// The fastest supported kernel.
    pub fn best() -> Kernel {
        [Kernel::Avx512, Kernel::Avx2]
            .into_iter()
            .find(|k| k.is_supported())
            .unwrap_or(Kernel::Scalar)
    }

    /// Adds to `sums[k]` the centred `(s * seeds[k]) mod b` for every `s` in `hashes`.
    /// `quots[k]` is the Shoup quotient of `seeds[k]`; the three slices have equal lengths.
    #[inline]
    pub fn accumulate(
        self,
        hashes: &[u32],
        seeds: &[u32],
        quots: &[u32],
        b: u32,
        sums: &mut [i64],
    ) {
        assert!(seeds.len() == sums.len() && quots.len() == sums.len());
        // Anyone can name a variant, so the CPU is checked here (a cached flag) rather than
        // trusted; an unsupported kernel computes the same bits with the scalar one.
        match self {
            // SAFETY: the CPU supports AVX-512F (checked in the guard); lengths are asserted above.
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Kernel::Avx512 if self.is_supported() => unsafe {
                avx512::accumulate(hashes, seeds, quots, b, sums)
            },
            // SAFETY: the CPU supports AVX2 (checked in the guard); lengths are asserted above.
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Kernel::Avx2 if self.is_supported() => unsafe {
                avx2::accumulate(hashes, seeds, quots, b, sums)
            },
            _ => scalar::accumulate(hashes, seeds, quots, b, sums),
        }
    }

    /// `out[k] = (sums[k] as f64 / den) as f32` for sums below 2^50 in magnitude (the
    /// division is IEEE's in every kernel, so the bits are the same).
    #[inline]
    pub fn divide_f32(self, sums: &[i64], den: f64, out: &mut [f32]) {
        assert_eq!(sums.len(), out.len());
        match self {
            // SAFETY: the CPU supports AVX2 (checked in the guard); the lengths are equal. The
            // AVX-512 kernel uses it too: a CPU with AVX-512F has AVX2, and the guard checks.
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx512 if Kernel::Avx2.is_supported() => unsafe {
                avx2::divide_f32(sums, den, out)
            },
            _ => scalar::divide_f32(sums, den, out),
        }
    }
}

/// 0 = not chosen yet, else 1 + index into `Kernel::ALL`.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The kernel in use: the one set with [`set_active`], else the `HASHEMBED_KERNEL` environment
/// variable (std only; see [`from_env`]: an unknown name falls back to the best kernel here,
/// the bindings refuse it), else the best.
pub fn active() -> Kernel {
    match ACTIVE.load(Ordering::Relaxed) {
        0 => {
            let k = initial();
            ACTIVE.store(1 + k as u8, Ordering::Relaxed);
            k
        }
        i => Kernel::ALL[usize::from(i - 1)],
    }
}

/// The kernel the `HASHEMBED_KERNEL` environment variable names: None when it is not set or
/// names a kernel this CPU lacks (then the best it has runs, so one setting serves machines
/// of several kinds), [`Error::UnknownKernel`] when it is not a kernel's name. The bindings
/// report that error when they start (Python's import, the C API's `hashembed_new`), since
/// [`active`] cannot.
#[cfg(feature = "std")]
pub fn from_env() -> Result<Option<Kernel>, Error> {
    match std::env::var("HASHEMBED_KERNEL") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::UnknownKernel),
        Ok(name) => match Kernel::from_name(name.trim()) {
            Ok(k) => Ok(Some(k)),
            Err(Error::UnsupportedKernel { .. }) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

#[cfg(feature = "std")]
fn initial() -> Kernel {
    from_env().ok().flatten().unwrap_or_else(Kernel::best)
}

#[cfg(not(feature = "std"))]
fn initial() -> Kernel {
    Kernel::best()
}

/// Forces a kernel for the whole process (output is the same whichever runs).
pub fn set_active(k: Kernel) -> Result<(), Error> {
    if !k.is_supported() {
        return Err(Error::UnsupportedKernel { name: k.name() });
    }
    ACTIVE.store(1 + k as u8, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modarith::shoup_quotient;
    use crate::seeds::SplitMix64;

    /// The spec's definition, with division, as the oracle for every kernel.
    fn definition(hashes: &[u32], seeds: &[u32], b: u32) -> Vec<i64> {
        seeds
            .iter()
            .map(|&h| {
                hashes
                    .iter()
                    .map(|&s| {
                        let r = (u64::from(s) * u64::from(h) % u64::from(b)) as i64;
                        if 2 * r > i64::from(b) {
                            r - i64::from(b)
                        } else {
                            r
                        }
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn every_supported_kernel_matches_the_definition() {
        let mut g = SplitMix64::new(3);
        for round in 0..300 {
            let b = match round % 4 {
                0 => 3,
                1 => (1 << 31) - 1,
                _ => 3 + (g.next().unwrap() % ((1 << 31) - 3)) as u32,
            };
            let m = 2 + (g.next().unwrap() % ((1 << 31) - 2)) as u32;
            let n_pos = (g.next().unwrap() % 100) as usize;
            let n_win = (g.next().unwrap() % 20) as usize;
            let seeds: Vec<u32> = (0..n_pos)
                .map(|_| 1 + (g.next().unwrap() % u64::from(b - 1)) as u32)
                .collect();
            let quots: Vec<u32> = seeds.iter().map(|&h| shoup_quotient(h, b)).collect();
            let hashes: Vec<u32> = (0..n_win)
                .map(|i| match i % 3 {
                    0 => m - 1,
                    _ => (g.next().unwrap() % u64::from(m)) as u32,
                })
                .collect();
            let want = definition(&hashes, &seeds, b);
            for k in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
                let mut sums = vec![0i64; n_pos];
                k.accumulate(&hashes, &seeds, &quots, b, &mut sums);
                assert_eq!(sums, want, "kernel {} b={b}", k.name());
            }
        }
    }

    #[test]
    fn every_kernel_divides_as_the_scalar_casts_do() {
        let mut g = SplitMix64::new(11);
        let check = |sums: &[i64], den: f64| {
            let want: Vec<u32> = sums
                .iter()
                .map(|&s| ((s as f64 / den) as f32).to_bits())
                .collect();
            for k in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
                let mut out = vec![0f32; sums.len()];
                k.divide_f32(sums, den, &mut out);
                let got: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                assert_eq!(got, want, "kernel {} den={den}", k.name());
            }
        };
        let limit = 1i64 << 50;
        let mut edges: Vec<i64> = vec![0, 1, -1, limit - 1, 1 - limit, 3, -3, 5, 1 << 30];
        edges.extend((0..2000).map(|_| (g.next().unwrap() % (2 * limit as u64)) as i64 - limit));
        for windows in [1u64, 3, 7, 255, 1 << 16] {
            for b in [3u32, 4, 1 << 30, 1_000_000_007, (1 << 31) - 1] {
                check(&edges, windows as f64 * (f64::from(b) / 2.0));
            }
        }
        // Denominators as the embedding makes them (texts of up to 2^16 windows), with sums of their range and sums next
        // to multiples of the denominator (where a quotient is exact or nearly so).
        for _ in 0..2000 {
            let windows = 1 + g.next().unwrap() % (1 << 16);
            let b = 3 + (g.next().unwrap() % ((1 << 31) - 3)) as u32;
            let den = windows as f64 * (f64::from(b) / 2.0);
            let most = (windows * u64::from(b / 2)) as i64;
            let sums: Vec<i64> = (0..500)
                .map(|i| match i % 3 {
                    0 => (g.next().unwrap() % (2 * most as u64 + 1)) as i64 - most,
                    _ => {
                        let k = (g.next().unwrap() % (2 * windows + 1)) as i64 - windows as i64;
                        let near =
                            (k as f64 * den / 2.0) as i64 + (g.next().unwrap() % 5) as i64 - 2;
                        near.clamp(-most, most)
                    }
                })
                .collect();
            check(&sums, den);
        }
    }

    #[test]
    fn names_round_trip() {
        for k in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            assert_eq!(Kernel::from_name(k.name()), Ok(k));
        }
        assert_eq!(Kernel::from_name("sse9"), Err(Error::UnknownKernel));
        assert!(Kernel::from_name("auto").unwrap().is_supported());
    }
}
