//! The dedicated JSON writer and close-body scanner against serde_json:
//! `page_to_json`/`listing_to_json` must write exactly `serde_json::to_vec`'s
//! bytes, and `parse_close_request` must give exactly what the serde-based
//! parser it replaced gave (kept here as the oracle) for any bytes.

use std::fmt;
use std::sync::Arc;

use proptest::prelude::*;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use smb_handles::json::{listing_to_json, page_to_json, parse_close_request};
use smb_handles::{
    AccessMask, CloseError, Cursor, FileHandle, FileNumber, HandleInfo, Location, Page,
    RequestError, MAX_REQUEST_BYTES, MAX_REQUEST_ELEMENTS,
};

// ---------------------------------------------------------------------------
// The oracle: the serde-based close parser as it was before the scanner.

type Requested = Result<Location, CloseError>;

#[derive(Deserialize)]
struct CloseElement<'a> {
    #[serde(borrow, default)]
    handle_info: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CloseHandleInfo<'a> {
    #[serde(borrow, default)]
    location: Option<&'a RawValue>,
}

fn requested(element: &RawValue) -> Requested {
    const MISSING: Requested = Err(CloseError::MissingLocation);
    let is_object = |raw: &RawValue| raw.get().starts_with('{');
    if !is_object(element) {
        return MISSING;
    }
    let Ok(CloseElement { handle_info: Some(info) }) = serde_json::from_str(element.get()) else {
        return MISSING;
    };
    if !is_object(info) {
        return MISSING;
    }
    let Ok(CloseHandleInfo { location: Some(location) }) = serde_json::from_str(info.get()) else {
        return MISSING;
    };
    match serde_json::from_str::<std::borrow::Cow<'_, str>>(location.get()) {
        Ok(text) => text.parse().map_err(|_| CloseError::InvalidLocation),
        Err(_) => Err(CloseError::InvalidLocation),
    }
}

struct RequestVisitor;

const TOO_MANY: &str = "smb-handles: too many elements";

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(r) = seq.next_element::<&'de RawValue>()? {
            if out.len() == MAX_REQUEST_ELEMENTS {
                return Err(de::Error::custom(TOO_MANY));
            }
            out.push(r);
        }
        Ok(out)
    }
}

fn oracle(body: &[u8]) -> Result<Vec<Requested>, RequestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge { len: body.len() });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = de.deserialize_seq(RequestVisitor).and_then(|v| de.end().map(|()| v));
    let elements = parsed.map_err(|e| {
        if e.to_string().starts_with(TOO_MANY) {
            RequestError::TooManyElements
        } else {
            RequestError::NotAnArray { detail: e.to_string() }
        }
    })?;
    Ok(elements.into_iter().map(requested).collect())
}

/// Same result, ignoring the wording of `NotAnArray`'s detail (which must
/// still name a byte offset).
fn check_same(body: &[u8]) -> Result<(), TestCaseError> {
    let ours = parse_close_request(body);
    let theirs = oracle(body);
    let shown = String::from_utf8_lossy(body);
    match (&ours, &theirs) {
        (Err(RequestError::NotAnArray { detail }), Err(RequestError::NotAnArray { .. })) => {
            prop_assert!(detail.contains(" at byte "), "{detail}");
        }
        _ => prop_assert_eq!(&ours, &theirs, "body {:?}", shown),
    }
    Ok(())
}

fn same(body: &[u8]) {
    check_same(body).unwrap();
}

// ---------------------------------------------------------------------------
// Writer.

fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\0', '\u{1}', '\u{1f}', ' ', '\u{7f}',
        '\u{80}', 'é', '€', '😀', '/', 'a', 'Z',
    ]);
    prop::collection::vec(prop_oneof![special, any::<char>()], 0..48)
        .prop_map(|v| v.into_iter().collect())
}

