//! The admin endpoint from C: smbh_admin_start / smbh_admin_stop (issue 5).
//! Only with the `admin` cargo feature.

use std::ffi::{c_char, c_void};
use std::ops::Deref;
use std::path::PathBuf;

use super::listing::{smbh_handle, smbh_visitor, visit_one};
use super::panic::ffi_boundary;
use super::ptr::check_ptr;
use super::status::smbh_status;
use super::strings::{into_owned, str_in};
use super::table::smbh_table;
use crate::admin::{self, AdminConfig, AdminServer, Credentials, TlsIdentity};
use crate::HandleTable;

/// The longest string field of smbh_admin_config other than the PEM texts.
const MAX_FIELD_LEN: usize = 4096;
/// The longest PEM text accepted (a long certificate chain fits).
const MAX_PEM_LEN: usize = 1 << 20;

/// Settings for smbh_admin_start. Zero-initialize it and set what you need;
/// strings are (pointer, length) UTF-8, not necessarily NUL-terminated, read
/// only during smbh_admin_start. At least one transport is required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_admin_config {
    /// Path of the Unix domain socket to serve plain HTTP on (created with
    /// mode 0600, removed at stop), or NULL for none.
    pub unix_socket_path: *const c_char,
    /// Length of `unix_socket_path` in bytes.
    pub unix_socket_path_len: usize,
    /// "ADDRESS:PORT" to serve HTTPS on (for example "127.0.0.1:8000"; port 0
    /// picks a free one), or NULL for none. Needs `tls_cert_pem` and
    /// `tls_key_pem`. Plain HTTP over TCP is not offered.
    pub tcp_address: *const c_char,
    /// Length of `tcp_address` in bytes.
    pub tcp_address_len: usize,
    /// PEM text of the certificate chain, leaf first.
    pub tls_cert_pem: *const c_char,
    /// Length of `tls_cert_pem` in bytes.
    pub tls_cert_pem_len: usize,
    /// PEM text of the private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key_pem: *const c_char,
    /// Length of `tls_key_pem` in bytes.
    pub tls_key_pem_len: usize,
    /// The administrator's user name (required).
    pub username: *const c_char,
    /// Length of `username` in bytes.
    pub username_len: usize,
    /// The password, hashed with Argon2id at start and then forgotten; or
    /// NULL when `password_hash` is given instead.
    pub password: *const c_char,
    /// Length of `password` in bytes.
    pub password_len: usize,
    /// An Argon2 PHC hash ("$argon2id$v=19$..."), or NULL when `password`
    /// is given. Exactly one of the two must be set.
    pub password_hash: *const c_char,
    /// Length of `password_hash` in bytes.
    pub password_hash_len: usize,
    /// Called once for each handle the endpoint force-closes, after it is
    /// removed from the table, with no table lock held, with `userdata` and
    /// the closed handle (borrowed for the call; paths resolved). It runs on
    /// the endpoint's threads, possibly concurrently for concurrent close
    /// requests; its return value is ignored. NULL for none.
    pub on_force_close: smbh_visitor,
    /// Passed to `on_force_close` as is.
    pub userdata: *mut c_void,
}

/// A running admin endpoint, from smbh_admin_start; stop and free it with
/// smbh_admin_stop.
#[derive(Debug)]
pub struct smbh_admin {
    server: AdminServer,
}

/// The caller's table, which it keeps alive until smbh_admin_stop returns.
struct BorrowedTable(*const HandleTable);

// SAFETY: `HandleTable` is `Sync`; the pointer stays valid for the server's
// whole life (smbh_admin_start's contract: the table outlives smbh_admin_stop).
unsafe impl Send for BorrowedTable {}
// SAFETY: as above; only shared references are ever made from it.
unsafe impl Sync for BorrowedTable {}

impl Deref for BorrowedTable {
    type Target = HandleTable;
    fn deref(&self) -> &HandleTable {
        // SAFETY: non-NULL and live until smbh_admin_stop (see above).
        unsafe { &*self.0 }
    }
}

