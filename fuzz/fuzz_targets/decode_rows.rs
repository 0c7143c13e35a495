//! `hashembed::internals::decode_rows` on arbitrary bytes and offsets: it must never panic, must
//! decode exactly what `std` decodes when every row is valid, and otherwise must name the
//! first bad row (offsets out of order or past the end, or invalid UTF-8 at the right byte).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use hashembed::internals::decode_rows;
use hashembed::Error;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum OffsetsIn {
    /// Cut points into the bytes (sorted, so mostly valid), then one entry poked.
    Cuts {
        cuts: Vec<u16>,
        poke: Option<(u8, u64)>,
    },
    /// Anything at all.
    Raw(Vec<u64>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    bytes: Vec<u8>,
    offsets: OffsetsIn,
    /// Valid UTF-8 mixed in, so that many rows decode.
    text: String,
}

/// What a correct decoder returns: the first bad row's error, or every row's code points.
fn expected(bytes: &[u8], offsets: &[u64]) -> Result<(Vec<u32>, Vec<usize>), Error> {
    let mut chars = Vec::new();
    let mut ends = vec![0];
    for i in 0..offsets.len().saturating_sub(1) {
        let (a, b) = (offsets[i], offsets[i + 1]);
        if a > b || b > bytes.len() as u64 {
            return Err(Error::Offsets { index: i + 1 });
        }
        match std::str::from_utf8(&bytes[a as usize..b as usize]) {
            Ok(s) => chars.extend(s.chars().map(u32::from)),
            Err(e) => {
                return Err(Error::Utf8 {
                    index: i,
                    byte: e.valid_up_to(),
                })
            }
        }
        ends.push(chars.len());
    }
    Ok((chars, ends))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let mut bytes = input.bytes;
    let mid = bytes.len() / 2;
    bytes.splice(mid..mid, input.text.bytes());
    let offsets: Vec<u64> = match input.offsets {
        OffsetsIn::Cuts { cuts, poke } => {
            let mut o: Vec<u64> = cuts
                .iter()
                .map(|&c| u64::from(c) % (bytes.len() as u64 + 1))
                .collect();
            o.sort_unstable();
            if let (Some((i, v)), false) = (poke, o.is_empty()) {
                let i = usize::from(i) % o.len();
                o[i] = v;
            }
            o
        }
        OffsetsIn::Raw(o) => o,
    };
    let got = decode_rows(&bytes, &offsets);
    assert_eq!(got, expected(&bytes, &offsets));
    if let Ok((chars, ends)) = got {
        assert_eq!(ends.len(), offsets.len().max(1));
        assert_eq!(*ends.last().unwrap(), chars.len());
        // What the decoder returns is always a valid batch.
        let texts = hashembed::Texts::new(&chars, &ends).expect("decoded offsets are a batch");
        assert_eq!(texts.len(), offsets.len().saturating_sub(1));
    }
});