prop_compose! {
    fn handle()(
        file_number in any::<u64>(), location in any::<u64>(), version in any::<u64>(),
        locks in any::<u32>(), mask in any::<u32>(), owner in text(),
        path in prop::option::of(text()), directory in any::<bool>(),
    ) -> FileHandle {
        let mut info = HandleInfo::new(Location(location), AccessMask::from_bits_retain(mask), Arc::from(owner));
        info.version = version;
        info.num_byte_range_locks = locks;
        info.path = path.map(Arc::from);
        info.directory = directory;
        FileHandle::new(FileNumber(file_number), info)
    }
}

#[derive(Serialize)]
struct ListBody<'a> {
    file_handles: &'a [FileHandle],
    paging: Paging<'a>,
}

#[derive(Serialize)]
struct Paging<'a> {
    next: Option<&'a str>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn page_to_json_is_serde_json(
        handles in prop::collection::vec(handle(), 0..6),
        next in prop::option::of(any::<u64>()),
        uri in prop::option::of(text()),
    ) {
        let next = next.map(|v| format!("{v:016x}").parse::<Cursor>().unwrap());
        let page = Page { file_handles: handles, next };
        prop_assert_eq!(page_to_json(&page), serde_json::to_vec(&page).unwrap());
        let body = ListBody { file_handles: &page.file_handles, paging: Paging { next: uri.as_deref() } };
        prop_assert_eq!(listing_to_json(&page.file_handles, uri.as_deref()), serde_json::to_vec(&body).unwrap());
    }
}

#[test]
fn writer_edge_cases() {
    let mk = |mask: u32, directory: bool, path: Option<&str>| {
        let owner = Arc::from("\u{0}\u{1f}\"\\\u{7f}😀 \u{2028}");
        let mut info =
            HandleInfo::new(Location(u64::MAX), AccessMask::from_bits_retain(mask), owner);
        info.version = u64::MAX;
        info.num_byte_range_locks = u32::MAX;
        info.path = path.map(Arc::from);
        info.directory = directory;
        FileHandle::new(FileNumber(u64::MAX), info)
    };
    let pages = [
        Page::default(),
        Page {
            file_handles: vec![
                mk(0, false, None),
                mk(u32::MAX, true, Some("")),
                mk(u32::MAX, false, Some("a\"b")),
            ],
            next: Some("ffffffffffffffff".parse().unwrap()),
        },
        Page {
            file_handles: vec![mk(0x2a, true, Some("\\\\server\\share"))],
            next: Some("0000000000000000".parse().unwrap()),
        },
    ];
    for page in &pages {
        assert_eq!(page_to_json(page), serde_json::to_vec(page).unwrap());
    }
}

// ---------------------------------------------------------------------------
// Scanner.

fn bytes_of(pieces: &[&str]) -> impl Strategy<Value = Vec<u8>> {
    let owned: Vec<Vec<u8>> = pieces.iter().map(|p| p.as_bytes().to_vec()).collect();
    prop::sample::select(owned)
}

/// Whitespace JSON allows, and rarely some it does not.
fn ws(d: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        60 => Just(vec![]),
        20 => bytes_of(&[" ", "\n", "\t\r ", "  "]),
        d => bytes_of(&["\u{b}", "\u{a0}", "\u{c}"]),
    ]
}

/// The inside of a string: plain text and escapes, rarely invalid escapes,
/// lone surrogates, raw control bytes or invalid UTF-8.
fn string_body(d: u32) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        40 => bytes_of(&["a", "handle_info", "location", "0", "f", "Z", " ", "é", "😀", "/"]),
        30 => bytes_of(&[
            "\\n", "\\\"", "\\\\", "\\/", "\\b", "\\u0030", "\\u0041", "\\u0066", "\\u00e9",
            "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\u005f", "\\u0068",
        ]),
        2 => bytes_of(&["\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\n", "\\ud800\\ud800\\udc00"]),
        d => bytes_of(&["\\x", "\\u00g0", "\\u12", "\\"]),
        d => prop::sample::select(vec![
            vec![0x01], vec![0x1f], vec![0x7f], vec![0xff], vec![0xc0, 0x80], vec![0xe2, 0x82],
            vec![0xed, 0xa0, 0x80], vec![0xf4, 0x90, 0x80, 0x80], vec![0x80],
        ]),
    ];
    prop::collection::vec(piece, 0..5).prop_map(|v| v.concat())
}