/// The C callback and its context, called from the endpoint's threads.
struct ForceClose {
    f: unsafe extern "C" fn(*mut c_void, *const smbh_handle) -> std::ffi::c_int,
    userdata: *mut c_void,
}

impl ForceClose {
    fn call(&self, h: &crate::FileHandle) {
        // SAFETY: the caller vouches for the callback and its userdata (see
        // the Send/Sync impls); the view borrows `h` for the call only.
        unsafe { visit_one(self.f, self.userdata, h) };
    }
}

// SAFETY: smbh_admin_config documents that `on_force_close` is called from
// the endpoint's threads, concurrently; the caller provides a callback and
// `userdata` fit for that.
unsafe impl Send for ForceClose {}
// SAFETY: as above.
unsafe impl Sync for ForceClose {}

/// Reads an optional string field (NULL is `None`), naming it in errors.
///
/// # Safety
///
/// `ptr` is NULL or readable for `len` bytes (when `len <= max`).
unsafe fn field<'a>(
    name: &str,
    ptr: *const c_char,
    len: usize,
    max: usize,
) -> Result<Option<&'a str>, StartError> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise.
    let s = unsafe { str_in(ptr, len, max, smbh_status::InvalidArgument) };
    s.map(Some).map_err(|st| (st, format!("{name}: {}", st.message().to_string_lossy())))
}

/// Why a start failed: a status, and a message for `error_message_out`.
type StartError = (smbh_status, String);

fn invalid(msg: impl Into<String>) -> StartError {
    (smbh_status::InvalidArgument, msg.into())
}

/// Builds the Rust configuration from the C one.
///
/// # Safety
///
/// Every pointer in `c` is NULL or readable for its length.
unsafe fn config_from_c(c: &smbh_admin_config) -> Result<AdminConfig, StartError> {
    // SAFETY (all reads below): the caller's promise on every field.
    let unix = unsafe {
        field("unix_socket_path", c.unix_socket_path, c.unix_socket_path_len, MAX_FIELD_LEN)
    }?;
    let tcp = unsafe { field("tcp_address", c.tcp_address, c.tcp_address_len, MAX_FIELD_LEN) }?;
    let cert = unsafe { field("tls_cert_pem", c.tls_cert_pem, c.tls_cert_pem_len, MAX_PEM_LEN) }?;
    let key = unsafe { field("tls_key_pem", c.tls_key_pem, c.tls_key_pem_len, MAX_PEM_LEN) }?;
    let user = unsafe { field("username", c.username, c.username_len, MAX_FIELD_LEN) }?;
    let password = unsafe { field("password", c.password, c.password_len, MAX_FIELD_LEN) }?;
    let hash =
        unsafe { field("password_hash", c.password_hash, c.password_hash_len, MAX_FIELD_LEN) }?;

    let user =
        user.ok_or_else(|| (smbh_status::NullParameter, "username is required".to_owned()))?;
    let credentials = match (password, hash) {
        (Some(p), None) => Credentials::new(user, p),
        (None, Some(h)) => Credentials::from_password_hash(user, h),
        _ => return Err(invalid("set exactly one of password and password_hash")),
    }
    .map_err(|e| invalid(e.to_string()))?;
    let mut config = AdminConfig::new(credentials);
    if let Some(path) = unix {
        config = config.unix_socket(PathBuf::from(path));
    }
    if let Some(addr) = tcp {
        let addr = addr.parse().map_err(|e| invalid(format!("tcp_address {addr:?}: {e}")))?;
        let (Some(cert), Some(key)) = (cert, key) else {
            return Err(invalid("tcp_address needs tls_cert_pem and tls_key_pem"));
        };
        let identity = TlsIdentity::from_pem(cert.as_bytes(), key.as_bytes())
            .map_err(|e| invalid(e.to_string()))?;
        config = config.tls(addr, identity);
    }
    if let Some(f) = c.on_force_close {
        let cb = ForceClose { f, userdata: c.userdata };
        config = config.on_force_close(move |h| cb.call(h));
    }
    Ok(config)
}

