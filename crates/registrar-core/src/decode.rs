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
    let mut out = Vec::with_capacity(raw.len());
    decode_bytes(raw.as_bytes(), |b| out.push(b));
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::NotUtf8(raw.to_owned()))
}

/// [`decode_notification_key`] into an arena: a decoded key costs no heap allocation of
/// its own, and an undecoded one is the same slice.
pub fn decode_notification_key_in<'a>(
    raw: &'a str,
    arena: &'a Bump,
) -> Result<&'a str, DecodeError> {
    if !needs_decoding(raw) {
        return Ok(raw);
    }
    let mut out = bumpalo::collections::Vec::with_capacity_in(raw.len(), arena);
    decode_bytes(raw.as_bytes(), |b| out.push(b));
    bumpalo::collections::String::from_utf8(out)
        .map(|s| s.into_bump_str())
        .map_err(|_| DecodeError::NotUtf8(raw.to_owned()))
}

fn needs_decoding(raw: &str) -> bool {
    raw.bytes().any(|b| matches!(b, b'+' | b'%'))
}

/// One pass over the bytes: this runs for every object of every event.
fn decode_bytes(bytes: &[u8], mut push: impl FnMut(u8)) {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    push(h << 4 | l);
                    i += 2;
                }
                _ => push(b'%'),
            },
            b => push(b),
        }
        i += 1;
    }
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

    #[test]
    fn hive_unescape_decodes_colon() {
        assert_eq!(hive_unescape("12%3A00"), "12:00");
    }

    #[test]
    fn hive_unescape_keeps_plus() {
        assert_eq!(hive_unescape("a+b"), "a+b");
    }
}