fn string(d: u32) -> impl Strategy<Value = Vec<u8>> {
    string_body(d).prop_map(|b| [&b"\""[..], &b, b"\""].concat())
}

fn number(d: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        10 => bytes_of(&[
            "0", "-0", "7", "-12", "1.5", "0.0001", "1e5", "1E+2", "-1.0e-3", "1e999999",
            "123456789012345678901234567890123456789", "18446744073709551616",
        ]),
        d => bytes_of(&[
            "01", "1.", "-", "1e", "1e+", ".5", "+1", "-a", "0x10", "1.e3", "00", "-01", "2.5E",
            "Infinity", "NaN",
        ]),
        5 => (any::<i64>(), any::<u8>()).prop_map(|(a, b)| format!("{a}.{b}e{}", b % 40).into_bytes()),
    ]
}

fn location(d: u32) -> impl Strategy<Value = Vec<u8>> {
    let hex =
        prop::collection::vec(prop::sample::select(b"0123456789abcdefABCDEF".to_vec()), 0..19);
    prop_oneof![
        3 => hex.prop_map(|d| [&b"\""[..], &d, b"\""].concat()),
        1 => bytes_of(&[
            "\"0000000100000000\"", "\"0000000000000000\"", "\"ffffffffffffffff\"", "\"FFFFFFFFFFFFFFFE\"",
            "\"\\u0030\\u0030000001\"", "\"1\\u0041\"", "\"\\u0046f\"", "\"00000001000000000\"",
            "\"1 \"", "\" 1\"", "\"\"", "\"\\ud800\"", "\"1\\n\"", "42", "null", "[\"1\"]", "{}",
            "true", "1e400",
        ]),
        1 => string(d),
    ]
}

fn key(d: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        16 => bytes_of(&["\"handle_info\"", "\"location\"", "\"file_number\""]),
        4 => bytes_of(&[
            "\"handle\\u005finfo\"", "\"\\u0068andle_info\"", "\"locatio\\u006e\"", "\"handle_infO\"",
            "\"handle_info \"", "\"\\ud83d\\ude00\"", "\"\"", "\"loc\"", "\"handle_info\\u0000\"",
            "\"location\\/\"",
        ]),
        1 => bytes_of(&["\"x\\ud800\"", "\"\\udc00\""]),
        2 => string(d),
        d => bytes_of(&["handle_info", "1", "null", "'x'"]),
    ]
}

fn leaf(d: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => bytes_of(&["null", "true", "false"]),
        d => bytes_of(&["nul", "tru", "falsey", "nulll", "True"]),
        8 => number(d),
        8 => string(d),
        4 => location(d),
    ]
}

fn value(d: u32) -> impl Strategy<Value = Vec<u8>> {
    leaf(d).prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec((ws(d), inner.clone(), ws(d)), 0..5).prop_map(|items| {
                let parts: Vec<Vec<u8>> =
                    items.into_iter().map(|(a, v, b)| [a, v, b].concat()).collect();
                [&b"["[..], &parts.join(&b","[..]), b"]"].concat()
            }),
            prop::collection::vec((ws(d), key(d), ws(d), inner, ws(d)), 0..5).prop_map(members),
        ]
    })
}

/// One object member as generated: whitespace, key, whitespace, value, whitespace.
type Member = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn members(items: Vec<Member>) -> Vec<u8> {
    let parts: Vec<Vec<u8>> =
        items.into_iter().map(|(a, k, b, v, c)| [a, k, b, b":".to_vec(), v, c].concat()).collect();
    [&b"{"[..], &parts.join(&b","[..]), b"}"].concat()
}