/// Starts the admin endpoint (Qumulo's /v1/smb/files REST API, for the
/// vendor's `qq` CLI) for `table` on its own thread, and writes a handle to
/// `*admin_out` once every configured listener accepts connections.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`, `config`, `admin_out` or
/// `config->username` NULL), SMBH_STATUS_INVALID_UTF8 (a string field),
/// SMBH_STATUS_INVALID_ARGUMENT (no transport, a bad address, a bad
/// certificate or key, not exactly one of password and password_hash, a
/// field too long, or a listener that cannot be bound, for example an
/// address in use). On failure nothing is left running or bound, and when
/// `error_message_out` is not NULL an owned, NUL-terminated message saying
/// why is written to it (free it with smbh_string_free); it is untouched on
/// success.
///
/// Ownership: the caller owns the handle and must pass it to
/// smbh_admin_stop, before freeing `table`: the table must outlive it.
///
/// # Safety
///
/// `table` is NULL or live until smbh_admin_stop returns; `config` is NULL
/// or readable, with every string field NULL or readable for its length;
/// `on_force_close` and `userdata` are safe to use from other threads;
/// `admin_out` and `error_message_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_admin_start(
    table: *const smbh_table,
    config: *const smbh_admin_config,
    admin_out: *mut *mut smbh_admin,
    error_message_out: *mut *mut c_char,
) -> smbh_status {
    ffi_boundary! {
        let started = (|| -> Result<*mut smbh_admin, StartError> {
            let null = |what: &str| (smbh_status::NullParameter, format!("{what} is NULL"));
            check_ptr(table).map_err(|s| (s, "table is NULL or misaligned".to_owned()))?;
            check_ptr(config).map_err(|s| (s, "config is NULL or misaligned".to_owned()))?;
            check_ptr(admin_out).map_err(|_| null("admin_out"))?;
            // SAFETY: non-NULL and aligned (checked); readable by the
            // caller's promise.
            let c = unsafe { &*config };
            // SAFETY: the caller's promise on the fields of `config`.
            let config = unsafe { config_from_c(c) }?;
            // SAFETY: `table` is non-NULL (checked) and live until
            // smbh_admin_stop (the caller's promise).
            let inner: *const HandleTable = unsafe { &(*table).inner };
            let server = admin::serve(BorrowedTable(inner), config).map_err(|e| invalid(e.to_string()))?;
            Ok(Box::into_raw(Box::new(smbh_admin { server })))
        })();
        match started {
            Ok(admin) => {
                // SAFETY: non-NULL and aligned (checked above), writable by
                // the caller's promise.
                unsafe { admin_out.write(admin) };
                smbh_status::Ok
            }
            Err((status, message)) => {
                if check_ptr(error_message_out).is_ok() {
                    let (text, _) = into_owned(message.as_bytes());
                    // SAFETY: non-NULL and aligned (checked), writable by the
                    // caller's promise.
                    unsafe { error_message_out.write(text) };
                }
                status
            }
        }
    }
}

