//! `ListObjectsV2` answers read straight from the response body: a backfill lists every object
//! of a table, and the SDK's generic XML decoder spent about 70 % of a backfill's CPU building
//! a dozen fields per object of which the walk reads one, the key.
//!
//! [`read`] takes only what the walk uses (each `Contents`' `Key`, each `CommonPrefixes`'
//! `Prefix`, `IsTruncated`), borrowing names from the body when they hold no XML reference.
//! Its answer must be the SDK's, to the byte, on every body, so that switching decoders
//! changes nothing but the CPU. It gets there by reading only XML as S3 writes it, strictly
//! (well-formed, no comments, CDATA, DOCTYPE, processing instructions, namespace prefixes or
//! attributes below the root, only XML's five named references and character references to
//! characters XML allows), and checking what the SDK would parse and could refuse (the
//! booleans, integers and timestamps of the page and of every object). Anything else is
//! [`Unread`], and the caller hands the body, untouched, to the SDK's decoder, which then
//! answers as it always did: its answer, its error. Refusing is therefore always safe, and
//! only costs the speed.

use crate::decode::{DecodeError, decode_notification_key};
use crate::walk::ListPage;
use std::borrow::Cow;

/// A page as S3 wrote it: names XML-unescaped but still URL-encoded (`EncodingType=url`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing<'a> {
    pub keys: Vec<Cow<'a, str>>,
    pub prefixes: Vec<Cow<'a, str>>,
    pub truncated: bool,
}

/// A page the walk can use, and the names on it that are not keys at all once URL-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    pub page: ListPage,
    /// Keys first, then prefixes, each in page order: the order the SDK path warned in.
    pub left_out: Vec<LeftOut>,
}

/// A listed name that does not URL-decode to UTF-8. S3 cannot store such a key; a page that
/// claims one is not trusted with it, and the rest of the page still counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// As listed (XML-unescaped, still URL-encoded).
    pub name: String,
    pub error: DecodeError,
}

impl Listing<'_> {
    /// URL-decode every name, as the notification path decodes keys: one allocation per name
    /// kept, none for a name left out.
    pub fn decode(self) -> Decoded {
        let mut left_out = Vec::new();
        let mut decode_all = |names: Vec<Cow<'_, str>>| -> Vec<String> {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                match decode_notification_key(&name) {
                    Ok(Cow::Owned(key)) => out.push(key),
                    Ok(Cow::Borrowed(_)) => out.push(name.into_owned()),
                    Err(error) => left_out.push(LeftOut {
                        name: name.into_owned(),
                        error,
                    }),
                }
            }
            out
        };
        let keys = decode_all(self.keys);
        let dirs = decode_all(self.prefixes);
        Decoded {
            page: ListPage {
                keys,
                dirs,
                truncated: self.truncated,
            },
            left_out,
        }
    }
}

/// Why a body was left to the SDK's decoder, and where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {at} of a ListObjectsV2 answer: {reason}; the SDK's own decoder reads it instead")]
pub struct Unread {
    pub at: usize,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error(
        "the root element is <{0}>, not <ListBucketResult>: an error document or another operation's answer"
    )]
    NotAListing(String),
    #[error("{0}, which S3 does not write in a listing")]
    NotS3(&'static str),
    #[error("malformed XML: {0}")]
    Malformed(&'static str),
    #[error("<{element}> holds {value:?}, which the SDK reads as a {kind} and may refuse")]
    Value {
        element: String,
        value: String,
        kind: &'static str,
    },
}

/// Read a `ListObjectsV2` answer's body, or say why it is left to the SDK's decoder.
pub fn read(body: &[u8]) -> Result<Listing<'_>, Unread> {
    let text = std::str::from_utf8(body).map_err(|e| Unread {
        at: e.valid_up_to(),
        reason: Reason::NotUtf8,
    })?;
    let mut r = Reader {
        s: text,
        b: body,
        i: 0,
    };
    r.prolog()?;
    let at = r.i;
    let (root, empty) = r.start_tag(true)?;
    if root != "ListBucketResult" {
        return Err(Unread {
            at,
            reason: Reason::NotAListing(root.to_owned()),
        });
    }
    let mut listing = Listing::default();
    if !empty {
        while let Some((name, empty)) = r.child(root)? {
            match name {
                "Contents" => r.contents(empty, &mut listing.keys)?,
                "CommonPrefixes" => r.common_prefix(empty, &mut listing.prefixes)?,
                "IsTruncated" => listing.truncated = r.boolean(name, empty)?,
                "MaxKeys" | "KeyCount" => r.integer(name, empty, 9, "32-bit integer")?,
                "Name"
                | "Prefix"
                | "Delimiter"
                | "EncodingType"
                | "StartAfter"
                | "ContinuationToken"
                | "NextContinuationToken" => {
                    r.leaf(name, empty)?;
                }
                _ => r.skip(name, empty, 1)?,
            }
        }
    }
    r.epilog()?;
    Ok(listing)
}