/// `handle_info` values: mostly objects with a location among other members.
fn handle_info(d: u32) -> impl Strategy<Value = Vec<u8>> {
    let member = prop_oneof![
        3 => (ws(d), Just(b"\"location\"".to_vec()), ws(d), location(d), ws(d)),
        2 => (ws(d), key(d), ws(d), value(d), ws(d)),
    ];
    prop_oneof![
        6 => prop::collection::vec(member, 0..4).prop_map(members),
        1 => value(d),
    ]
}

/// Keys that are neither `handle_info` nor `location`.
fn other_key() -> impl Strategy<Value = Vec<u8>> {
    bytes_of(&[
        "\"file_number\"",
        "\"version\"",
        "\"access_mask\"",
        "\"owner\"",
        "\"path\"",
        "\"x\"",
    ])
}

/// An object with `special` among other members.
fn object_with(d: u32, special: impl Strategy<Value = Member>) -> impl Strategy<Value = Vec<u8>> {
    let other = (ws(d), other_key(), ws(d), value(d), ws(d));
    (prop::collection::vec(other, 0..4), special, any::<usize>()).prop_map(|(mut m, s, at)| {
        let at = at % (m.len() + 1);
        m.insert(at, s);
        members(m)
    })
}

/// Elements: mostly listing-like objects (one `handle_info` object with one
/// `location`), often objects of any members, sometimes anything.
fn element(d: u32) -> impl Strategy<Value = Vec<u8>> {
    let hi = object_with(d, (ws(d), Just(b"\"location\"".to_vec()), ws(d), location(d), ws(d)));
    let listing = object_with(d, (ws(d), Just(b"\"handle_info\"".to_vec()), ws(d), hi, ws(d)));
    let member = prop_oneof![
        3 => (ws(d), Just(b"\"handle_info\"".to_vec()), ws(d), handle_info(d), ws(d)),
        1 => (ws(d), key(d), ws(d), handle_info(d), ws(d)),
        2 => (ws(d), key(d), ws(d), value(d), ws(d)),
    ];
    prop_oneof![
        5 => listing,
        4 => prop::collection::vec(member, 0..4).prop_map(members),
        1 => value(d),
    ]
}

fn body(d: u32) -> impl Strategy<Value = Vec<u8>> {
    (
        ws(d),
        prop::collection::vec((ws(d), element(d), ws(d)), 0..6),
        ws(d),
        prop::bool::weighted(if d == 0 { 1.0 } else { 0.95 }),
    )
        .prop_map(|(a, elements, b, close)| {
            let parts: Vec<Vec<u8>> =
                elements.into_iter().map(|(x, e, y)| [x, e, y].concat()).collect();
            let end: &[u8] = if close { b"]" } else { b"" };
            [a, b"[".to_vec(), parts.join(&b","[..]), end.to_vec(), b].concat()
        })
}

/// A few byte edits: insert, delete or replace, often with JSON's own bytes.
fn mutate(mut body: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    const USEFUL: &[u8] = b"[]{}\",:\\0123456789-+.eEtrufalsn u\x00\x1f\x7f\x80\xff";
    for (at, op, byte) in edits {
        let byte = if byte & 1 == 0 { USEFUL[usize::from(byte >> 1) % USEFUL.len()] } else { byte };
        let at = if body.is_empty() { 0 } else { at % (body.len() + 1) };
        match op % 3 {
            0 => body.insert(at, byte),
            1 if at < body.len() => {
                body.remove(at);
            }
            _ if at < body.len() => body[at] = byte,
            _ => body.push(byte),
        }
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6000))]

    #[test]
    fn scanner_matches_serde_on_generated_bodies(b in body(1)) {
        check_same(&b)?;
    }

    #[test]
    fn scanner_matches_serde_on_generated_valid_json(b in body(0)) {
        check_same(&b)?;
    }

    #[test]
    fn scanner_matches_serde_on_mutated_bodies(
        b in body(0),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        check_same(&mutate(b, edits))?;
    }

    #[test]
    fn scanner_matches_serde_on_random_bytes(
        b in prop::collection::vec(prop_oneof![
            3 => prop::sample::select(b"[]{}\",:\\0123456789-.eEtrufalsn \nhandle_ioc".to_vec()),
            1 => any::<u8>(),
        ], 0..64),
    ) {
        check_same(&b)?;
        check_same(&[&b"["[..], &b].concat())?;
    }
}

