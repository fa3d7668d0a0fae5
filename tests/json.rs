//! JSON contract: listing pages and close responses validate against the
//! seed's schemas (tightened so every field is required and no other field is
//! allowed), plus exact-shape assertions.

use serde_json::{json, Value};
use smb_handles::{
    AccessMask, Config, FileHandle, FileNumber, HandleTable, ListQuery, OpenSpec, RequestError,
    MAX_REQUEST_BYTES, MAX_REQUEST_ELEMENTS,
};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Makes every object in the schema strict: all its properties required
/// (except `path`, which the seed omits when not resolved) and no others.
fn tighten(schema: &mut Value) {
    if let Value::Object(map) = schema {
        if let Some(Value::Object(props)) = map.get("properties") {
            let required: Vec<Value> =
                props.keys().filter(|k| *k != "path").map(|k| json!(k)).collect();
            map.insert("required".into(), Value::Array(required));
            map.insert("additionalProperties".into(), json!(false));
        }
        for v in map.values_mut() {
            tighten(v);
        }
    } else if let Value::Array(items) = schema {
        items.iter_mut().for_each(tighten);
    }
}

fn validate(schema_file: &str, instance: &Value) {
    let mut schema = fixture(schema_file);
    tighten(&mut schema);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:?}\n{instance:#}");
}

fn filled_table() -> HandleTable {
    let table = HandleTable::with_config(Config::default().shards(4));
    for i in 0..30u64 {
        table
            .open(
                OpenSpec::new(
                    FileNumber(u64::MAX - i % 7),
                    format!("/projects/q{i}/report \"x\".xlsx"),
                    "S-1-5-21-1004336348-1177238915-682003330-1104",
                    AccessMask::from_bits_retain(0x8012_0089 | (i as u32 & 0x3)),
                )
                .directory(i % 5 == 0),
            )
            .unwrap();
    }
    table
}

#[test]
fn listing_pages_match_the_seed_schema_and_shape() {
    let table = filled_table();
    let mut query = ListQuery { resolve_paths: true, limit: Some(7), ..ListQuery::default() };
    let mut pages = 0;
    loop {
        let page = table.list(&query).unwrap();
        let v = serde_json::to_value(&page).unwrap();
        validate("files_get_response.schema.json", &v);
        validate("close_request.schema.json", &v["file_handles"]);
        assert_eq!(v.as_object().unwrap().len(), 2);
        pages += 1;
        match page.next {
            Some(c) => {
                assert_eq!(v["paging"]["next"], json!(c.to_string()));
                query.after = Some(c);
            }
            None => {
                assert_eq!(v["paging"]["next"], Value::Null);
                break;
            }
        }
    }
    assert!(pages >= 5);
}

#[test]
fn one_handle_has_the_exact_shape() {
    let table = HandleTable::new();
    let loc = table
        .open(OpenSpec::new(
            FileNumber(4242),
            "/projects/q3/report.xlsx",
            "S-1-5-21-1004336348-1177238915-682003330-1104",
            AccessMask::SYNCHRONIZE | AccessMask::FILE_READ_DATA,
        ))
        .unwrap();
    table.adjust_byte_range_locks(loc, 2).unwrap();
    table.adjust_byte_range_locks(loc, 1).unwrap();
    let v = serde_json::to_value(table.get(loc).unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"file_number": "4242",
               "handle_info": {"location": loc.to_string(), "version": 3,
                               "num_byte_range_locks": 3,
                               "access_mask": ["MS_ACCESS_FILE_READ_DATA", "MS_ACCESS_SYNCHRONIZE"],
                               "owner": "S-1-5-21-1004336348-1177238915-682003330-1104",
                               "path": "/projects/q3/report.xlsx"}})
    );
    let loc_text = v["handle_info"]["location"].as_str().unwrap();
    assert_eq!(loc_text.len(), 16);
    assert!(loc_text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

    // Without resolve_paths the path is left out, not null.
    let page = table.list(&ListQuery::default()).unwrap();
    let v = serde_json::to_value(&page).unwrap();
    assert!(v["file_handles"][0]["handle_info"].get("path").is_none());
    // A listing reads back into the same records.
    let back: Vec<FileHandle> = serde_json::from_value(v["file_handles"].clone()).unwrap();
    assert_eq!(back, page.file_handles);
}

#[test]
fn directory_handles_use_directory_names_in_bit_order() {
    let table = HandleTable::new();
    let loc = table
        .open(
            OpenSpec::new(FileNumber(1), "/dir", "me", AccessMask::from_bits_retain(0x8010_0027))
                .directory(true),
        )
        .unwrap();
    let v = serde_json::to_value(table.get(loc).unwrap()).unwrap();
    assert_eq!(
        v["handle_info"]["access_mask"],
        json!([
            "MS_ACCESS_FILE_LIST_DIRECTORY",
            "MS_ACCESS_FILE_ADD_FILE",
            "MS_ACCESS_FILE_ADD_SUBDIRECTORY",
            "MS_ACCESS_FILE_TRAVERSE",
            "MS_ACCESS_SYNCHRONIZE",
            "MS_ACCESS_GENERIC_READ"
        ])
    );
}

