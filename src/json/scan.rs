//! A single-pass scanner for `POST /v1/smb/files/close` bodies.
//!
//! It accepts exactly the bodies serde_json accepts (strict JSON: numbers,
//! literals, escapes, UTF-8; any nesting depth, iteratively) and reads only
//! `handle_info.location` of each element, with the rules the serde-based
//! parser applied: an element that is not an object, or whose `handle_info`
//! or `location` key is missing, `null`, repeated or (for `handle_info`) not
//! an object, or where a key of either object is a string serde_json would
//! not decode (a lone UTF-16 surrogate escape), asks for no location; a
//! location that is not a string of 1 to 16 hexadecimal digits after
//! unescaping (nor a value ever issued) is invalid.

use crate::error::CloseError;
use crate::limits::MAX_REQUEST_ELEMENTS;
use crate::location::Location;

/// What one close-request element asked for.
pub(crate) type Requested = Result<Location, CloseError>;

const MISSING: Requested = Err(CloseError::MissingLocation);
const INVALID: Requested = Err(CloseError::InvalidLocation);

/// Why a body was refused.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// Not JSON, or not an array: what was wrong and at which byte.
    Syntax { what: &'static str, at: usize },
    /// More than [`MAX_REQUEST_ELEMENTS`] elements.
    TooMany,
}

type Scanned<T> = Result<T, ScanError>;

/// `0x01` in every byte of a word.
const ONES: u64 = u64::MAX / 255;
/// `0x80` in every byte of a word.
const HIGHS: u64 = ONES * 0x80;

/// `0x80` set in (at least) the lowest byte of `w` that ends a plain run in
/// a string: `"`, `\`, below `0x20` or non-ASCII; zero when there is none.
#[inline]
fn special_bits(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    // `below_space & !w` leaves out non-ASCII bytes; `| w` puts them back.
    (below_space | quote | backslash | w) & HIGHS
}

