//! Polynomial hashes of every i-gram window (spec step 4), updated as the window slides:
//! drop the leaving code point's term `c * p^(i-1)`, multiply by `p`, add the entering one.
//! Equal to the spec's Horner form because both are the same polynomial modulo `m`.

use crate::modarith::MulConst;

/// `c mod m` for a code point; the branch is almost never taken with the default modulus.
#[inline(always)]
fn reduce(c: u32, m: u32) -> u32 {
    if c < m {
        c
    } else {
        c % m
    }
}

/// The spec's Horner hash of one n-gram: the tests' definition of what the rolling hash
/// computes.
#[cfg(test)]
pub fn horner(gram: &[u32], base: u32, m: u32) -> u32 {
    horner_with(gram, MulConst::new(base % m, m), m)
}

#[cfg(test)]
fn horner_with(gram: &[u32], p: MulConst, m: u32) -> u32 {
    gram.iter()
        .fold(0, |h, &c| add_mod(p.mul_mod(h, m), reduce(c, m), m))
}

#[inline(always)]
fn add_mod(a: u32, b: u32, m: u32) -> u32 {
    let s = a + b;
    if s >= m {
        s - m
    } else {
        s
    }
}

/// The code point that opens a text when boundary markers are on (U+0002, START OF TEXT).
pub const START_MARKER: u32 = 0x02;
/// The code point that closes a text when boundary markers are on (U+0003, END OF TEXT).
pub const END_MARKER: u32 = 0x03;

/// A text as the hash sees it: its code points, wrapped in the boundary markers if asked.
/// Reading through this view adds the markers without copying the text.
#[derive(Debug, Clone, Copy)]
pub struct Marked<'t> {
    body: &'t [u32],
    markers: bool,
}

impl<'t> Marked<'t> {
    pub fn new(body: &'t [u32], markers: bool) -> Self {
        Marked { body, markers }
    }

    pub fn len(&self) -> usize {
        self.body.len() + 2 * usize::from(self.markers)
    }

    #[inline(always)]
    fn at(&self, k: usize) -> u32 {
        if !self.markers {
            self.body[k]
        } else if k == 0 {
            START_MARKER
        } else if k > self.body.len() {
            END_MARKER
        } else {
            self.body[k - 1]
        }
    }
}

/// Hashes of the windows of one size over one text, produced in order, in chunks.
#[derive(Debug, Clone)]
pub struct Windows<'t> {
    text: Marked<'t>,
    size: usize,
    m: u32,
    p: MulConst,
    /// `p^(size-1) mod m`, the weight of the code point leaving the window.
    lead: MulConst,
    /// The next window to hash, and one past the last.
    next: usize,
    end: usize,
    /// Whether `hash` holds window `next - 1`, so the next one can roll from it.
    primed: bool,
    hash: u32,
}

impl<'t> Windows<'t> {
    pub fn new(text: Marked<'t>, size: usize, base: u32, m: u32) -> Self {
        let p = MulConst::new(base % m, m);
        let lead = (1..size).fold(1 % m, |acc, _| p.mul_mod(acc, m));
        let mut w = Windows {
            text,
            size,
            m,
            p,
            lead: MulConst::new(lead, m),
            next: 0,
            end: 0,
            primed: false,
            hash: 0,
        };
        w.end = w.count();
        w
    }

    /// Only windows `range` (of `0..count()`), starting afresh at its first.
    pub fn range(&self, range: core::ops::Range<usize>) -> Self {
        debug_assert!(range.start <= range.end && range.end <= self.count());
        Windows {
            next: range.start,
            end: range.end,
            primed: false,
            ..self.clone()
        }
    }

    /// Number of windows in all: `len - size + 1`, or 0 if the text is shorter.
    pub fn count(&self) -> usize {
        (self.text.len() + 1).saturating_sub(self.size)
    }

    /// Writes the next hashes into `buf`; returns how many (0 once every window is done).
    pub fn fill(&mut self, buf: &mut [u32]) -> usize {
        let (m, p, lead, size) = (self.m, self.p, self.lead, self.size);
        let todo = (self.end - self.next).min(buf.len());
        for slot in &mut buf[..todo] {
            let j = self.next;
            let text = self.text;
            self.hash = if !self.primed {
                self.primed = true;
                (j..j + size).fold(0, |h, k| add_mod(p.mul_mod(h, m), reduce(text.at(k), m), m))
            } else {
                let out = lead.mul_mod(reduce(text.at(j - 1), m), m);
                let h = add_mod(self.hash, m - out, m);
                add_mod(p.mul_mod(h, m), reduce(text.at(j + size - 1), m), m)
            };
            *slot = self.hash;
            self.next += 1;
        }
        todo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cps(s: &str) -> Vec<u32> {
        s.chars().map(u32::from).collect()
    }

    #[test]
    fn spec_check_values() {
        assert_eq!(horner(&cps("abc"), 31, 1_000_000_007), 96354);
        assert_eq!(horner(&cps("the"), 31, 1_000_000_007), 114801);
        assert_eq!(horner(&cps("xa"), 31, 1_000_000_007), 3817);
        assert_eq!(horner(&cps("yB"), 31, 1_000_000_007), 3817);
    }

    #[test]
    fn rolling_equals_horner_for_every_window() {
        let t = cps("the quick brown fox \u{1F600} jumps \u{0301}over");
        let text = &t[..];
        for &(base, m) in &[
            (31, 1_000_000_007),
            (1_114_129, 1_000_000_007),
            (7, 5),
            (1, 2),
        ] {
            for size in 1..=8 {
                let mut w = Windows::new(Marked::new(text, false), size, base, m);
                let mut buf = [0u32; 5];
                let mut j = 0;
                loop {
                    let got = w.fill(&mut buf);
                    if got == 0 {
                        break;
                    }
                    for &h in &buf[..got] {
                        assert_eq!(h, horner(&text[j..j + size], base, m));
                        j += 1;
                    }
                }
                assert_eq!(j, text.len() + 1 - size);
            }
        }
    }

    #[test]
    fn markers_hash_as_if_the_text_were_wrapped() {
        let t = cps("ab");
        let wrapped = cps("\u{2}ab\u{3}");
        for size in 1..=4 {
            let mut marked = Windows::new(Marked::new(&t, true), size, 31, 1_000_000_007);
            let mut plain = Windows::new(Marked::new(&wrapped, false), size, 31, 1_000_000_007);
            let (mut a, mut b) = ([0u32; 8], [0u32; 8]);
            assert_eq!(marked.fill(&mut a), plain.fill(&mut b));
            assert_eq!(a, b);
        }
    }

    #[test]
    fn a_range_starts_anywhere() {
        let t = cps("rolling from the middle of a text");
        let all = Windows::new(Marked::new(&t, false), 3, 31, 1_000_000_007);
        let mut w = all.range(5..9);
        let mut buf = [0u32; 8];
        assert_eq!(w.fill(&mut buf), 4);
        for (k, &h) in buf[..4].iter().enumerate() {
            assert_eq!(h, horner(&t[5 + k..8 + k], 31, 1_000_000_007));
        }
        assert_eq!(w.fill(&mut buf), 0);
    }

    #[test]
    fn short_text_has_no_windows() {
        let t = cps("ab");
        assert_eq!(
            Windows::new(Marked::new(&t, false), 3, 31, 1_000_000_007).count(),
            0
        );
        assert_eq!(
            Windows::new(Marked::new(&[], false), 1, 31, 1_000_000_007).count(),
            0
        );
        assert_eq!(
            Windows::new(Marked::new(&[], true), 2, 31, 1_000_000_007).count(),
            1
        );
    }
}