#[test]
fn scanner_edge_cases() {
    let cases: &[&str] = &[
        "",
        " ",
        "[",
        "]",
        "[]",
        " [ ] ",
        "[] x",
        "[]]",
        "[,]",
        "[1,]",
        "[1 2]",
        "{}",
        "null",
        "\"[]\"",
        "[][]",
        "[\n]\t\r",
        "[{}]",
        "[{},]",
        "[{\"a\"}]",
        "[{\"a\":}]",
        "[{\"a\":1,}]",
        "[{,}]",
        "[{\"a\" 1}]",
        "[{1:2}]",
        "[nul]",
        "[nulll]",
        "[-]",
        "[01]",
        "[1.]",
        "[.1]",
        "[1e]",
        "[-0.0e+0]",
        "[1E-0]",
        "[1e999999999999]",
        "[123456789012345678901234567890123456789012345678901234567890]",
        r#"[{"handle_info":{"location":"0000000100000000"}}]"#,
        r#"[{"handle_info":{"location":"0000000100000000","location":"0000000100000000"}}]"#,
        r#"[{"handle_info":{"location":"1"},"handle_info":{"location":"1"}}]"#,
        r#"[{"handle_info":null,"handle_info":{"location":"1"}}]"#,
        r#"[{"handle_info":null}]"#,
        r#"[{"handle_info":{"location":null}}]"#,
        r#"[{"handle_info":[{"location":"1"}]}]"#,
        r#"[{"handle_info":"x"}]"#,
        r#"[{"handle_info":{"location":1}}]"#,
        r#"[{"handle_info":{"location":["1"]}}]"#,
        r#"[{"handle_info":{"location":""}}]"#,
        r#"[{"handle_info":{"location":"0"}}]"#,
        r#"[{"handle_info":{"location":"ffffffffffffffff"}}]"#,
        r#"[{"handle_info":{"location":"FFFFFFFFFFFFFFFE"}}]"#,
        r#"[{"handle_info":{"location":"10000000000000000"}}]"#,
        r#"[{"handle_info":{"location":"\u0030\u0030\u0031"}}]"#,
        r#"[{"handle_info":{"location":"\u00301"}}]"#,
        r#"[{"handle_info":{"location":"1\/"}}]"#,
        r#"[{"handle_info":{"location":"\ud800"}}]"#,
        r#"[{"handle_info":{"location":"1\n"}}]"#,
        r#"[{"handle\u005finfo":{"loc\u0061tion":"2"}}]"#,
        r#"[{"handle_info":{"location":"2","x\ud800":0}}]"#,
        r#"[{"x\udc00":0,"handle_info":{"location":"2"}}]"#,
        r#"[{"handle_info":{"location":"2"},"y":{"\ud800":0}}]"#,
        r#"[{"handle_info":{"location":"2","z":{"\ud800":"\udc00"}}}]"#,
        r#"[{"handle_info":{"location":"2"},"\ud83d\ude00":1}]"#,
        r#"[{"handle_info":{"location":"2"},"\ud800\u0041":1}]"#,
        r#"[{"handle_info":{"location":"2"},"a":"\x"}]"#,
        r#"[{"handle_info":{"location":"2"},"a":"\u12"}]"#,
        r#"[[{"handle_info":{"location":"2"}}]]"#,
        r#"["{\"handle_info\":{\"location\":\"2\"}}"]"#,
        r#"[{"file_number":1e999999,"handle_info":{"location":"0000000100000000","version":-0.5e-7}}]"#,
    ];
    for case in cases {
        same(case.as_bytes());
    }
    for raw in [
        &b"[\"\x01\"]"[..],
        b"[\"\xff\"]",
        b"[\"\xc3\"]",
        b"[\"\xed\xa0\x80\"]",
        b"[\"\xf4\x90\x80\x80\"]",
        b"[\"\xc3\xa9\"]",
        b"\xef\xbb\xbf[]",
        b"[\x00]",
    ] {
        same(raw);
    }
}

