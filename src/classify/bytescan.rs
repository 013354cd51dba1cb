//! Word-at-a-time byte scans of short texts (eight bytes per step, no per-byte branches):
//! counts of given byte values and the "three ASCII capitals in a row" test. The text
//! pipeline runs several of these per message, where a byte loop or a call per searched
//! byte costs more than the scan itself.

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `b[..8]` (zero-padded when shorter), little-endian.
#[inline]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    w[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(w)
}

/// The high bit of each byte of `v` that is zero (exactly, no false positives).
#[inline]
fn zero_bytes(v: u64) -> u64 {
    !(((v & LO7).wrapping_add(LO7)) | v | LO7)
}

/// The high bit of each byte of `v` that equals `c`.
#[inline]
fn eq_bytes(v: u64, c: u8) -> u64 {
    zero_bytes(v ^ (ONES * u64::from(c)))
}

/// The high bit of each byte of `v` in `b'A'..=b'Z'`.
#[inline]
fn upper_bytes(v: u64) -> u64 {
    let low = v & LO7;
    // Bytes >= 0x41 get their high bit from the first sum, bytes >= 0x5B from the second.
    let ge_a = low.wrapping_add(ONES * (0x80 - 0x41));
    let ge_z = low.wrapping_add(ONES * (0x80 - 0x5b));
    ge_a & !ge_z & !v & HIGH
}

/// The number of high bits set in `m` (a mask of byte flags): a multiply sums the flags
/// into the top byte, cheaper than a population count on the baseline x86-64 target.
#[inline]
fn byte_flags_sum(m: u64) -> usize {
    ((m >> 7).wrapping_mul(ONES) >> 56) as usize
}

/// How many bytes of `b` equal each of `cs` (zero bytes cannot be counted: the padding of
/// the last word is zero).
pub fn count_bytes<const N: usize>(b: &[u8], cs: [u8; N]) -> [usize; N] {
    debug_assert!(cs.iter().all(|&c| c != 0));
    let mut counts = [0usize; N];
    for chunk in b.chunks(8) {
        let v = word(chunk);
        for (n, &c) in counts.iter_mut().zip(&cs) {
            *n += byte_flags_sum(eq_bytes(v, c));
        }
    }
    counts
}

/// Whether `b` holds three ASCII capitals in a row.
pub fn has_three_capitals(b: &[u8]) -> bool {
    // The capitals mask of the previous word, for runs across a word boundary.
    let mut prev = 0u64;
    for chunk in b.chunks(8) {
        let m = upper_bytes(word(chunk));
        let both = (u128::from(m) << 64) | u128::from(prev);
        if (both & (both << 8) & (both << 16)) >> 64 != 0 {
            return true;
        }
        prev = m;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Vec<Vec<u8>> {
        let mut t: Vec<Vec<u8>> = [
            &b""[..],
            b"a",
            b"ABC",
            b"AB",
            b"abcdefgABC",
            b"abcdefABCx",
            b"abcdefgAB Cd",
            b"@@a/b.c?!!<&:",
            b"\x00\x7f\x80\xff@AZ[`az{",
            "é @ÀBC ☃ WHY?!".as_bytes(),
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        for n in 0..40 {
            let mut s = vec![b'x'; n];
            if n >= 3 {
                s[n - 3..].copy_from_slice(b"XYZ");
            }
            t.push(s);
        }
        let all: Vec<u8> = (0..=255u8).collect();
        for w in all.windows(11) {
            t.push(w.to_vec());
        }
        if let Some(b) = crate::classify::corpus::shared_bytes("vader/tweets_GroundTruth.txt") {
            t.extend(b.split(|&c| c == b'\n').map(<[u8]>::to_vec));
        }
        t
    }

    #[test]
    fn counts_equal_a_byte_loop() {
        let cs = [
            b'@', b'/', b'.', b'?', b'!', b'<', b'&', b':', 0x80, 0xff, b'A',
        ];
        for t in texts() {
            let got = count_bytes(&t, cs);
            for (i, &c) in cs.iter().enumerate() {
                assert_eq!(got[i], t.iter().filter(|&&b| b == c).count(), "{t:?} {c}");
            }
        }
    }

    #[test]
    fn three_capitals_equal_a_window_scan() {
        for t in texts() {
            let want = t
                .windows(3)
                .any(|w| w.iter().all(|b| b.is_ascii_uppercase()));
            assert_eq!(has_three_capitals(&t), want, "{t:?}");
        }
    }
}