/// [`read`], then [`Listing::decode`].
pub fn read_page(body: &[u8]) -> Result<Decoded, Unread> {
    read(body).map(Listing::decode)
}

/// Elements nested deeper than this are left to the SDK: S3 nests three deep.
const MAX_DEPTH: usize = 32;

/// Bytes a text scan must stop at: markup, references, the start of `]]>`, the first byte of
/// U+FFFE and U+FFFF, and the control characters XML 1.0 does not allow.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = !matches!(c, 0x09 | 0x0A | 0x0D);
        c += 1;
    }
    t[b'<' as usize] = true;
    t[b'&' as usize] = true;
    t[b']' as usize] = true;
    t[0xEF] = true;
    t
};

/// A run of character data: `refs` says whether it holds a reference to unescape.
#[derive(Debug, Clone, Copy)]
struct Text<'a> {
    raw: &'a str,
    refs: bool,
}

impl<'a> Text<'a> {
    const EMPTY: Text<'static> = Text {
        raw: "",
        refs: false,
    };

    /// The text with its references replaced, borrowed when it has none. The references were
    /// checked when the text was scanned.
    fn unescape(self) -> Cow<'a, str> {
        if !self.refs {
            return Cow::Borrowed(self.raw);
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut rest = self.raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let semi = amp + rest[amp..].find(';').expect("a checked reference");
            out.push(reference_char(&rest.as_bytes()[amp + 1..semi]).expect("a checked reference"));
            rest = &rest[semi + 1..];
        }
        out.push_str(rest);
        Cow::Owned(out)
    }
}