#[test]
fn scanner_handles_any_depth_like_serde() {
    // serde_json's raw-value skipping has no depth limit; neither has the
    // scanner, and it must not recurse.
    for depth in [1, 2, 63, 64, 65, 126, 127, 128, 129, 200, 100_000] {
        let deep = |open: &str, close: &str, inner: &str| {
            format!(
                "[{{\"handle_info\":{{\"location\":\"1\",\"x\":{}{inner}{}}}}}]",
                open.repeat(depth),
                close.repeat(depth)
            )
        };
        same(deep("[", "]", "").as_bytes());
        same(deep("{\"a\":", "}", "0").as_bytes());
        same(deep("[{\"a\":", "}]", "[]").as_bytes());
        same(deep("[", "]]", "").as_bytes()); // unbalanced
        same(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).as_bytes());
    }
    assert!(parse_close_request(
        format!("[{}{}]", "[".repeat(1_000_000), "]".repeat(1_000_000)).as_bytes()
    )
    .is_ok());
}

#[test]
fn scanner_counts_elements_like_serde() {
    let n = MAX_REQUEST_ELEMENTS;
    let zeros = |k: usize| vec!["0"; k].join(",");
    for body in [
        format!("[{}]", zeros(n)),
        format!("[{}]", zeros(n + 1)),
        format!("[{}, x", zeros(n + 1)), // garbage after the one too many
        format!("[{},01]", zeros(n)),    // the one too many is invalid
        format!("[{},\"\u{1}\"]", zeros(n)),
        format!("[{},\"\\ud800\"] x", zeros(n)),
    ] {
        same(body.as_bytes());
    }
    let mut invalid_utf8 = format!("[{},\"", zeros(n + 1)).into_bytes();
    invalid_utf8.extend_from_slice(b"\xff\"]");
    same(&invalid_utf8);
    let mut bad_in_extra = format!("[{},\"", zeros(n)).into_bytes();
    bad_in_extra.extend_from_slice(b"\xff\"]");
    same(&bad_in_extra);
    assert_eq!(
        parse_close_request(&vec![b' '; MAX_REQUEST_BYTES + 1]),
        oracle(&vec![b' '; MAX_REQUEST_BYTES + 1])
    );
}

#[test]
fn generated_bodies_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    // [valid bodies, refused bodies, Ok, InvalidLocation, MissingLocation]
    let mut seen = [0usize; 5];
    let mut runner = TestRunner::deterministic();
    let strategies = [body(0), body(1)];
    for k in 0..2_000 {
        let b = strategies[k % 2].new_tree(&mut runner).unwrap().current();
        match oracle(&b) {
            Ok(results) => {
                seen[0] += 1;
                for r in results {
                    seen[match r {
                        Ok(_) => 2,
                        Err(CloseError::InvalidLocation) => 3,
                        Err(_) => 4,
                    }] += 1;
                }
            }
            Err(_) => seen[1] += 1,
        }
    }
    println!("valid, refused, ok, invalid, missing: {seen:?}");
    assert!(seen.iter().all(|&n| n >= 100), "{seen:?}");
}