/// Stops an endpoint from smbh_admin_start and frees it: no new
/// connections, requests in flight get up to 5 seconds to finish, the Unix
/// socket file is removed, and its thread has ended when this returns. A
/// close already under way finishes first, so every `on_force_close` call it
/// owes has returned before this does.
/// NULL is a no-op. Do not call it from inside `on_force_close`.
///
/// # Safety
///
/// `admin` is NULL or a handle from smbh_admin_start not yet stopped.
#[no_mangle]
pub unsafe extern "C" fn smbh_admin_stop(admin: *mut smbh_admin) {
    ffi_boundary! {
        if !admin.is_null() {
            // SAFETY: `admin` came from `Box::into_raw` in smbh_admin_start
            // and is stopped once (the caller's promise).
            let admin = unsafe { Box::from_raw(admin) };
            admin.server.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn zeroed() -> smbh_admin_config {
        smbh_admin_config {
            unix_socket_path: ptr::null(),
            unix_socket_path_len: 0,
            tcp_address: ptr::null(),
            tcp_address_len: 0,
            tls_cert_pem: ptr::null(),
            tls_cert_pem_len: 0,
            tls_key_pem: ptr::null(),
            tls_key_pem_len: 0,
            username: ptr::null(),
            username_len: 0,
            password: ptr::null(),
            password_len: 0,
            password_hash: ptr::null(),
            password_hash_len: 0,
            on_force_close: None,
            userdata: ptr::null_mut(),
        }
    }

    fn set(field: &mut *const c_char, len: &mut usize, s: &str) {
        *field = s.as_ptr().cast();
        *len = s.len();
    }

    unsafe extern "C" fn count(
        userdata: *mut c_void,
        h: *const super::super::smbh_handle,
    ) -> std::ffi::c_int {
        // SAFETY: the test passes a live AtomicUsize and a valid view.
        unsafe {
            assert_ne!((*h).location, 0);
            (*userdata.cast::<AtomicUsize>()).fetch_add(1, Ordering::SeqCst);
        }
        0
    }

    fn request(sock: &std::path::Path, req: &str) -> String {
        let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn start_serve_close_stop() {
        let mut table: *mut smbh_table = ptr::null_mut();
        // SAFETY: valid out pointer.
        assert_eq!(unsafe { super::super::smbh_table_new(1, 0, &mut table) }, smbh_status::Ok);
        // SAFETY: `table` is live.
        let loc = unsafe { &(*table).inner }
            .open(
                crate::OpenSpec::new(crate::FileNumber(1), "/a", "me", crate::AccessMask::empty())
                    .share_access(crate::ShareAccess::all()),
            )
            .unwrap();
        let dir = std::env::temp_dir().join(format!("smbh-ffi-admin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("a.sock");
        let sock_str = sock.to_str().unwrap().to_owned();
        let counter = AtomicUsize::new(0);
        let mut c = zeroed();
        set(&mut c.unix_socket_path, &mut c.unix_socket_path_len, &sock_str);
        set(&mut c.username, &mut c.username_len, "admin");
        let hash = "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";
        set(&mut c.password_hash, &mut c.password_hash_len, hash);
        c.on_force_close = Some(count);
        c.userdata = (&counter as *const AtomicUsize).cast_mut().cast();

        // Refusals first: no transport, and both password forms.
        let mut bad = c;
        bad.unix_socket_path = ptr::null();
        let mut admin: *mut smbh_admin = ptr::null_mut();
        let mut msg: *mut c_char = ptr::null_mut();
        // SAFETY: valid pointers throughout.
        unsafe {
            assert_eq!(
                smbh_admin_start(table, &bad, &mut admin, &mut msg),
                smbh_status::InvalidArgument
            );
            assert!(admin.is_null());
            let text = std::ffi::CStr::from_ptr(msg).to_string_lossy().into_owned();
            assert!(text.contains("Unix socket"), "{text}");
            super::super::smbh_string_free(msg);
            assert_eq!(
                smbh_admin_start(ptr::null(), &c, &mut admin, ptr::null_mut()),
                smbh_status::NullParameter
            );
            let mut both = c;
            set(&mut both.password, &mut both.password_len, "secret");
            assert_eq!(
                smbh_admin_start(table, &both, &mut admin, ptr::null_mut()),
                smbh_status::InvalidArgument
            );

            assert_eq!(smbh_admin_start(table, &c, &mut admin, ptr::null_mut()), smbh_status::Ok);
        }
        assert!(!admin.is_null());
        let login = request(
            &sock,
            "POST /v1/session/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 43\r\n\r\n{\"username\": \"admin\", \"password\": \"secret\"}",
        );
        let token = login
            .split("\"bearer_token\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let body = format!("[{{\"handle_info\": {{\"location\": \"{loc}\"}}}}]");
        let closed = request(
            &sock,
            &format!(
                "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(closed.ends_with("[{\"error_message\":\"\"}]"), "{closed}");
        assert_eq!(counter.load(Ordering::SeqCst), 1, "the C callback ran once");
        // SAFETY: `admin` and `table` are live; stop before free.
        unsafe {
            smbh_admin_stop(admin);
            smbh_admin_stop(ptr::null_mut());
            super::super::smbh_table_free(table);
        }
        assert!(!sock.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
