//! How the output is split between the n-gram sizes, and the boundaries of those parts
//! (spec step 3).

use crate::error::Error;

/// Largest supported n-gram size.
pub const MAX_NGRAM: usize = 8;

/// How `dim` is split between the n-gram sizes `1..=max_ngram`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// Size `i` gets a share proportional to `i` (more positions for longer n-grams).
    #[default]
    Proportional,
    /// Every size gets the same share.
    Equal,
    /// Explicit part sizes, one per n-gram size; build it with [`Layout::explicit`].
    Explicit { parts: [u64; MAX_NGRAM], len: usize },
}

impl Layout {
    /// An explicit layout from part sizes, one per n-gram size (so at most 8 of them).
    /// Whether their number matches `max_ngram` and their sum `dim` is checked by
    /// `Config::validate`.
    pub fn explicit(parts: &[u64]) -> Result<Layout, Error> {
        if parts.is_empty() || parts.len() > MAX_NGRAM {
            return Err(Error::LayoutLength {
                expected: MAX_NGRAM,
                got: parts.len(),
            });
        }
        let mut out = [0u64; MAX_NGRAM];
        out[..parts.len()].copy_from_slice(parts);
        Ok(Layout::Explicit {
            parts: out,
            len: parts.len(),
        })
    }
}

/// `b_0 = 0 < b_1 < ... < b_n = dim`; entries past `n` repeat `dim`.
pub fn bounds(layout: &Layout, dim: u64, n: usize) -> Result<[usize; MAX_NGRAM + 1], Error> {
    let mut b = [0u64; MAX_NGRAM + 1];
    match layout {
        Layout::Proportional => {
            let tri = |i: u64| i * (i + 1) / 2;
            for (i, bi) in b.iter_mut().enumerate().take(n + 1) {
                *bi = dim * tri(i as u64) / tri(n as u64);
            }
        }
        Layout::Equal => {
            for (i, bi) in b.iter_mut().enumerate().take(n + 1) {
                *bi = dim * i as u64 / n as u64;
            }
        }
        Layout::Explicit { parts, len } => {
            if *len != n {
                return Err(Error::LayoutLength {
                    expected: n,
                    got: *len,
                });
            }
            for i in 1..=n {
                if parts[i - 1] == 0 {
                    return Err(Error::LayoutPartZero { index: i - 1 });
                }
                b[i] = b[i - 1].saturating_add(parts[i - 1]);
            }
            if b[n] != dim {
                return Err(Error::LayoutSum { sum: b[n], dim });
            }
        }
    }
    for i in 1..=n {
        if b[i] <= b[i - 1] {
            return Err(Error::LayoutPartEmpty { size: i, dim });
        }
    }
    let mut out = [dim as usize; MAX_NGRAM + 1];
    for (o, &bi) in out.iter_mut().zip(&b[..=n]) {
        *o = bi as usize;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let p = bounds(&Layout::Proportional, 768, 3).unwrap();
        assert_eq!(&p[..4], &[0, 128, 384, 768]);
        let e = bounds(&Layout::Equal, 768, 3).unwrap();
        assert_eq!(&e[..4], &[0, 256, 512, 768]);
        let x = Layout::explicit(&[2, 3, 7]).unwrap();
        assert_eq!(&bounds(&x, 12, 3).unwrap()[..4], &[0, 2, 5, 12]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            bounds(&Layout::Proportional, 2, 3),
            Err(Error::LayoutPartEmpty { size: 1, dim: 2 })
        );
        let x = Layout::explicit(&[2, 3]).unwrap();
        assert_eq!(
            bounds(&x, 5, 3),
            Err(Error::LayoutLength {
                expected: 3,
                got: 2
            })
        );
        let x = Layout::explicit(&[2, 3, 4]).unwrap();
        assert_eq!(bounds(&x, 10, 3), Err(Error::LayoutSum { sum: 9, dim: 10 }));
        let x = Layout::explicit(&[1, 0]).unwrap();
        assert_eq!(bounds(&x, 1, 2), Err(Error::LayoutPartZero { index: 1 }));
        assert!(Layout::explicit(&[1; 9]).is_err());
    }

    #[test]
    fn every_dim_and_size_is_increasing_or_rejected() {
        for n in 1..=8 {
            for d in 1..300u64 {
                for l in [Layout::Proportional, Layout::Equal] {
                    if let Ok(b) = bounds(&l, d, n) {
                        assert!(b[..=n].windows(2).all(|w| w[0] < w[1]));
                        assert_eq!(b[n], d as usize);
                    }
                }
            }
        }
    }
}