#[test]
fn a_listing_posted_back_closes_exactly_those_handles() {
    let table = filled_table();
    let page = table.list(&ListQuery { limit: Some(12), ..ListQuery::default() }).unwrap();
    let body = serde_json::to_vec(&page.file_handles).unwrap();
    let out: Value = serde_json::from_slice(&table.close_batch_json(&body).unwrap()).unwrap();
    validate("close_response.schema.json", &out);
    assert_eq!(out, json!(vec![json!({"error_message": ""}); 12]));
    assert_eq!(table.len(), 18);
    for h in &page.file_handles {
        assert!(table.get(h.handle_info.location).is_none());
    }
    // Posting the same listing again finds nothing.
    let again: Value = serde_json::from_slice(&table.close_batch_json(&body).unwrap()).unwrap();
    assert_eq!(again, json!(vec![json!({"error_message": "handle not found"}); 12]));
    assert_eq!(table.len(), 18);
}

#[test]
fn close_body_ignores_other_fields_whatever_their_type() {
    let table = filled_table();
    let page = table.list(&ListQuery { limit: Some(3), ..ListQuery::default() }).unwrap();
    let [a, b, c] = [0, 1, 2].map(|i| page.file_handles[i].handle_info.location.to_string());
    let body = json!([
        {"file_number": 0, "handle_info": {"location": a, "version": 0, "owner": "0",
                                           "access_mask": 7, "path": null}},
        {"handle_info": {"location": b.to_uppercase(), "extra": {"nested": [1, 2]}}, "x": true},
        {"handle_info": {"location": a}},
        {"handle_info": {"location": "0x12"}},
        {"handle_info": {"location": 12}},
        {"handle_info": {"location": ""}},
        {"handle_info": {}},
        {"handle_info": "nope"},
        {},
        42,
        null,
        {"handle_info": {"location": null}},
        {"handle_info": {"location": c}},
    ]);
    let out: Value =
        serde_json::from_slice(&table.close_batch_json(body.to_string().as_bytes()).unwrap())
            .unwrap();
    let msgs: Vec<&str> =
        out.as_array().unwrap().iter().map(|e| e["error_message"].as_str().unwrap()).collect();
    assert_eq!(
        msgs,
        [
            "",
            "",
            "handle not found",
            "invalid location",
            "invalid location",
            "invalid location",
            "missing location",
            "missing location",
            "missing location",
            "missing location",
            "missing location",
            "missing location",
            ""
        ]
    );
    assert_eq!(table.len(), 27);
    assert_eq!(table.close_batch_json(b"[]").unwrap(), b"[]");
}

#[test]
fn bad_close_bodies_are_refused_and_close_nothing() {
    let table = filled_table();
    let loc = table.list(&ListQuery::default()).unwrap().file_handles[0].handle_info.location;
    let one = format!(r#"{{"handle_info":{{"location":"{loc}"}}}}"#);
    let not_arrays = [
        "".to_string(),
        "{}".into(),
        one.clone(),
        "\"x\"".into(),
        format!("[{one},"),
        format!("[{one}] trailing"),
        format!("[{one}]]"),
        "[1,]".into(),
        "\u{feff}[]".into(),
    ];
    for body in &not_arrays {
        let err = table.close_batch_json(body.as_bytes()).unwrap_err();
        assert!(matches!(err, RequestError::NotAnArray { .. }), "{body:?}: {err:?}");
    }
    assert!(table.close_batch_json(&[0xff, b'[', b']']).is_err());

    let mut big = format!("[{one}");
    big.push_str(&" ".repeat(MAX_REQUEST_BYTES));
    big.push(']');
    assert_eq!(
        table.close_batch_json(big.as_bytes()),
        Err(RequestError::TooLarge { len: big.len() })
    );

    let many = format!("[{one}{}]", ",{}".repeat(MAX_REQUEST_ELEMENTS));
    assert!(many.len() <= MAX_REQUEST_BYTES);
    assert_eq!(table.close_batch_json(many.as_bytes()), Err(RequestError::TooManyElements));
    let exactly = format!("[{one}{}]", ",{}".repeat(MAX_REQUEST_ELEMENTS - 1));
    assert_eq!(table.len(), 30, "a refused body closed something");
    let out: Value =
        serde_json::from_slice(&table.close_batch_json(exactly.as_bytes()).unwrap()).unwrap();
    assert_eq!(out.as_array().unwrap().len(), MAX_REQUEST_ELEMENTS);
    assert_eq!(table.len(), 29);
}

#[test]
fn numbers_of_any_size_are_answered_per_element() {
    let table = filled_table();
    let loc = table.list(&ListQuery::default()).unwrap().file_handles[0].handle_info.location;
    let body = format!(
        r#"[1e400, {{"handle_info": 1e400}}, {{"handle_info": {{"location": 1e400}}}},
            {{"file_number": 1e400, "version": -1e999, "handle_info": {{"x": [1e400], "location": "{loc}"}}}}]"#
    );
    let out: Value =
        serde_json::from_slice(&table.close_batch_json(body.as_bytes()).unwrap()).unwrap();
    assert_eq!(
        out,
        json!([{"error_message": "missing location"}, {"error_message": "missing location"},
               {"error_message": "invalid location"}, {"error_message": ""}])
    );
    assert!(table.get(loc).is_none());
}
