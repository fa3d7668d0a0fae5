//! The query string of `GET /v1/smb/files/` and the `paging.next` URI that
//! continues it.

use crate::{Cursor, FileNumber, ListQuery};

use super::error::ApiError;

/// A parsed listing request: what to list, and the request's other
/// parameters exactly as sent (everything but `after`), to repeat in `next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListRequest {
    pub(crate) query: ListQuery,
    /// Raw `key=value` pairs other than `after`, in request order.
    carried: Vec<String>,
}

impl ListRequest {
    /// Parses a query string (without the `?`). Known parameters:
    /// `file_number` (decimal u64), `resolve_paths` (`true`/`false` in any
    /// case, `1`/`0`), `limit` (a positive integer; values above the table's
    /// maximum are lowered to it), `after` (a cursor from `paging.next`).
    /// Unknown parameters are ignored (and carried into `next`); a known one
    /// given twice is an error.
    pub(crate) fn parse(raw: Option<&str>) -> Result<ListRequest, ApiError> {
        let mut query = ListQuery::default();
        let mut carried = Vec::new();
        let mut seen = [false; 4];
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = form_urlencoded::parse(pair.as_bytes())
                .next()
                .expect("a non-empty pair parses to one key-value");
            let index = match &*key {
                "file_number" => 0,
                "resolve_paths" => 1,
                "limit" => 2,
                "after" => 3,
                _ => {
                    carried.push(pair.to_owned());
                    continue;
                }
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(ApiError::bad_parameter(&key, "given more than once"));
            }
            match index {
                0 => query.file_number = Some(FileNumber(parse_file_number(&value)?)),
                1 => query.resolve_paths = parse_bool(&value)?,
                2 => query.limit = Some(parse_limit(&value)?),
                _ => {
                    let cursor = value.parse::<Cursor>().map_err(|_| {
                        ApiError::bad_parameter(
                            "after",
                            format!("{value:?} is not a cursor from paging.next"),
                        )
                    })?;
                    query.after = Some(cursor);
                    continue;
                }
            }
            carried.push(pair.to_owned());
        }
        Ok(ListRequest { query, carried })
    }

    /// The URI of the page after this one: `path`, the request's other
    /// parameters as sent, then `after=<cursor>`.
    pub(crate) fn next_uri(&self, path: &str, next: Cursor) -> String {
        let mut uri = String::with_capacity(path.len() + 64);
        uri.push_str(path);
        uri.push('?');
        for pair in &self.carried {
            uri.push_str(pair);
            uri.push('&');
        }
        uri.push_str("after=");
        uri.push_str(&next.to_string());
        uri
    }
}

fn parse_file_number(v: &str) -> Result<u64, ApiError> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_parameter(
            "file_number",
            format!("{v:?} is not a decimal file number"),
        ));
    }
    v.parse().map_err(|_| {
        ApiError::bad_parameter("file_number", format!("{v:?} is larger than 2^64 - 1"))
    })
}

fn parse_bool(v: &str) -> Result<bool, ApiError> {
    if v.eq_ignore_ascii_case("true") || v == "1" {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") || v == "0" {
        Ok(false)
    } else {
        Err(ApiError::bad_parameter("resolve_paths", format!("{v:?} is not true, false, 1 or 0")))
    }
}

fn parse_limit(v: &str) -> Result<usize, ApiError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_parameter("limit", format!("{v:?} is not a positive integer")));
    }
    // All digits: only overflow can fail, and a huge limit is lowered to the
    // table's maximum anyway.
    let n = v.parse::<usize>().unwrap_or(usize::MAX);
    if n == 0 {
        return Err(ApiError::bad_parameter("limit", "must be at least 1"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ListRequest, ApiError> {
        ListRequest::parse(Some(q))
    }

    #[test]
    fn qq_forms() {
        let r = parse("file_number=102&resolve_paths=True&limit=2").unwrap();
        assert_eq!(r.query.file_number, Some(FileNumber(102)));
        assert!(r.query.resolve_paths);
        assert_eq!(r.query.limit, Some(2));
        let c: Cursor = "0000000100000002".parse().unwrap();
        assert_eq!(
            r.next_uri("/v1/smb/files/", c),
            "/v1/smb/files/?file_number=102&resolve_paths=True&limit=2&after=0000000100000002"
        );
        let again = parse(&r.next_uri("/v1/smb/files/", c)[15..]).unwrap();
        assert_eq!(again.query.after, Some(c));
        assert_eq!(again.next_uri("/p", c), r.next_uri("/p", c), "after is replaced, not repeated");
    }

    #[test]
    fn booleans_any_case() {
        for (v, want) in
            [("TRUE", true), ("tRuE", true), ("1", true), ("False", false), ("0", false)]
        {
            assert_eq!(parse(&format!("resolve_paths={v}")).unwrap().query.resolve_paths, want);
        }
        let e = parse("resolve_paths=yes").unwrap_err();
        assert!(e.description.contains("resolve_paths"), "{e:?}");
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (q, name) in [
            ("limit=0", "limit"),
            ("limit=-1", "limit"),
            ("limit=abc", "limit"),
            ("file_number=x", "file_number"),
            ("file_number=18446744073709551616", "file_number"),
            ("after=zz", "after"),
            ("limit=1&limit=2", "limit"),
        ] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST);
            assert!(e.description.contains(name), "{q}: {e:?}");
        }
    }

    #[test]
    fn unknown_ignored_and_carried_huge_limit_kept() {
        let r = parse("x=1&&limit=99999999999999999999999&y").unwrap();
        assert_eq!(r.query.limit, Some(usize::MAX));
        assert_eq!(r.query, ListQuery { limit: Some(usize::MAX), ..ListQuery::default() });
        assert!(r.next_uri("/a", "0000000000000001".parse().unwrap()).starts_with("/a?x=1&limit="));
        assert_eq!(ListRequest::parse(None).unwrap().query, ListQuery::default());
        assert_eq!(parse("file_number=%31%32").unwrap().query.file_number, Some(FileNumber(12)));
    }
}