/// The value of one hexadecimal digit.
#[inline]
fn hex_value(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

/// Four hexadecimal digits (the tail of a `\u` escape).
fn hex4(digits: &[u8]) -> Option<u16> {
    let d = digits.get(..4)?;
    d.iter().try_fold(0u16, |acc, &b| Some((acc << 4) | hex_value(b)?))
}

/// A stack of bits (object or array) of any height, a word inline.
#[derive(Default)]
struct BitStack {
    top: u64,
    len: usize,
    spill: Vec<u64>,
}

impl BitStack {
    fn push(&mut self, object: bool) {
        if self.len > 0 && self.len % 64 == 0 {
            self.spill.push(self.top);
            self.top = 0;
        }
        self.top = (self.top << 1) | u64::from(object);
        self.len += 1;
    }

    fn pop(&mut self) {
        self.top >>= 1;
        self.len -= 1;
        if self.len > 0 && self.len % 64 == 0 {
            self.top = self.spill.pop().expect("a spilled word per 64 levels");
        }
    }

    fn top_is_object(&self) -> bool {
        self.top & 1 == 1
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn error<T>(&self, what: &'static str) -> Scanned<T> {
        Err(ScanError::Syntax { what, at: self.i })
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Consumes `byte` (after whitespace) or fails with `what`.
    #[inline]
    fn expect(&mut self, byte: u8, what: &'static str) -> Scanned<()> {
        self.ws();
        if self.peek() != Some(byte) {
            return self.error(what);
        }
        self.i += 1;
        Ok(())
    }

    /// Skips the rest of a string (the opening quote consumed), checking
    /// escapes, control characters and UTF-8. Returns whether it held an
    /// escape.
    fn string(&mut self) -> Scanned<bool> {
        let b = self.b;
        let mut escaped = false;
        loop {
            while let Some(chunk) = b.get(self.i..self.i + 8) {
                let bits = special_bits(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
                if bits != 0 {
                    self.i += (bits.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            let Some(c) = self.peek() else {
                return self.error("unterminated string");
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    match b.get(self.i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                        Some(b'u') => {
                            if hex4(&b[self.i + 2..]).is_none() {
                                return self.error("invalid \\u escape");
                            }
                            self.i += 6;
                        }
                        _ => return self.error("invalid escape"),
                    }
                }
                0..=0x1f => return self.error("control character in a string"),
                0x20..=0x7f => self.i += 1,
                _ => {
                    let width = match c {
                        0xc2..=0xdf => 2,
                        0xe0..=0xef => 3,
                        0xf0..=0xf4 => 4,
                        _ => return self.error("invalid UTF-8"),
                    };
                    match b.get(self.i..self.i + width) {
                        Some(seq) if std::str::from_utf8(seq).is_ok() => self.i += width,
                        _ => return self.error("invalid UTF-8"),
                    }
                }
            }
        }
    }

    /// Skips a number: `` -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE] [+-]? [0-9]+)? ``
    fn number(&mut self) -> Scanned<()> {
        let digits = |s: &mut Self| {
            let from = s.i;
            while let Some(b'0'..=b'9') = s.peek() {
                s.i += 1;
            }
            s.i > from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return self.error("invalid number (leading zero)");
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.error("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return self.error("invalid number (no digit after the point)");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return self.error("invalid number (no digit in the exponent)");
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Scanned<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.error("invalid literal")
        }
    }

    /// Reads `"key":` and the whitespace after it (whitespace before it
    /// skipped).
    fn member_key(&mut self) -> Scanned<()> {
        if self.peek() != Some(b'"') {
            return self.error("expected a string key");
        }
        self.i += 1;
        self.string()?;
        self.expect(b':', "expected ':'")?;
        self.ws();
        Ok(())
    }

    /// Skips one value of any kind and depth (whitespace before it skipped
    /// or not), iteratively.
    fn value(&mut self) -> Scanned<()> {
        let mut stack = BitStack::default();
        self.ws();
        loop {
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        stack.push(true);
                        self.member_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        stack.push(false);
                        continue;
                    }
                }
                Some(b'"') => {
                    self.i += 1;
                    self.string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return self.error("expected a value"),
                None => return self.error("expected a value, found the end of the body"),
            }
            // A value ended: close what it ended.
            loop {
                if stack.len == 0 {
                    return Ok(());
                }
                self.ws();
                let object = stack.top_is_object();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                        if object {
                            self.member_key()?;
                        }
                        break;
                    }
                    Some(b']') if !object => stack.pop(),
                    Some(b'}') if object => stack.pop(),
                    _ if object => return self.error("expected ',' or '}'"),
                    _ => return self.error("expected ',' or ']'"),
                }
                self.i += 1;
            }
        }
    }

    /// Reads a key (opening quote consumed): whether it decodes to `want`,
    /// and whether serde_json would decode it at all.
    fn key(&mut self, want: &[u8]) -> Scanned<(bool, bool)> {
        let start = self.i;
        if self.b[start..].starts_with(want) && self.b.get(start + want.len()) == Some(&b'"') {
            self.i += want.len() + 1;
            return Ok((true, true));
        }
        if !self.string()? {
            return Ok((false, true));
        }
        Ok(decode_key(&self.b[start..self.i - 1], want))
    }

    /// An object (its `{` consumed) whose one member `name` is read by
    /// `inner`; every other member is skipped.
    fn object_field(
        &mut self,
        name: &[u8],
        inner: fn(&mut Self) -> Scanned<Requested>,
    ) -> Scanned<Requested> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(MISSING);
        }
        let (mut result, mut seen, mut refused) = (MISSING, false, false);
        loop {
            if self.peek() != Some(b'"') {
                return self.error("expected a string key");
            }
            self.i += 1;
            let (matches, decodable) = self.key(name)?;
            refused |= !decodable;
            self.expect(b':', "expected ':'")?;
            self.ws();
            if matches && !seen {
                seen = true;
                result = inner(self)?;
            } else {
                // A repeated key is an error for serde's derive.
                refused |= matches;
                self.value()?;
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return self.error("expected ',' or '}'"),
            }
        }
        Ok(if refused { MISSING } else { result })
    }

    /// One element of the request array.
    fn element(&mut self) -> Scanned<Requested> {
        if self.peek() != Some(b'{') {
            self.value()?;
            return Ok(MISSING);
        }
        self.i += 1;
        self.object_field(b"handle_info", Self::handle_info)
    }

    /// The value of `handle_info`.
    fn handle_info(&mut self) -> Scanned<Requested> {
        if self.peek() != Some(b'{') {
            self.value()?;
            return Ok(MISSING);
        }
        self.i += 1;
        self.object_field(b"location", Self::location)
    }

    /// The value of `location`.
    fn location(&mut self) -> Scanned<Requested> {
        match self.peek() {
            Some(b'"') => {}
            Some(b'n') => {
                self.value()?;
                return Ok(MISSING);
            }
            _ => {
                self.value()?;
                return Ok(INVALID);
            }
        }
        self.i += 1;
        let start = self.i;
        // Fast path: plain hexadecimal digits and the closing quote.
        let mut v: u64 = 0;
        let mut n = 0;
        while let Some(d) = self.b.get(start + n).copied().and_then(hex_value) {
            if n == 16 {
                break;
            }
            v = (v << 4) | u64::from(d);
            n += 1;
        }
        if n > 0 && self.b.get(start + n) == Some(&b'"') {
            self.i = start + n + 1;
            return Ok(location_of(v));
        }
        // Anything else: check the string, then decode it.
        if !self.string()? {
            return Ok(INVALID);
        }
        Ok(decode_location(&self.b[start..self.i - 1]))
    }
}

/// A parsed location value, unless it is one never issued.
fn location_of(v: u64) -> Requested {
    if v == 0 || v == u64::MAX {
        INVALID
    } else {
        Ok(Location(v))
    }
}

/// One decoded character of a valid string's raw text at `j`, and the index
/// after it; `None` for a lone surrogate. Only escapes are decoded: a raw
/// byte is returned as is (callers compare against ASCII).
fn decode_at(raw: &[u8], j: usize) -> (Option<u32>, usize) {
    let c = raw[j];
    if c != b'\\' {
        return (Some(u32::from(c)), j + 1);
    }
    let simple = |ch: u8| (Some(u32::from(ch)), j + 2);
    match raw[j + 1] {
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'u' => {
            let n = hex4(&raw[j + 2..]).expect("checked by the scan");
            match n {
                0xdc00..=0xdfff => (None, j + 6),
                0xd800..=0xdbff => {
                    let rest = &raw[j + 6..];
                    match rest.strip_prefix(b"\\u").and_then(hex4) {
                        Some(0xdc00..=0xdfff) => (Some(0x1_0000), j + 12),
                        _ => (None, j + 6),
                    }
                }
                _ => (Some(u32::from(n)), j + 6),
            }
        }
        other => simple(other), // `"`, `\` and `/` stand for themselves
    }
}

/// Whether an escaped key decodes to `want`, and whether it decodes at all
/// (serde_json refuses a lone surrogate when it decodes a key).
fn decode_key(raw: &[u8], want: &[u8]) -> (bool, bool) {
    let (mut j, mut p, mut matches) = (0, 0, true);
    while j < raw.len() {
        let (ch, next) = decode_at(raw, j);
        let Some(ch) = ch else { return (false, false) };
        matches &= want.get(p).is_some_and(|&w| u32::from(w) == ch);
        p += 1;
        j = next;
    }
    (matches && p == want.len(), true)
}

/// An escaped location string: 1 to 16 hexadecimal digits once decoded.
fn decode_location(raw: &[u8]) -> Requested {
    let (mut j, mut v, mut n) = (0, 0u64, 0);
    while j < raw.len() {
        let (ch, next) = decode_at(raw, j);
        let digit = ch.and_then(|c| u8::try_from(c).ok()).and_then(hex_value);
        match digit {
            Some(d) if n < 16 => {
                v = (v << 4) | u64::from(d);
                n += 1;
            }
            _ => return INVALID,
        }
        j = next;
    }
    if n == 0 {
        INVALID
    } else {
        location_of(v)
    }
}

/// Scans a whole close body (already checked for size).
pub(crate) fn scan_close_request(body: &[u8]) -> Scanned<Vec<Requested>> {
    let mut s = Scanner { b: body, i: 0 };
    s.ws();
    match s.peek() {
        Some(b'[') => s.i += 1,
        Some(_) => return s.error("expected a JSON array"),
        None => return s.error("expected a JSON array, found the end of the body"),
    }
    // About 300 bytes per element as listed; never more than the limit.
    let mut out = Vec::with_capacity((body.len() / 128).min(MAX_REQUEST_ELEMENTS));
    s.ws();
    if s.peek() == Some(b']') {
        s.i += 1;
    } else {
        loop {
            let r = s.element()?;
            if out.len() == MAX_REQUEST_ELEMENTS {
                return Err(ScanError::TooMany);
            }
            out.push(r);
            s.ws();
            match s.peek() {
                Some(b',') => {
                    s.i += 1;
                    s.ws();
                }
                Some(b']') => {
                    s.i += 1;
                    break;
                }
                Some(_) => return s.error("expected ',' or ']'"),
                None => return s.error("unterminated array"),
            }
        }
    }
    s.ws();
    if s.i != body.len() {
        return s.error("trailing characters after the array");
    }
    Ok(out)
}
