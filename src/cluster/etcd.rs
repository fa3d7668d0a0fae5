//! The calls the cluster makes to etcd, through etcd's v3 JSON gateway
//! (`POST /v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`, `/v3/lease/grant`,
//! `/v3/lease/keepalive`, `/v3/lease/revoke` on the client port; etcd 3.4
//! and later serve it). Keys and values are base64; 64-bit numbers are
//! decimal strings.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};

use super::http::{plain, Outgoing};

/// One etcd endpoint (`http://HOST:PORT`, loopback or a resolved address).
#[derive(Clone, Debug)]
pub(crate) struct Etcd {
    addr: SocketAddr,
    timeout: Duration,
}

/// A key and its value, with the revision it was last written at.
#[derive(Clone, Debug)]
pub(crate) struct Kv {
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
    pub(crate) mod_revision: i64,
}

fn b64(s: &[u8]) -> String {
    B64.encode(s)
}

fn num(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl Etcd {
    /// `url` is `http://HOST:PORT` (no TLS to etcd: it is on loopback or a
    /// private network, as the cluster's tests and docs run it).
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Etcd, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--etcd {url:?}: give http://HOST:PORT"))?
            .trim_end_matches('/');
        let addr = std::net::ToSocketAddrs::to_socket_addrs(rest)
            .map_err(|e| format!("--etcd {url:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("--etcd {url:?}: no address"))?;
        Ok(Etcd { addr, timeout })
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, String> {
        let req = Outgoing {
            method: "POST",
            path_and_query: path,
            headers: &[],
            body: Bytes::from(body.to_string()),
        };
        let (status, body) = plain(self.addr, req, self.timeout).await?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("etcd {path}: answer is not JSON ({e})"))?;
        if status != 200 {
            let msg = v.get("message").or_else(|| v.get("error")).cloned().unwrap_or(v.clone());
            return Err(format!("etcd {path}: HTTP {status}: {msg}"));
        }
        Ok(v)
    }

    /// A lease of `ttl` seconds; its id.
    pub(crate) async fn grant(&self, ttl: u64) -> Result<i64, String> {
        let v = self.call("/v3/lease/grant", json!({ "TTL": ttl.to_string() })).await?;
        num(&v["ID"]).ok_or_else(|| format!("etcd lease grant: no ID in {v}"))
    }

    /// Renews `lease`: `Some(ttl)` while it lives, `None` once etcd has let
    /// it lapse.
    pub(crate) async fn keep_alive(&self, lease: i64) -> Result<Option<i64>, String> {
        let v = self.call("/v3/lease/keepalive", json!({ "ID": lease.to_string() })).await?;
        let ttl = num(&v["result"]["TTL"]).unwrap_or(0);
        Ok((ttl > 0).then_some(ttl))
    }

    /// Ends `lease` and deletes its keys.
    pub(crate) async fn revoke(&self, lease: i64) -> Result<(), String> {
        self.call("/v3/lease/revoke", json!({ "ID": lease.to_string() })).await.map(|_| ())
    }

    /// Writes `key` (attached to `lease` unless 0).
    pub(crate) async fn put(&self, key: &str, value: &[u8], lease: i64) -> Result<(), String> {
        let mut body = json!({ "key": b64(key.as_bytes()), "value": b64(value) });
        if lease != 0 {
            body["lease"] = Value::String(lease.to_string());
        }
        self.call("/v3/kv/put", body).await.map(|_| ())
    }

    /// Every key under `prefix`, in key order.
    pub(crate) async fn range_prefix(&self, prefix: &str) -> Result<Vec<Kv>, String> {
        let mut end = prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let v = self
            .call("/v3/kv/range", json!({ "key": b64(prefix.as_bytes()), "range_end": b64(&end) }))
            .await?;
        kvs(&v["kvs"])
    }

    /// The value of `key`, if it exists.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Kv>, String> {
        let v = self.call("/v3/kv/range", json!({ "key": b64(key.as_bytes()) })).await?;
        Ok(kvs(&v["kvs"])?.into_iter().next())
    }

    /// One transaction: `success` if every comparison holds; whether they
    /// did. Build its parts with [`cmp_version`], [`cmp_mod`], [`op_put`]
    /// and [`op_delete`].
    pub(crate) async fn txn(
        &self,
        compare: Vec<Value>,
        success: Vec<Value>,
    ) -> Result<bool, String> {
        let body = json!({ "compare": compare, "success": success });
        let v = self.call("/v3/kv/txn", body).await?;
        Ok(v.get("succeeded").and_then(Value::as_bool).unwrap_or(false))
    }

    /// Writes `key` = `value` only if it is still at `mod_revision` (0: only
    /// if it does not exist); whether it was written.
    pub(crate) async fn put_if(
        &self,
        key: &str,
        value: &[u8],
        mod_revision: i64,
    ) -> Result<bool, String> {
        let compare =
            if mod_revision == 0 { cmp_version(key, 0) } else { cmp_mod(key, mod_revision) };
        self.txn(vec![compare], vec![op_put(key, value)]).await
    }
}

/// A comparison: `key` has `version` (0: it does not exist).
pub(crate) fn cmp_version(key: &str, version: i64) -> Value {
    json!({ "key": b64(key.as_bytes()), "target": "VERSION", "result": "EQUAL",
            "version": version.to_string() })
}

/// A comparison: `key` was last written at `mod_revision`.
pub(crate) fn cmp_mod(key: &str, mod_revision: i64) -> Value {
    json!({ "key": b64(key.as_bytes()), "target": "MOD", "result": "EQUAL",
            "mod_revision": mod_revision.to_string() })
}

/// A put in a transaction.
pub(crate) fn op_put(key: &str, value: &[u8]) -> Value {
    json!({ "request_put": { "key": b64(key.as_bytes()), "value": b64(value) } })
}

/// A delete of one key in a transaction.
pub(crate) fn op_delete(key: &str) -> Value {
    json!({ "request_delete_range": { "key": b64(key.as_bytes()) } })
}

fn kvs(v: &Value) -> Result<Vec<Kv>, String> {
    let Some(list) = v.as_array() else { return Ok(Vec::new()) };
    list.iter()
        .map(|kv| {
            let decode = |f: &str| {
                kv.get(f)
                    .and_then(Value::as_str)
                    .map_or(Ok(Vec::new()), |s| B64.decode(s))
                    .map_err(|e| format!("etcd: bad base64 in {f}: {e}"))
            };
            Ok(Kv {
                key: String::from_utf8_lossy(&decode("key")?).into_owned(),
                value: decode("value")?,
                mod_revision: num(&kv["mod_revision"]).unwrap_or(0),
            })
        })
        .collect()
}
