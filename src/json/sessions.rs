//! Sessions in the shape of Qumulo's `GET /v1/smb/sessions/`:
//!
//! ```text
//! {"session_infos": [{"location": "0000000100000000", "tenant_id": 1,
//!   "originator": "10.0.0.7", "server_address": "10.0.0.1",
//!   "user": {"domain": "LOCAL", "auth_id": "2001", "uid": 2001, "gid": 100,
//!            "sid": "S-1-5-21-…", "name": "alice"},
//!   "num_opens": 3, "time_open": {"nanoseconds": "…"},
//!   "time_idle": {"nanoseconds": "…"}, "is_guest": false,
//!   "is_encrypted": true, "share_names": ["projects"]}],
//!  "paging": {"next": …}}
//! ```
//!
//! Choices the seed leaves open:
//!
//! * `auth_id` is Qumulo's internal identity number, which this table does
//!   not have: it is the uid in decimal when the user has one, else the SID,
//!   so it always names the user.
//! * `uid` and `gid` are numbers as documented, and left out for a user
//!   without POSIX ids (writing `0` would name root).
//! * `server_address` is `""` when the server did not give one.
//! * `time_open` is the time since the session was set up, `time_idle` since
//!   its last touch; both in nanoseconds as decimal strings.
//! * `tenant_id` is always 1 (Qumulo's default tenant).

use std::time::{Duration, SystemTime};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::session::{SessionInfo, User};

/// Qumulo's default tenant.
const TENANT_ID: u32 = 1;

/// `{"nanoseconds": "<decimal>"}`.
struct Nanos(Duration);

impl Serialize for Nanos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Nanos", 1)?;
        st.serialize_field("nanoseconds", &self.0.as_nanos().to_string())?;
        st.end()
    }
}

/// The `auth_id` this crate writes for a user (see the module docs).
pub fn auth_id(user: &User) -> String {
    match user.uid {
        Some(uid) => uid.to_string(),
        None => user.sid.to_string(),
    }
}

/// Qumulo's `user` object.
struct UserJson<'a>(&'a User);

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let mut st = s.serialize_struct("User", 6)?;
        st.serialize_field("domain", u.domain.as_str())?;
        st.serialize_field("auth_id", &auth_id(u))?;
        match u.uid {
            Some(uid) => st.serialize_field("uid", &uid)?,
            None => st.skip_field("uid")?,
        }
        match u.gid {
            Some(gid) => st.serialize_field("gid", &gid)?,
            None => st.skip_field("gid")?,
        }
        st.serialize_field("sid", &*u.sid)?;
        st.serialize_field("name", &*u.name)?;
        st.end()
    }
}

impl Serialize for SessionInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spec = &self.spec;
        let open = SystemTime::now().duration_since(self.created).unwrap_or_default();
        let mut st = s.serialize_struct("SessionInfo", 12)?;
        st.serialize_field("location", &self.id.to_string())?;
        st.serialize_field("tenant_id", &TENANT_ID)?;
        st.serialize_field("originator", &spec.client_address.to_string())?;
        let server = spec.server_address.map(|a| a.to_string()).unwrap_or_default();
        st.serialize_field("server_address", &server)?;
        st.serialize_field("user", &UserJson(&spec.user))?;
        st.serialize_field("num_opens", &self.num_opens)?;
        st.serialize_field("time_open", &Nanos(open))?;
        st.serialize_field("time_idle", &Nanos(self.idle))?;
        st.serialize_field("is_guest", &spec.guest)?;
        st.serialize_field("is_encrypted", &spec.encrypted)?;
        let shares: Vec<&str> = self.share_names.iter().map(|s| &**s).collect();
        st.serialize_field("share_names", &shares)?;
        st.end()
    }
}

#[derive(Serialize)]
struct Paging<'a> {
    next: Option<&'a str>,
}

#[derive(Serialize)]
struct Listing<'a> {
    session_infos: &'a [SessionInfo],
    paging: Paging<'a>,
}

/// The `GET /v1/smb/sessions/` body: `{"session_infos": […], "paging":
/// {"next": next-or-null}}`.
///
/// ```
/// use smb_handles::json::sessions_to_json;
/// assert_eq!(sessions_to_json(&[], None), br#"{"session_infos":[],"paging":{"next":null}}"#);
/// ```
pub fn sessions_to_json(sessions: &[SessionInfo], next: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&Listing { session_infos: sessions, paging: Paging { next } })
        .expect("sessions serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, HandleTable, SessionSpec};

    #[test]
    fn shape_and_auth_id() {
        let table = HandleTable::new();
        let user = User::new("S-1-5-21-9-1104", "alice").domain(Domain::ActiveDirectory);
        let spec = SessionSpec::new(7, user, "10.0.0.7".parse().unwrap())
            .server_address("10.0.0.1".parse().unwrap())
            .encrypted(true);
        let id = table.session_setup(spec).unwrap();
        table.tree_connect(id, "projects").unwrap();
        let v = serde_json::to_value(table.session(id).unwrap()).unwrap();
        assert_eq!(v["location"], id.to_string());
        assert_eq!(v["tenant_id"], 1);
        assert_eq!(v["originator"], "10.0.0.7");
        assert_eq!(v["server_address"], "10.0.0.1");
        assert_eq!(v["user"]["domain"], "ACTIVE_DIRECTORY");
        assert_eq!(v["user"]["auth_id"], "S-1-5-21-9-1104", "no uid: the SID");
        assert!(v["user"].get("uid").is_none());
        assert_eq!(v["share_names"], serde_json::json!(["projects"]));
        assert!(v["time_open"]["nanoseconds"].as_str().unwrap().parse::<u128>().is_ok());
        assert_eq!((v["is_guest"].clone(), v["is_encrypted"].clone()), (false.into(), true.into()));
        assert_eq!(auth_id(&User::new("S-1", "bob").posix(2001, 100)), "2001");
    }
}
