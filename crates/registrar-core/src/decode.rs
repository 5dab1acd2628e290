//! Decoding of object keys and Hive partition values.
//!
//! S3 notifications carry keys form-URL-encoded (`+` is a space, everything else `%XX`);
//! EventBridge carries them raw. Decoding happens exactly once, in event normalisation,
//! so every later step works on the real key. Hive escapes special characters in partition
//! values as `%XX` (but never uses `+`), so its unescape is a separate function.

use bumpalo::Bump;
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// Why an event key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("object key is not valid UTF-8 once URL-decoded: {0}")]
    NotUtf8(String),
}

/// Decode a key as S3 event notifications send it: `+` is a space, `%XX` a byte, and the
/// bytes form UTF-8. A literal `+` in a key arrives as `%2B`, so replacing `+` first is right.
pub fn decode_notification_key(raw: &str) -> Result<Cow<'_, str>, DecodeError> {
    if !needs_decoding(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = vec![0; raw.len()];
    let n = decode_into(raw.as_bytes(), &mut out);
    out.truncate(n);
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::NotUtf8(raw.to_owned()))
}

/// [`decode_notification_key`] into an arena: the decoded key costs no heap allocation of
/// its own. (A key with nothing to decode needs no call: it is already itself.)
pub fn decode_notification_key_in<'a>(raw: &str, arena: &'a Bump) -> Result<&'a str, DecodeError> {
    let out = arena.alloc_slice_fill_copy(raw.len(), 0u8);
    let n = decode_into(raw.as_bytes(), out);
    std::str::from_utf8(&out[..n]).map_err(|_| DecodeError::NotUtf8(raw.to_owned()))
}

/// Whether a notification key holds anything to decode (`+` or `%`).
pub fn needs_decoding(raw: &str) -> bool {
    raw.bytes().any(|b| matches!(b, b'+' | b'%'))
}

/// Decode `raw` into `out` (at least as long: decoding never lengthens), returning the length
/// written. Runs without `+` or `%` are copied whole: this runs for every object of every
/// event.
fn decode_into(raw: &[u8], out: &mut [u8]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < raw.len() {
        let run = raw[i..]
            .iter()
            .position(|b| matches!(b, b'+' | b'%'))
            .unwrap_or(raw.len() - i);
        out[n..n + run].copy_from_slice(&raw[i..i + run]);
        (i, n) = (i + run, n + run);
        let Some(&b) = raw.get(i) else { break };
        let escape = match b {
            b'+' => Some((b' ', 1)),
            _ if i + 2 < raw.len() => hex(raw[i + 1])
                .zip(hex(raw[i + 2]))
                .map(|(h, l)| (h << 4 | l, 3)),
            _ => None,
        };
        let (byte, width) = escape.unwrap_or((b'%', 1));
        out[n] = byte;
        (i, n) = (i + width, n + 1);
    }
    n
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Undo Hive's escaping of a partition value (`%3A` → `:`). A value that does not decode to
/// UTF-8 is kept as written: it is still a valid, if odd, partition value.
pub fn hive_unescape(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    match percent_decode_str(value).decode_utf8() {
        Ok(decoded) => decoded,
        Err(_) => Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_a_space() {
        assert_eq!(
            decode_notification_key("a/my+file.csv").unwrap(),
            "a/my file.csv"
        );
    }

    #[test]
    fn encoded_plus_is_a_plus() {
        assert_eq!(decode_notification_key("a/1%2B1.csv").unwrap(), "a/1+1.csv");
    }

    #[test]
    fn encoded_equals_sign_is_decoded() {
        assert_eq!(
            decode_notification_key("t/dt%3D2026-11-25/f").unwrap(),
            "t/dt=2026-11-25/f"
        );
    }

    #[test]
    fn multibyte_utf8_is_decoded() {
        assert_eq!(
            decode_notification_key("t/city=%EC%84%9C%EC%9A%B8/f").unwrap(),
            "t/city=서울/f"
        );
    }

    #[test]
    fn decoding_happens_once() {
        // `%2541` is an encoded `%41`; decoding twice would wrongly give `A`.
        assert_eq!(decode_notification_key("t/%2541").unwrap(), "t/%41");
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        assert!(decode_notification_key("t/%FF%FE").is_err());
    }

    #[test]
    fn malformed_percent_sequence_is_kept_literally() {
        assert_eq!(decode_notification_key("t/100%zz").unwrap(), "t/100%zz");
    }

    /// The byte-at-a-time decoding the fast one must agree with.
    fn reference(raw: &str) -> Option<String> {
        let b = raw.as_bytes();
        let (mut out, mut i) = (Vec::new(), 0);
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                    out.push(hex(b[i + 1]).unwrap() << 4 | hex(b[i + 2]).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }

    proptest::proptest! {
        #[test]
        fn decoding_agrees_with_the_byte_at_a_time_reference(
            raw in "([a-z/=é +%]|%[0-9A-Fa-f]{2}|%[G-Z]{1,2}){0,30}"
        ) {
            let arena = Bump::new();
            let fast = decode_notification_key(&raw).ok().map(|c| c.into_owned());
            proptest::prop_assert_eq!(&fast, &reference(&raw));
            let in_arena = decode_notification_key_in(&raw, &arena).ok().map(str::to_owned);
            proptest::prop_assert_eq!(in_arena, reference(&raw));
        }
    }

    #[test]
    fn hive_unescape_decodes_colon() {
        assert_eq!(hive_unescape("12%3A00"), "12:00");
    }

    #[test]
    fn hive_unescape_keeps_plus() {
        assert_eq!(hive_unescape("a+b"), "a+b");
    }
}
