//! `HandleTable::close_batch_json` on arbitrary bytes against a table holding
//! handles: never a panic; a refused body closes nothing; an accepted one
//! answers one element per input element, closes exactly the handles it
//! reports closed, and each of those was live and named by its element.
#![no_main]

mod common;

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;
use smb_handles::Location;

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
            for (i, (req, resp)) in input.iter().zip(&output).enumerate() {
                let msg = resp["error_message"].as_str().expect("error_message is a string");
                let Ok(req) = serde_json::from_str::<Value>(req.get()) else {
                    assert!(
                        ["", "handle not found", "invalid location", "missing location"]
                            .contains(&msg),
                        "element {i}: unexpected message {msg:?}"
                    );
                    unchecked += usize::from(msg.is_empty());
                    continue;
                };
                let named = req["handle_info"]["location"].as_str();
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
