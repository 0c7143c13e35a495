//! Batches given as UTF-8: one byte buffer plus offsets (the layout of an Arrow string array
//! and of the C API's batch call), decoded into the code point form the batch driver reads.

use crate::error::Error;

/// Decodes text `i = bytes[offsets[i]..offsets[i + 1]]` for every `i`; returns the code
/// points and their `len + 1` offsets. Invalid UTF-8 is an error naming the text and byte;
/// a buffer too large to allocate is [`Error::TooLarge`].
pub fn decode_rows(bytes: &[u8], offsets: &[u64]) -> Result<(Vec<u32>, Vec<usize>), Error> {
    // Refused rather than aborting the process when the code points cannot be allocated.
    let mut chars = Vec::new();
    chars
        .try_reserve_exact(bytes.len())
        .map_err(|_| Error::TooLarge)?;
    let mut out = Vec::new();
    out.try_reserve_exact(offsets.len().max(1))
        .map_err(|_| Error::TooLarge)?;
    out.push(0);
    for (i, w) in offsets.windows(2).enumerate() {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if a > b || b > bytes.len() || w[1] > usize::MAX as u64 {
            return Err(Error::Offsets { index: i + 1 });
        }
        let s = core::str::from_utf8(&bytes[a..b]).map_err(|e| Error::Utf8 {
            index: i,
            byte: e.valid_up_to(),
        })?;
        chars.extend(s.chars().map(u32::from));
        out.push(chars.len());
    }
    Ok((chars, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rows_and_names_bad_ones() {
        let bytes = "héllo☃".as_bytes();
        let (c, o) = decode_rows(bytes, &[0, 3, 3, bytes.len() as u64]).unwrap();
        assert_eq!(o, [0, 2, 2, 6]);
        assert_eq!(c, ['h', 'é', 'l', 'l', 'o', '☃'].map(u32::from));
        assert_eq!(
            decode_rows(b"ab\xffc", &[0, 1, 4]),
            Err(Error::Utf8 { index: 1, byte: 1 })
        );
        assert_eq!(
            decode_rows(b"ab", &[0, 3]),
            Err(Error::Offsets { index: 1 })
        );
        assert_eq!(
            decode_rows(b"ab", &[2, 1]),
            Err(Error::Offsets { index: 1 })
        );
    }
}
