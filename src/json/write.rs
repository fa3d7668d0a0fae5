//! A dedicated writer for listing pages: the same bytes as
//! `serde_json::to_vec(&page)`, without serde's per-byte escaping loop.

use crate::paging::Page;
use crate::record::FileHandle;

/// Lowercase hexadecimal digits, as serde_json writes `\u00XX` and as
/// locations and cursors are written.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `0x01` in every byte of a word.
const ONES: u64 = u64::MAX / 255;
/// `0x80` in every byte of a word.
const HIGHS: u64 = ONES * 0x80;

/// A word with `0x80` set in (at least) the lowest byte of `w` that JSON
/// must escape (`"`, `\` or below `0x20`), and zero when no byte must be.
/// Bits above the lowest flagged byte may be spurious; the lowest is exact.
#[inline]
fn escape_bits(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b;
    (below_space | quote | backslash) & HIGHS
}

/// Whether JSON must escape `b`.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string, escaped exactly as serde_json does:
/// `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other bytes below `0x20` as
/// `\u00xx`, everything else (including non-ASCII UTF-8) as is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0; // first byte not yet copied
    let mut i = 0;
    while i < bytes.len() {
        // Find the next byte to escape, a word at a time.
        while let Some(chunk) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let bits = escape_bits(w);
            if bits != 0 {
                i += (bits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while i < bytes.len() && !needs_escape(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `v` in decimal.
fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

/// Appends `v` as 16 lowercase hexadecimal digits (a location or cursor).
fn write_hex16(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 16];
    for (k, d) in buf.iter_mut().enumerate() {
        *d = HEX[((v >> (60 - 4 * k)) & 0xf) as usize];
    }
    out.extend_from_slice(&buf);
}

/// Appends one listing element, as its `Serialize` impl writes it; with
/// `node`, its location in the cluster form `NODE-LOCATION`.
fn write_handle(out: &mut Vec<u8>, h: &FileHandle, node: Option<u64>) {
    let hi = &h.handle_info;
    out.extend_from_slice(b"{\"file_number\":\"");
    write_u64(out, h.file_number.0);
    out.extend_from_slice(b"\",\"handle_info\":{\"location\":\"");
    if let Some(node) = node {
        write_u64(out, node);
        out.push(b'-');
    }
    write_hex16(out, hi.location.0);
    out.extend_from_slice(b"\",\"version\":");
    write_u64(out, hi.version);
    out.extend_from_slice(b",\"num_byte_range_locks\":");
    write_u64(out, u64::from(hi.num_byte_range_locks));
    out.extend_from_slice(b",\"num_notify_watches\":\"");
    write_u64(out, u64::from(hi.num_notify_watches));
    out.push(b'"');
    out.extend_from_slice(b",\"access_mask\":[");
    for (k, name) in hi.access_mask.names(hi.directory).enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Names are plain ASCII capitals and underscores: nothing to escape.
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"owner\":");
    write_str(out, &hi.owner);
    if let Some(path) = &hi.path {
        out.extend_from_slice(b",\"path\":");
        write_str(out, path);
    }
    if hi.disconnected {
        out.extend_from_slice(b",\"disconnected\":true");
    }
    out.extend_from_slice(b"}}");
}

/// Appends `handles` as a JSON array of listing elements (locations in
/// the cluster form with `node`).
fn write_handles(out: &mut Vec<u8>, handles: &[FileHandle], node: Option<u64>) {
    out.push(b'[');
    for (k, h) in handles.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Fixed text, digits and names are under 1 KiB; strings may grow by
        // escaping, which `write_str` reserves for itself.
        out.reserve(
            1024 + h.handle_info.owner.len() + h.handle_info.path.as_ref().map_or(0, |p| p.len()),
        );
        write_handle(out, h, node);
    }
    out.push(b']');
}

/// The `GET /v1/smb/files` body for `handles` with `paging.next` set to
/// `next` (a string) or `null`: `{"file_handles":[…],"paging":{"next":…}}`,
/// byte for byte what serde_json writes for the same shape.
///
/// The admin endpoint uses it with the next page's URI; [`page_to_json`]
/// with the page's cursor.
///
/// ```
/// use smb_handles::json::listing_to_json;
///
/// assert_eq!(listing_to_json(&[], Some("/v1/smb/files/?after=x")),
///            br#"{"file_handles":[],"paging":{"next":"/v1/smb/files/?after=x"}}"#);
/// assert_eq!(listing_to_json(&[], None), br#"{"file_handles":[],"paging":{"next":null}}"#);
/// ```
pub fn listing_to_json(handles: &[FileHandle], next: Option<&str>) -> Vec<u8> {
    listing_on_node(handles, next, None)
}

/// [`listing_to_json`] with each location in the cluster form
/// `NODE-LOCATION` when `node` is given (a node's part of a cluster
/// listing, which the asking node then passes on without rewriting it).
pub(crate) fn listing_on_node(
    handles: &[FileHandle],
    next: Option<&str>,
    node: Option<u64>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + handles.len() * 400);
    out.extend_from_slice(b"{\"file_handles\":");
    write_handles(&mut out, handles, node);
    out.extend_from_slice(b",\"paging\":{\"next\":");
    match next {
        Some(next) => write_str(&mut out, next),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}");
    out
}

/// A page as JSON: byte for byte `serde_json::to_vec(page)` (the
/// `Serialize` impl stays for serde users), several times faster.
/// `paging.next` is the page's cursor (16 hexadecimal digits) or `null`.
///
/// ```
/// use smb_handles::{AccessMask, FileNumber, HandleTable, ListQuery, OpenSpec};
/// use smb_handles::json::page_to_json;
///
/// let table = HandleTable::new();
/// table.open(OpenSpec::new(FileNumber(42), "/a \"b\".txt", "S-1-5-21-1",
///                          AccessMask::FILE_READ_DATA)).unwrap();
/// let page = table.list(&ListQuery { resolve_paths: true, ..ListQuery::default() }).unwrap();
/// let json = page_to_json(&page);
/// assert_eq!(json, serde_json::to_vec(&page).unwrap());
/// assert!(String::from_utf8(json).unwrap().contains(r#""path":"/a \"b\".txt""#));
/// ```
pub fn page_to_json(page: &Page) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + page.file_handles.len() * 400);
    out.extend_from_slice(b"{\"file_handles\":");
    write_handles(&mut out, &page.file_handles, None);
    out.extend_from_slice(b",\"paging\":{\"next\":");
    match page.next {
        Some(c) => {
            out.push(b'"');
            write_hex16(&mut out, (u64::from(c.shard) << 32) | u64::from(c.slot));
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        let mut all = String::new();
        for c in (0u8..0x80).map(char::from) {
            all.push(c);
        }
        all.push_str("é😀\u{7f}\u{2028}");
        for s in
            [&all[..], "", "plain words, longer than eight bytes", "\"\\", "ab\u{1}cdefghij\"kl"]
        {
            for cut in 0..s.len().min(12) {
                let Some(t) = s.get(cut..) else { continue };
                let mut out = Vec::new();
                write_str(&mut out, t);
                assert_eq!(out, serde_json::to_vec(t).unwrap(), "{t:?}");
            }
        }
    }

    #[test]
    fn numbers_and_hex_match() {
        for v in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
            out.clear();
            write_hex16(&mut out, v);
            assert_eq!(out, format!("{v:016x}").into_bytes());
        }
    }
}
