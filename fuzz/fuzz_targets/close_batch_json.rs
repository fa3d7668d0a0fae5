//! `HandleTable::close_batch_json` on arbitrary bytes against a table holding
//! handles: never a panic; a refused body closes nothing; an accepted one
//! answers one element per input element, closes exactly the handles it
//! reports closed, and each of those was live and named by its element.
#![no_main]

mod common;

use std::collections::{HashMap, HashSet};
use std::fmt;

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use smb_handles::Location;

/// The keys of a JSON object, in order and with repeats (empty for
/// anything else).
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_any(V)
    }
}

/// True when the JSON object `raw` has `key` more than once.
fn repeated_key(raw: &str, key: &str) -> bool {
    serde_json::from_str::<Keys>(raw).is_ok_and(|k| k.0.iter().filter(|k| *k == key).count() > 1)
}

fuzz_target!(|body: &[u8]| {
    let table = common::small_table(64);
    let live: HashSet<Location> = common::fill(&table, 8).into_iter().collect();
    let before = table.len();
    match table.close_batch_json(body) {
        Err(_) => {
            assert_eq!(table.len(), before, "a refused body closed something");
            assert!(live.iter().all(|&l| table.get(l).is_some()));
        }
        Ok(out) => {
            // Elements as raw JSON: an accepted body may hold numbers serde's
            // `Value` refuses (`1e999`), which the table rightly ignores.
            let input: Vec<Box<RawValue>> =
                serde_json::from_slice(body).expect("an accepted body is a JSON array");
            let output: Vec<Value> =
                serde_json::from_slice(&out).expect("the answer is a JSON array");
            assert_eq!(input.len(), output.len(), "one answer per element");
            let mut closed = HashSet::new();
            let mut unchecked = 0;
            for (i, (element, resp)) in input.iter().zip(&output).enumerate() {
                let msg = resp["error_message"].as_str().expect("error_message is a string");
                let Ok(req) = serde_json::from_str::<Value>(element.get()) else {
                    assert!(
                        ["", "handle not found", "invalid location", "missing location"]
                            .contains(&msg),
                        "element {i}: unexpected message {msg:?}"
                    );
                    unchecked += usize::from(msg.is_empty());
                    continue;
                };
                let named = req["handle_info"]["location"].as_str();
                // A repeated `handle_info` or `location` key is ambiguous (a
                // JSON reader that keeps the last one sees a location): the
                // table refuses it as missing, by design.
                let ambiguous = repeated_key(element.get(), "handle_info")
                    || serde_json::from_str::<HashMap<String, Box<RawValue>>>(element.get())
                        .ok()
                        .and_then(|m| {
                            m.get("handle_info").map(|h| repeated_key(h.get(), "location"))
                        })
                        .unwrap_or(false);
                if ambiguous {
                    assert_eq!(msg, "missing location", "element {i}: a repeated key");
                    continue;
                }
                match msg {
                    "" => {
                        let loc: Location = named
                            .expect("a success names a location")
                            .parse()
                            .expect("a success names a valid location");
                        assert!(live.contains(&loc), "element {i} closed a handle never opened");
                        assert!(closed.insert(loc), "element {i} closed {loc} twice");
                        assert!(table.get(loc).is_none(), "{loc} reported closed but still open");
                    }
                    "handle not found" => {
                        let loc: Location =
                            named.and_then(|s| s.parse().ok()).unwrap_or_else(|| {
                                panic!("element {i}: not found for a malformed location")
                            });
                        assert!(
                            !live.contains(&loc) || closed.contains(&loc),
                            "element {i}: {loc} is live and was not closed earlier in the batch"
                        );
                    }
                    "invalid location" | "missing location" => {
                        // A missing field, a non-string or a malformed text.
                        assert!(
                            named.is_none_or(|s| s.parse::<Location>().is_err()),
                            "element {i}"
                        );
                    }
                    other => panic!("element {i}: unexpected message {other:?}"),
                }
            }
            assert_eq!(
                table.len(),
                before - closed.len() - unchecked,
                "closed exactly the reported handles"
            );
        }
    }
});