/// The character a reference's name (between `&` and `;`) stands for, if it is one XML
/// defines and the character one XML allows.
fn reference_char(name: &[u8]) -> Option<char> {
    let code = match name {
        b"lt" => return Some('<'),
        b"gt" => return Some('>'),
        b"amp" => return Some('&'),
        b"quot" => return Some('"'),
        b"apos" => return Some('\''),
        [b'#', b'x', hex @ ..] if (1..=6).contains(&hex.len()) => hex
            .iter()
            .try_fold(0u32, |n, &d| Some(n * 16 + (d as char).to_digit(16)?))?,
        [b'#', dec @ ..] if (1..=7).contains(&dec.len()) => dec
            .iter()
            .try_fold(0u32, |n, &d| Some(n * 10 + (d as char).to_digit(10)?))?,
        _ => return None,
    };
    matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        .then(|| char::from_u32(code))
        .flatten()
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

type Read<T> = Result<T, Unread>;

impl<'a> Reader<'a> {
    fn fail<T>(&self, reason: Reason) -> Read<T> {
        Err(Unread { at: self.i, reason })
    }

    fn not_s3<T>(&self, what: &'static str) -> Read<T> {
        self.fail(Reason::NotS3(what))
    }

    fn malformed<T>(&self, what: &'static str) -> Read<T> {
        self.fail(Reason::Malformed(what))
    }

    fn at(&self, literal: &[u8]) -> bool {
        self.b[self.i..].starts_with(literal)
    }

    fn spaces(&mut self) -> usize {
        let start = self.i;
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
        self.i - start
    }

    /// The XML declaration, in the forms the SDK's tokenizer accepts; then only whitespace
    /// before the root.
    fn prolog(&mut self) -> Read<()> {
        if self.at(b"\xEF\xBB\xBF") {
            return self.not_s3("a byte-order mark");
        }
        if self.at(b"<?xml ") {
            self.i += 6;
            self.declaration()?;
        }
        self.spaces();
        match self.b.get(self.i..self.i + 2) {
            Some(b"<!") if self.at(b"<!--") => self.not_s3("a comment"),
            Some(b"<!") => self.not_s3("a document type declaration"),
            Some(b"<?") => self.not_s3("a processing instruction"),
            Some([b'<', _]) => Ok(()),
            _ if self.i == self.b.len() => self.malformed("no root element"),
            _ => self.malformed("text before the root element"),
        }
    }

    /// `version="1.N"`, then `encoding` and `standalone` if present, each after whitespace.
    fn declaration(&mut self) -> Read<()> {
        self.spaces();
        let version = self.pseudo_attribute(b"version")?;
        if !(version.len() > 2
            && version.starts_with(b"1.")
            && version[2..].iter().all(u8::is_ascii_digit))
        {
            return self.malformed("an XML version other than 1.x");
        }
        let mut spaced = self.spaces() > 0;
        if spaced && self.at(b"encoding") {
            let name = self.pseudo_attribute(b"encoding")?;
            let valid = name.first().is_some_and(u8::is_ascii_alphabetic)
                && name
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
            if !valid {
                return self.malformed("an invalid encoding name");
            }
            spaced = self.spaces() > 0;
        }
        if spaced && self.at(b"standalone") {
            let value = self.pseudo_attribute(b"standalone")?;
            if value != b"yes" && value != b"no" {
                return self.malformed("standalone other than yes or no");
            }
            self.spaces();
        }
        if !self.at(b"?>") {
            return self.malformed("an XML declaration that does not end in `?>`");
        }
        self.i += 2;
        Ok(())
    }

    /// `name = "value"` in the declaration.
    fn pseudo_attribute(&mut self, name: &[u8]) -> Read<&'a [u8]> {
        if !self.at(name) {
            return self.malformed("an XML declaration without its version first");
        }
        self.i += name.len();
        self.spaces();
        if !self.at(b"=") {
            return self.malformed("a declaration's `=` missing");
        }
        self.i += 1;
        self.spaces();
        let quote = match self.b.get(self.i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return self.malformed("a declaration's value without quotes"),
        };
        let start = self.i + 1;
        let Some(len) = self.b[start..].iter().position(|&c| c == quote) else {
            return self.malformed("a declaration's value without its closing quote");
        };
        self.i = start + len + 1;
        Ok(&self.b[start..start + len])
    }

    /// Only whitespace after the root (the SDK stops reading at the root's end; what might
    /// follow is not S3's).
    fn epilog(&mut self) -> Read<()> {
        self.spaces();
        if self.i != self.b.len() {
            return self.not_s3("content after the root element");
        }
        Ok(())
    }

    /// A name: ASCII letters, digits, `_`, `.` and `-`, as S3's elements are named.
    fn name(&mut self) -> Read<&'a str> {
        let start = self.i;
        if !matches!(self.b.get(self.i), Some(c) if c.is_ascii_alphabetic() || *c == b'_') {
            return match self.b.get(self.i) {
                Some(c) if *c >= 0x80 => self.not_s3("a non-ASCII name"),
                _ => self.malformed("a tag without a name"),
            };
        }
        while matches!(self.b.get(self.i), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b':') => self.not_s3("a namespace prefix"),
            Some(c) if *c >= 0x80 => self.not_s3("a non-ASCII name"),
            _ => Ok(&self.s[start..self.i]),
        }
    }

    /// A start tag, at its `<`: its name, and whether it is empty (`<Name/>`). Attributes
    /// only where `attributes` (the root's `xmlns`).
    fn start_tag(&mut self, attributes: bool) -> Read<(&'a str, bool)> {
        self.i += 1;
        let name = self.name()?;
        loop {
            let spaced = self.spaces() > 0;
            match self.b.get(self.i) {
                Some(b'>') => {
                    self.i += 1;
                    return Ok((name, false));
                }
                Some(b'/') if self.at(b"/>") => {
                    self.i += 2;
                    return Ok((name, true));
                }
                Some(_) if spaced && attributes => self.attribute()?,
                Some(_) if spaced => return self.not_s3("an attribute below the root"),
                Some(_) => return self.malformed("a start tag's name not followed by `>`"),
                None => return self.malformed("the body ends inside a tag"),
            }
        }
    }

    /// `name="value"` (or `prefix:name`), the value without references or `<`.
    fn attribute(&mut self) -> Read<()> {
        self.attribute_name_part()?;
        if self.at(b":") {
            self.i += 1;
            self.attribute_name_part()?;
        }
        self.spaces();
        if !self.at(b"=") {
            return self.malformed("an attribute without `=`");
        }
        self.i += 1;
        self.spaces();
        let quote = match self.b.get(self.i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return self.malformed("an attribute value without quotes"),
        };
        self.i += 1;
        loop {
            match self.b.get(self.i) {
                Some(&c) if c == quote => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'<') => return self.malformed("`<` in an attribute value"),
                Some(b'&') => return self.not_s3("a reference in an attribute value"),
                Some(0xEF) if !self.allowed_ef() => {
                    return self.malformed("a character XML does not allow");
                }
                Some(&c) if c < 0x20 && STOP[c as usize] => {
                    return self.malformed("a character XML does not allow");
                }
                Some(_) => self.i += 1,
                None => return self.malformed("the body ends inside an attribute value"),
            }
        }
    }

    fn attribute_name_part(&mut self) -> Read<()> {
        let start = self.i;
        while matches!(self.b.get(self.i), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        {
            self.i += 1;
        }
        let valid = self.b[start..self.i]
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
        if !valid {
            return self.not_s3("an attribute name S3 does not write");
        }
        Ok(())
    }

    /// At a 0xEF byte: whether it starts a character XML allows (all but U+FFFE and U+FFFF).
    fn allowed_ef(&self) -> bool {
        self.b[self.i] != 0xEF
            || !matches!(
                self.b.get(self.i + 1..self.i + 3),
                Some([0xBF, 0xBE | 0xBF])
            )
    }

    /// Character data up to the next `<` (or the end), its references and characters checked.
    fn text(&mut self) -> Read<Text<'a>> {
        let start = self.i;
        let mut refs = false;
        loop {
            while self.i < self.b.len() && !STOP[self.b[self.i] as usize] {
                self.i += 1;
            }
            match self.b.get(self.i) {
                None | Some(b'<') => {
                    return Ok(Text {
                        raw: &self.s[start..self.i],
                        refs,
                    });
                }
                Some(b'&') => {
                    let name = &self.b[self.i + 1..];
                    let semi = name.iter().take(12).position(|&c| c == b';');
                    match semi.and_then(|n| reference_char(&name[..n]).map(|_| n)) {
                        Some(n) => self.i += n + 2,
                        None => {
                            return self.not_s3(
                                "a reference other than XML's five or a character XML allows",
                            );
                        }
                    }
                    refs = true;
                }
                Some(b']') if self.at(b"]]>") => return self.malformed("`]]>` in text"),
                Some(b']') => self.i += 1,
                Some(0xEF) if self.allowed_ef() => self.i += 1,
                Some(_) => return self.malformed("a character XML does not allow"),
            }
        }
    }

    /// The next child element of `parent`, skipping the text between children, or `None` at
    /// `parent`'s end tag.
    fn child(&mut self, parent: &str) -> Read<Option<(&'a str, bool)>> {
        self.text()?;
        match self.b.get(self.i + 1) {
            None if self.i == self.b.len() => self.malformed("the body ends inside an element"),
            None => self.malformed("the body ends after `<`"),
            Some(b'/') => {
                self.end_tag(parent)?;
                Ok(None)
            }
            Some(b'!') if self.at(b"<!--") => self.not_s3("a comment"),
            Some(b'!') if self.at(b"<![CDATA[") => self.not_s3("CDATA"),
            Some(b'!') => self.malformed("`<!` in content"),
            Some(b'?') => self.not_s3("a processing instruction"),
            Some(_) => self.start_tag(false).map(Some),
        }
    }

    /// `</name>`, at its `<`.
    fn end_tag(&mut self, name: &str) -> Read<()> {
        self.i += 2;
        let start = self.i;
        let closed = self.name()?;
        if closed != name {
            self.i = start;
            return self.malformed("an end tag that does not match its start tag");
        }
        self.spaces();
        if !self.at(b">") {
            return self.malformed("an end tag's name not followed by `>`");
        }
        self.i += 1;
        Ok(())
    }

    /// A member the SDK reads as a string: text only (the SDK refuses an element where it
    /// expects text), empty for `<Name/>`.
    fn leaf(&mut self, name: &str, empty: bool) -> Read<Text<'a>> {
        if empty {
            return Ok(Text::EMPTY);
        }
        let text = self.text()?;
        match self.b.get(self.i + 1) {
            Some(b'/') => {
                self.end_tag(name)?;
                Ok(text)
            }
            None => self.malformed("the body ends inside an element"),
            Some(b'!') if self.at(b"<!--") => self.not_s3("a comment"),
            Some(b'!') if self.at(b"<![CDATA[") => self.not_s3("CDATA"),
            Some(b'?') => self.not_s3("a processing instruction"),
            Some(_) => self.not_s3("an element inside a value"),
        }
    }

    /// A member the SDK parses: its text, which must be plain (a reference in it is left to
    /// the SDK), and must pass `valid`.
    fn parsed(
        &mut self,
        name: &str,
        empty: bool,
        kind: &'static str,
        valid: impl Fn(&[u8]) -> bool,
    ) -> Read<&'a str> {
        let start = self.i;
        let text = self.leaf(name, empty)?;
        if text.refs {
            self.i = start;
            return self.not_s3("a reference in a number, boolean or time");
        }
        if !valid(text.raw.as_bytes()) {
            self.i = start;
            return self.fail(Reason::Value {
                element: name.to_owned(),
                value: text.raw.to_owned(),
                kind,
            });
        }
        Ok(text.raw)
    }

    fn boolean(&mut self, name: &str, empty: bool) -> Read<bool> {
        self.parsed(name, empty, "boolean", |v| v == b"true" || v == b"false")
            .map(|v| v == "true")
    }

    /// Plain decimal digits, few enough to fit the SDK's integer type.
    fn integer(&mut self, name: &str, empty: bool, digits: usize, kind: &'static str) -> Read<()> {
        self.parsed(name, empty, kind, |v| {
            (1..=digits).contains(&v.len()) && v.iter().all(u8::is_ascii_digit)
        })
        .map(drop)
    }

    fn timestamp(&mut self, name: &str, empty: bool) -> Read<()> {
        self.parsed(name, empty, "RFC 3339 time", utc_time)
            .map(drop)
    }

    fn contents(&mut self, empty: bool, keys: &mut Vec<Cow<'a, str>>) -> Read<()> {
        let mut key = None;
        if !empty {
            while let Some((name, empty)) = self.child("Contents")? {
                match name {
                    // The SDK keeps the last of a repeated member.
                    "Key" => key = Some(self.leaf(name, empty)?),
                    "LastModified" => self.timestamp(name, empty)?,
                    "Size" => self.integer(name, empty, 18, "64-bit integer")?,
                    "ETag" | "ChecksumAlgorithm" | "ChecksumType" | "StorageClass" => {
                        self.leaf(name, empty)?;
                    }
                    "Owner" => self.owner(empty)?,
                    "RestoreStatus" => self.restore_status(empty)?,
                    _ => self.skip(name, empty, 2)?,
                }
            }
        }
        keys.extend(key.map(Text::unescape));
        Ok(())
    }

    fn common_prefix(&mut self, empty: bool, prefixes: &mut Vec<Cow<'a, str>>) -> Read<()> {
        let mut prefix = None;
        if !empty {
            while let Some((name, empty)) = self.child("CommonPrefixes")? {
                match name {
                    "Prefix" => prefix = Some(self.leaf(name, empty)?),
                    _ => self.skip(name, empty, 2)?,
                }
            }
        }
        prefixes.extend(prefix.map(Text::unescape));
        Ok(())
    }

    fn owner(&mut self, empty: bool) -> Read<()> {
        if !empty {
            while let Some((name, empty)) = self.child("Owner")? {
                match name {
                    "DisplayName" | "ID" => {
                        self.leaf(name, empty)?;
                    }
                    _ => self.skip(name, empty, 3)?,
                }
            }
        }
        Ok(())
    }

    fn restore_status(&mut self, empty: bool) -> Read<()> {
        if !empty {
            while let Some((name, empty)) = self.child("RestoreStatus")? {
                match name {
                    "IsRestoreInProgress" => {
                        self.boolean(name, empty)?;
                    }
                    "RestoreExpiryDate" => self.timestamp(name, empty)?,
                    _ => self.skip(name, empty, 3)?,
                }
            }
        }
        Ok(())
    }

    /// An element the SDK does not read: only checked to be XML as S3 writes it.
    fn skip(&mut self, name: &str, empty: bool, depth: usize) -> Read<()> {
        if depth > MAX_DEPTH {
            return self.not_s3("elements nested this deep");
        }
        if !empty {
            while let Some((child, empty)) = self.child(name)? {
                self.skip(child, empty, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// `YYYY-MM-DDThh:mm:ss[.f]Z` with a real date and time: a subset of what the SDK's RFC 3339
/// parser accepts (it also takes offsets and leap seconds, which are left to it).
fn utc_time(v: &[u8]) -> bool {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        v.get(r.clone())?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let fraction = match v.get(19..) {
        Some(b"Z") => true,
        Some([b'.', f @ .., b'Z']) => {
            (1..=9).contains(&f.len()) && f.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    let separators = v.get(4) == Some(&b'-')
        && v.get(7) == Some(&b'-')
        && v.get(10) == Some(&b'T')
        && v.get(13) == Some(&b':')
        && v.get(16) == Some(&b':');
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    fraction
        && separators
        && year >= 1
        && (1..=12).contains(&month)
        && (1..=month_days).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>t/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType>"#;

    fn object(key: &str) -> String {
        format!(
            "<Contents><Key>{key}</Key><LastModified>2026-11-25T09:15:42.000Z</LastModified>\
             <ETag>&quot;9dd4e461268c8034f5c8564e155c67a6&quot;</ETag><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm>\
             <ChecksumType>FULL_OBJECT</ChecksumType><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
        )
    }

    fn page(body: &str, truncated: bool) -> String {
        format!("{HEAD}<IsTruncated>{truncated}</IsTruncated>{body}</ListBucketResult>")
    }

    fn keys(body: &str) -> Vec<String> {
        read(body.as_bytes())
            .unwrap()
            .keys
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    fn reason(body: &str) -> Reason {
        read(body.as_bytes()).unwrap_err().reason
    }

    #[test]
    fn a_page_gives_its_keys_in_order() {
        let body = page(&format!("{}{}", object("t/a"), object("t/b")), false);
        assert_eq!(keys(&body), ["t/a", "t/b"]);
    }

    #[test]
    fn common_prefixes_are_the_directories() {
        let body = page(
            "<CommonPrefixes><Prefix>t/dt%3D1/</Prefix></CommonPrefixes>\
             <CommonPrefixes><Prefix>t/dt%3D2/</Prefix></CommonPrefixes>",
            false,
        );
        let listing = read(body.as_bytes()).unwrap();
        assert_eq!(listing.prefixes, ["t/dt%3D1/", "t/dt%3D2/"]);
        assert!(listing.keys.is_empty());
    }

    #[test]
    fn keys_and_prefixes_on_one_page_are_kept_apart() {
        let body = page(
            &format!(
                "{}<CommonPrefixes><Prefix>t/d/</Prefix></CommonPrefixes>",
                object("t/f")
            ),
            false,
        );
        let listing = read(body.as_bytes()).unwrap();
        assert_eq!(listing.keys, ["t/f"]);
        assert_eq!(listing.prefixes, ["t/d/"]);
    }

    #[test]
    fn is_truncated_says_whether_more_follows() {
        assert!(read(page("", true).as_bytes()).unwrap().truncated);
        assert!(!read(page("", false).as_bytes()).unwrap().truncated);
    }

    #[test]
    fn a_page_without_is_truncated_is_complete() {
        let body = "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>";
        assert!(!read(body.as_bytes()).unwrap().truncated);
    }

    #[test]
    fn the_last_of_repeated_members_counts_as_in_the_sdk() {
        let body = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key><Key>b</Key></Contents>\
                    <IsTruncated>false</IsTruncated></ListBucketResult>";
        let listing = read(body.as_bytes()).unwrap();
        assert_eq!(listing.keys, ["b"]);
        assert!(!listing.truncated);
    }

    #[test]
    fn an_empty_page_has_no_names() {
        for body in [
            "<ListBucketResult/>",
            "<ListBucketResult></ListBucketResult>",
            &page("", false),
        ] {
            assert_eq!(read(body.as_bytes()).unwrap(), Listing::default(), "{body}");
        }
    }

    #[test]
    fn a_key_without_references_is_borrowed_from_the_body() {
        let body = page(&object("t/dt%3D1/f"), false);
        let listing = read(body.as_bytes()).unwrap();
        assert!(matches!(listing.keys[0], Cow::Borrowed("t/dt%3D1/f")));
    }

    #[test]
    fn references_in_a_key_are_unescaped() {
        let body = page(
            &object("a&amp;b&lt;c&gt;d&quot;e&apos;f&#38;g&#x26;h&#xE9;&#49436;"),
            false,
        );
        assert_eq!(keys(&body), ["a&b<c>d\"e'f&g&hé서"]);
    }

    #[test]
    fn contents_without_a_key_give_no_key() {
        let body =
            "<ListBucketResult><Contents><Size>1</Size></Contents><Contents/></ListBucketResult>";
        assert!(read(body.as_bytes()).unwrap().keys.is_empty());
    }

    #[test]
    fn an_empty_key_element_is_an_empty_key() {
        let body = "<ListBucketResult><Contents><Key/></Contents><Contents><Key></Key></Contents></ListBucketResult>";
        assert_eq!(keys(body), ["", ""]);
    }

    #[test]
    fn whitespace_in_a_key_is_part_of_it() {
        let body = "<ListBucketResult><Contents><Key> a\tb </Key></Contents></ListBucketResult>";
        assert_eq!(keys(body), [" a\tb "]);
    }

    #[test]
    fn members_the_walk_does_not_use_are_passed_over() {
        let body = page(
            "<Contents><Key>k</Key><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner>\
             <RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress>\
             <RestoreExpiryDate>2026-02-28T23:59:59Z</RestoreExpiryDate></RestoreStatus>\
             <Future><Nested><Deeper>x &amp; y</Deeper></Nested></Future></Contents><Unknown/>",
            false,
        );
        assert_eq!(keys(&body), ["k"]);
    }

    #[test]
    fn pretty_printed_pages_are_read() {
        let body = "<?xml version='1.0' standalone='yes' ?>\n<ListBucketResult>\n  <Contents>\n    <Key>k</Key >\n  </Contents>\n</ListBucketResult >\n";
        assert_eq!(keys(body), ["k"]);
    }

    #[test]
    fn the_example_page_of_the_s3_api_reference_is_read() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix/>
    <KeyCount>205</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
</ListBucketResult>"#;
        assert_eq!(keys(body), ["my-image.jpg"]);
    }

    #[test]
    fn names_are_url_decoded_after_they_are_unescaped() {
        let body = page(&object("t/a+b%2Bc&amp;%26/%EC%84%9C"), false);
        let decoded = read_page(body.as_bytes()).unwrap();
        assert_eq!(decoded.page.keys, ["t/a b+c&&/서"]);
        assert!(decoded.left_out.is_empty());
    }

    #[test]
    fn a_name_that_does_not_decode_is_left_out_and_named() {
        let body = page(
            &format!(
                "{}{}<CommonPrefixes><Prefix>t/%C3/</Prefix></CommonPrefixes>",
                object("t/%FF"),
                object("t/ok")
            ),
            true,
        );
        let decoded = read_page(body.as_bytes()).unwrap();
        assert_eq!(decoded.page.keys, ["t/ok"]);
        assert!(decoded.page.dirs.is_empty());
        assert!(decoded.page.truncated);
        let names: Vec<_> = decoded.left_out.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["t/%FF", "t/%C3/"]);
    }

    #[test]
    fn an_error_document_is_not_a_listing() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code></Error>";
        assert_eq!(reason(body), Reason::NotAListing("Error".into()));
    }

    #[test]
    fn xml_s3_does_not_write_is_left_to_the_sdk() {
        for (body, what) in [
            ("\u{FEFF}<ListBucketResult/>", "a byte-order mark"),
            ("<!--c--><ListBucketResult/>", "a comment"),
            (
                "<!DOCTYPE x><ListBucketResult/>",
                "a document type declaration",
            ),
            ("<?pi?><ListBucketResult/>", "a processing instruction"),
            ("<ListBucketResult><!--c--></ListBucketResult>", "a comment"),
            (
                "<ListBucketResult><Contents><Key><![CDATA[k]]></Key></Contents></ListBucketResult>",
                "CDATA",
            ),
            (
                "<ListBucketResult><Contents a=\"1\"/></ListBucketResult>",
                "an attribute below the root",
            ),
            ("<s3:ListBucketResult/>", "a namespace prefix"),
            (
                "<ListBucketResult><Contents><Key>&nbsp;</Key></Contents></ListBucketResult>",
                "a reference other than XML's five or a character XML allows",
            ),
            (
                "<ListBucketResult><Contents><Key>&#1;</Key></Contents></ListBucketResult>",
                "a reference other than XML's five or a character XML allows",
            ),
            (
                "<ListBucketResult><Contents><Key>a<b/></Key></Contents></ListBucketResult>",
                "an element inside a value",
            ),
            (
                "<ListBucketResult/><!--after-->",
                "content after the root element",
            ),
            (
                "<ListBucketResult><KeyCount>&#49;</KeyCount></ListBucketResult>",
                "a reference in a number, boolean or time",
            ),
        ] {
            assert_eq!(reason(body), Reason::NotS3(what), "{body}");
        }
    }

    #[test]
    fn elements_nested_deeper_than_s3_nests_are_left_to_the_sdk() {
        let body = format!(
            "<ListBucketResult>{}{}</ListBucketResult>",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(reason(&body), Reason::NotS3("elements nested this deep"));
    }

    #[test]
    fn malformed_xml_is_left_to_the_sdk() {
        for body in [
            "",
            "  ",
            "<ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key></Content></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key></Contents>",
            "<ListBucketResult><Contents><Key>a]]>b</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a\u{1}b</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a\u{FFFE}b</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key ></Contents ></ListBucketResult><",
            "<?xml version=\"2.0\"?><ListBucketResult/>",
            "<?xml encoding=\"UTF-8\"?><ListBucketResult/>",
            "<?xml version=\"1.0\"encoding=\"UTF-8\"?><ListBucketResult/>",
            "x<ListBucketResult/>",
            "<ListBucketResult xmlns=\"a<b\"/>",
            "<ListBucketResult><Contents/ ></ListBucketResult>",
        ] {
            assert!(read(body.as_bytes()).is_err(), "{body:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_left_to_the_sdk() {
        let err =
            read(b"<ListBucketResult><Contents><Key>\xFF</Key></Contents></ListBucketResult>")
                .unwrap_err();
        assert_eq!(err.reason, Reason::NotUtf8);
        assert_eq!(err.at, 33);
    }

    #[test]
    fn values_the_sdk_parses_and_could_refuse_are_left_to_it() {
        for (member, value) in [
            ("IsTruncated", "yes"),
            ("IsTruncated", "True"),
            ("IsTruncated", ""),
            ("KeyCount", "-1"),
            ("KeyCount", "99999999999"),
            ("MaxKeys", " 1000"),
        ] {
            let body = format!("<ListBucketResult><{member}>{value}</{member}></ListBucketResult>");
            assert!(
                matches!(reason(&body), Reason::Value { element, .. } if element == member),
                "{body}"
            );
        }
        for (member, value) in [
            ("Size", "1.5"),
            ("LastModified", "yesterday"),
            ("LastModified", "2026-02-29T00:00:00Z"),
            ("LastModified", "2024-13-01T00:00:00Z"),
            ("LastModified", "2024-01-01T24:00:00Z"),
            ("LastModified", "2024-01-01T00:00:00+01:00"),
            ("LastModified", "2024-01-01T00:00:00.Z"),
        ] {
            let body = format!(
                "<ListBucketResult><Contents><Key>k</Key><{member}>{value}</{member}></Contents></ListBucketResult>"
            );
            assert!(
                matches!(reason(&body), Reason::Value { element, .. } if element == member),
                "{body}"
            );
        }
    }

    #[test]
    fn times_s3_writes_are_read() {
        for value in [
            "2024-02-29T23:59:59Z",
            "2009-10-12T17:50:30.000Z",
            "2000-02-29T00:00:00.123456789Z",
        ] {
            assert!(utc_time(value.as_bytes()), "{value}");
        }
    }

    #[test]
    fn the_reason_says_where_and_that_the_sdk_reads_the_page() {
        let err = read(b"<ListBucketResult><!--c--></ListBucketResult>").unwrap_err();
        assert_eq!(
            err.to_string(),
            "byte 18 of a ListObjectsV2 answer: a comment, which S3 does not write in a listing; \
             the SDK's own decoder reads it instead"
        );
    }

    /// A name as S3 lists it (URL-encoded), written into XML as a writer might.
    fn xml_escaped(name: &str, numeric: bool) -> String {
        let mut out = String::new();
        for c in name.chars() {
            match c {
                '&' if numeric => out.push_str("&#38;"),
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#x27;"),
                c if numeric && !c.is_ascii() => out.push_str(&format!("&#x{:X};", c as u32)),
                c => out.push(c),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn reading_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = read(&body);
        }

        #[test]
        fn a_written_page_reads_back_its_names(
            keys in proptest::collection::vec("[a-z/=é서 +%&<>\"'\t]{0,12}", 0..8),
            prefixes in proptest::collection::vec("[a-z/=é&<]{0,8}/", 0..4),
            truncated: bool,
            numeric: bool,
        ) {
            let mut body = String::new();
            for k in &keys {
                body.push_str(&object(&xml_escaped(k, numeric)));
            }
            for p in &prefixes {
                body.push_str(&format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", xml_escaped(p, numeric)));
            }
            let body = page(&body, truncated);
            let listing = read(body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(listing.keys, keys);
            proptest::prop_assert_eq!(listing.prefixes, prefixes);
            proptest::prop_assert_eq!(listing.truncated, truncated);
        }
    }
}
