/*
 * smb_handles.hpp: a header-only C++17 wrapper of the smb-handles C ABI
 * (smb_handles.h). Nothing here is compiled into the library: it calls the
 * smbh_ functions, so link the library as for C (pkg-config smb_handles, or
 * CMake's smb_handles::smb_handles).
 *
 *     #include <smb_handles.hpp>
 *
 *     smbh::Table table;                                  // throws smbh::error on failure
 *     smbh::Location loc = table.open({4242, "/projects/q3/report.xlsx",
 *                                      "S-1-5-21-1-1104", smbh::access::file_read_data})
 *                              .value();                  // result<T>: check, or value() throws
 *     table.for_each({}, [](const smbh::HandleView &h) {  // a lambda as the visitor
 *         std::cout << h.location() << ' ' << h.owner() << '\n';
 *     }).value();                                         // every page; throws on error
 *     smbh::Status s = table.close(loc);                  // s.ok(), s.code(), s.message()
 *
 * Error handling, chosen for servers that build with or without exceptions:
 *
 * - Every operation that can fail returns smbh::Result<T> (T is void for
 *   operations without an output), modelled on C++23 std::expected: test it
 *   with `ok()` or `if (r)`, read `status()` (an smbh::Status: code and
 *   message), and take the value with `*r` / `r->` (only when ok) or
 *   `value()`, which throws smbh::error (a std::runtime_error carrying the
 *   status) when the call failed. Nothing in this header throws except
 *   `value()`, `Status::check()` and the Table constructor; all other
 *   functions are noexcept or may only throw std::bad_alloc (copies into
 *   std::string / std::vector; std::length_error for a close_batch count
 *   no vector can hold) and what a visitor throws.
 * - Expected outcomes of a file server (a stale location on close, a full
 *   table) are statuses, not exceptions, so a server never pays for an
 *   exception on a client's mistake.
 * - Built with -fno-exceptions, `value()` on a failed result calls
 *   std::abort() instead of throwing; test `ok()` first.
 *
 * Ownership: smbh::Table owns its smbh_table (move-only; freed by the
 * destructor). smbh::String owns a string the library returned (move-only;
 * freed with smbh_string_free). smbh::HandleView borrows a record for the
 * duration of a visitor call only; smbh::Handle is an owned copy.
 *
 * Threads: the const member functions of Table may be called on one table
 * from any number of threads at once (the C ABI's guarantee); moving,
 * assigning, releasing or destroying a Table needs the same exclusion as
 * smbh_table_free in C (no other call on it running or to come).
 *
 * Adding a function of the C ABI: write one member that converts the
 * arguments (std::string_view -> detail::ptr(), size()), calls the smbh_
 * function, and returns detail::make_result(status, value) - see open() or
 * rename_file() for the pattern. Options that a C function takes in a
 * params struct belong in a C++ struct with defaults (see OpenParams), so
 * new fields (a share mode, say) do not change call sites. A new status
 * code needs nothing here: Status carries any smbh_status.
 *
 * Not wrapped: smbh_admin_start / smbh_admin_stop (the `admin` feature; a
 * default install does not export them). Call them directly with
 * native_handle().
 */

#ifndef SMB_HANDLES_HPP
#define SMB_HANDLES_HPP

#include <smb_handles.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define SMBH_HPP_EXCEPTIONS 1
#else
#define SMBH_HPP_EXCEPTIONS 0
#endif

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "smb_handles.hpp needs C++17 or later (-std=c++17)"
#endif

namespace smbh {

/** A handle's location (its 64-bit id); never 0 nor UINT64_MAX. */
using Location = std::uint64_t;
/** A file (inode) number. */
using FileNumber = std::uint64_t;
/** A listing cursor: kStart, or the `next` of the previous page. */
using Cursor = std::uint64_t;
/** A session's id (from Table::session_setup). */
using SessionId = std::uint64_t;
/** A tree connect's id (from Table::tree_connect). */
using TreeId = std::uint64_t;
/** A GUID or lease key, 16 bytes as on the wire (client GUIDs, create
 *  GUIDs, lease keys). */
using Guid = std::array<std::uint8_t, 16>;

/** The cursor that starts a listing at the beginning. */
inline constexpr Cursor kCursorStart = SMBH_CURSOR_START;
/** The `next` cursor of the last page. */
inline constexpr Cursor kCursorDone = SMBH_CURSOR_DONE;

/** MS-DTYP ACCESS_MASK bits (the C ABI takes a plain uint32_t). */
namespace access {
inline constexpr std::uint32_t file_read_data = 0x1;
inline constexpr std::uint32_t file_list_directory = 0x1;
inline constexpr std::uint32_t file_write_data = 0x2;
inline constexpr std::uint32_t file_add_file = 0x2;
inline constexpr std::uint32_t file_append_data = 0x4;
inline constexpr std::uint32_t file_add_subdirectory = 0x4;
inline constexpr std::uint32_t file_read_ea = 0x8;
inline constexpr std::uint32_t file_write_ea = 0x10;
inline constexpr std::uint32_t file_execute = 0x20;
inline constexpr std::uint32_t file_traverse = 0x20;
inline constexpr std::uint32_t file_delete_child = 0x40;
inline constexpr std::uint32_t file_read_attributes = 0x80;
inline constexpr std::uint32_t file_write_attributes = 0x100;
inline constexpr std::uint32_t delete_ = 0x10000;
inline constexpr std::uint32_t read_control = 0x20000;
inline constexpr std::uint32_t write_dac = 0x40000;
inline constexpr std::uint32_t write_owner = 0x80000;
inline constexpr std::uint32_t synchronize = 0x100000;
inline constexpr std::uint32_t access_system_security = 0x1000000;
inline constexpr std::uint32_t maximum_allowed = 0x2000000;
inline constexpr std::uint32_t generic_all = 0x10000000;
inline constexpr std::uint32_t generic_execute = 0x20000000;
inline constexpr std::uint32_t generic_write = 0x40000000;
inline constexpr std::uint32_t generic_read = 0x80000000;
/** FILE_ALL_ACCESS. */
inline constexpr std::uint32_t file_all = 0x1F01FF;
}  // namespace access

/** Share modes for OpenParams::share_access (SMB2 ShareAccess). */
namespace share {
inline constexpr std::uint32_t read = SMBH_SHARE_READ;      ///< others may read or execute
inline constexpr std::uint32_t write = SMBH_SHARE_WRITE;    ///< others may write or append
inline constexpr std::uint32_t delete_ = SMBH_SHARE_DELETE; ///< others may delete
inline constexpr std::uint32_t all = read | write | delete_; ///< no restriction (the default)
}  // namespace share

/** The outcome of a call: an smbh_status code and its message. [[nodiscard]]:
 *  ignoring one is a warning (cast to void to ignore on purpose). */
class [[nodiscard]] Status {
public:
    /** SMBH_STATUS_OK. */
    constexpr Status() noexcept = default;
    /** Wraps a code returned by an smbh_ function. */
    constexpr explicit Status(smbh_status code) noexcept : code_(code) {}

    /** True for SMBH_STATUS_OK. */
    constexpr bool ok() const noexcept { return code_ == SMBH_STATUS_OK; }
    /** True for SMBH_STATUS_OK. */
    constexpr explicit operator bool() const noexcept { return ok(); }
    /** The C code, to compare with the SMBH_STATUS_ constants. */
    constexpr smbh_status code() const noexcept { return code_; }
    /** The library's static message for the code (never NULL). */
    const char *message() const noexcept {
        return smbh_status_message(static_cast<std::uint32_t>(code_));
    }
    /** The NTSTATUS an SMB2 server answers with (smbh_status_nt). */
    std::uint32_t nt_status() const noexcept {
        return smbh_status_nt(static_cast<std::uint32_t>(code_));
    }
    /** Throws smbh::error unless ok() (aborts when built without exceptions). */
    inline void check() const;

    friend constexpr bool operator==(Status a, Status b) noexcept { return a.code_ == b.code_; }
    friend constexpr bool operator!=(Status a, Status b) noexcept { return a.code_ != b.code_; }
    friend constexpr bool operator==(Status a, smbh_status b) noexcept { return a.code_ == b; }
    friend constexpr bool operator!=(Status a, smbh_status b) noexcept { return a.code_ != b; }

private:
    smbh_status code_ = SMBH_STATUS_OK;
};

/** What Result::value(), Status::check() and Table's constructor throw. */
class error : public std::runtime_error {
public:
    /** An error for a status that is not OK. */
    explicit error(Status status) : std::runtime_error(status.message()), status_(status) {}
    /** The status that failed. */
    Status status() const noexcept { return status_; }

private:
    Status status_;
};

namespace detail {

[[noreturn]] inline void fail(Status status) {
#if SMBH_HPP_EXCEPTIONS
    throw error(status);
#else
    (void)status;
    std::abort();
#endif
}

/** The C ABI refuses NULL even for zero-length strings; an empty
 *  std::string_view may have a NULL data(). */
inline const char *ptr(std::string_view s) noexcept { return s.data() != nullptr ? s.data() : ""; }

}  // namespace detail

inline void Status::check() const {
    if (!ok()) {
        detail::fail(*this);
    }
}

/**
 * A value or the status of a failed call, after C++23 std::expected.
 * `*r` and `r->` require ok(); `value()` checks. [[nodiscard]], like Status.
 */
template <class T>
class [[nodiscard]] Result {
public:
    /** A success holding `value`. */
    Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit, like std::expected
    /** A failure; `status` must not be OK. */
    Result(Status status) noexcept : status_(status) {}  // NOLINT

    /** True when the call succeeded. */
    bool ok() const noexcept { return status_.ok(); }
    /** True when the call succeeded. */
    explicit operator bool() const noexcept { return ok(); }
    /** OK, or why the call failed. */
    Status status() const noexcept { return status_; }

    /** The value; throws smbh::error when the call failed. */
    T &value() & {
        status_.check();
        return *value_;
    }
    /** The value; throws smbh::error when the call failed. */
    const T &value() const & {
        status_.check();
        return *value_;
    }
    /** The value, moved out (by value, so it outlives a temporary Result:
     *  `for (auto s : t.close_batch(v).value())` is safe); throws
     *  smbh::error when the call failed. */
    T value() && {
        status_.check();
        return std::move(*value_);
    }
    /** The value, or `fallback` when the call failed. */
    template <class U>
    T value_or(U &&fallback) const & {
        return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }
    /** The value, moved out, or `fallback` when the call failed. */
    template <class U>
    T value_or(U &&fallback) && {
        return ok() ? std::move(*value_) : static_cast<T>(std::forward<U>(fallback));
    }

    /** The value (the call must have succeeded). */
    T &operator*() & noexcept { return *value_; }
    /** The value (the call must have succeeded). */
    const T &operator*() const & noexcept { return *value_; }
    /** The value, moved out by value (the call must have succeeded). */
    T operator*() && { return std::move(*value_); }
    /** Member access to the value (the call must have succeeded). */
    T *operator->() noexcept { return &*value_; }
    /** Member access to the value (the call must have succeeded). */
    const T *operator->() const noexcept { return &*value_; }

private:
    std::optional<T> value_;
    Status status_;
};

/** The result of a call without an output: just its status. */
template <>
class [[nodiscard]] Result<void> {
public:
    /** Success. */
    Result() noexcept = default;
    /** The status of the call. */
    Result(Status status) noexcept : status_(status) {}  // NOLINT

    /** True when the call succeeded. */
    bool ok() const noexcept { return status_.ok(); }
    /** True when the call succeeded. */
    explicit operator bool() const noexcept { return ok(); }
    /** OK, or why the call failed. */
    Status status() const noexcept { return status_; }
    /** Throws smbh::error when the call failed. */
    void value() const { status_.check(); }

private:
    Status status_;
};

namespace detail {

template <class T>
Result<std::decay_t<T>> make_result(smbh_status code, T &&value) {
    if (code != SMBH_STATUS_OK) {
        return Result<std::decay_t<T>>(Status(code));
    }
    return Result<std::decay_t<T>>(std::forward<T>(value));
}

}  // namespace detail

/**
 * A string the library returned (JSON bodies), owned: freed with
 * smbh_string_free by the destructor. Move-only. NUL-terminated.
 */
class String {
public:
    /** An empty, null string. */
    String() noexcept = default;
    /** Takes ownership of `text` (from the library; may be NULL), `len` bytes. */
    String(char *text, std::size_t len) noexcept : text_(text), len_(text != nullptr ? len : 0) {}
    String(const String &) = delete;
    String &operator=(const String &) = delete;
    /** Moves ownership; `other` becomes null. */
    String(String &&other) noexcept
        : text_(std::exchange(other.text_, nullptr)), len_(std::exchange(other.len_, 0)) {}
    /** Frees the current string and takes `other`'s. */
    String &operator=(String &&other) noexcept {
        if (this != &other) {
            reset();
            text_ = std::exchange(other.text_, nullptr);
            len_ = std::exchange(other.len_, 0);
        }
        return *this;
    }
    ~String() { reset(); }

    /** The text (empty when null); valid while this String lives. */
    std::string_view view() const noexcept {
        return text_ != nullptr ? std::string_view(text_, len_) : std::string_view();
    }
    /** The text, NUL-terminated ("" when null). */
    const char *c_str() const noexcept { return text_ != nullptr ? text_ : ""; }
    /** Length in bytes, without the NUL. */
    std::size_t size() const noexcept { return len_; }
    /** True when no string is held. */
    bool empty() const noexcept { return len_ == 0; }
    /** A std::string copy. */
    std::string str() const { return std::string(view()); }
    /** Implicit view, for functions taking std::string_view. Not from a
     *  temporary String, whose text is freed at the end of the statement. */
    operator std::string_view() const & noexcept { return view(); }  // NOLINT
    operator std::string_view() const && = delete;

    /** Gives up ownership: the caller must pass the pointer to smbh_string_free. */
    char *release() noexcept {
        len_ = 0;
        return std::exchange(text_, nullptr);
    }
    /** Frees the string now; *this becomes null. */
    void reset() noexcept {
        smbh_string_free(std::exchange(text_, nullptr));
        len_ = 0;
    }

private:
    char *text_ = nullptr;
    std::size_t len_ = 0;
};

struct Handle;

/**
 * One handle as a visitor sees it: borrowed from the library for the
 * duration of the visitor call only (copy what you keep, or call to_owned()).
 */
class HandleView {
public:
    /** Wraps a record passed to a C visitor. */
    explicit HandleView(const smbh_handle &h) noexcept : h_(&h) {}

    /** The file (inode) the handle is open on. */
    FileNumber file_number() const noexcept { return h_->file_number; }
    /** The handle's location. */
    Location location() const noexcept { return h_->location; }
    /** 1 at open; +1 on every change to the record. */
    std::uint64_t version() const noexcept { return h_->version; }
    /** Byte-range locks held through this handle. */
    std::uint32_t num_byte_range_locks() const noexcept { return h_->num_byte_range_locks; }
    /** Granted access (MS-DTYP ACCESS_MASK bits). */
    std::uint32_t access_mask() const noexcept { return h_->access_mask; }
    /** The opener's identity. */
    std::string_view owner() const noexcept { return {h_->owner, h_->owner_len}; }
    /** The path, or nullopt when the listing did not resolve paths. */
    std::optional<std::string_view> path() const noexcept {
        if (h_->path == nullptr) {
            return std::nullopt;
        }
        return std::string_view(h_->path, h_->path_len);
    }
    /** True for a directory handle. */
    bool directory() const noexcept { return h_->directory; }
    /** True when the handle was opened with delete-on-close. */
    bool delete_on_close() const noexcept { return h_->delete_on_close; }
    /** True when the file is delete-pending (new opens are refused). */
    bool delete_pending() const noexcept { return h_->delete_pending; }
    /** True for a durable handle. */
    bool durable() const noexcept { return h_->durable; }
    /** True for a durable handle kept after its connection dropped
     *  (Table::disconnect), waiting for Table::reconnect. */
    bool disconnected() const noexcept { return h_->disconnected; }
    /** The C record. */
    const smbh_handle &raw() const noexcept { return *h_; }

    /** An owned copy (see Handle). */
    inline Handle to_owned() const;

private:
    const smbh_handle *h_;
};

/** An owned copy of one handle's record (what Table::get returns). */
struct Handle {
    FileNumber file_number = 0;               ///< the file (inode)
    Location location = 0;                    ///< the handle's location
    std::uint64_t version = 0;                ///< 1 at open, +1 per change
    std::uint32_t num_byte_range_locks = 0;   ///< locks held through it
    std::uint32_t access_mask = 0;            ///< granted access
    std::string owner;                        ///< the opener's identity
    std::optional<std::string> path;          ///< the path, when resolved
    bool directory = false;                   ///< a directory handle
    bool delete_on_close = false;             ///< opened with delete-on-close
    bool delete_pending = false;              ///< the file is delete-pending
    bool durable = false;                     ///< a durable handle
    bool disconnected = false;                ///< kept after a disconnect
};

inline Handle HandleView::to_owned() const {
    Handle h;
    h.file_number = file_number();
    h.location = location();
    h.version = version();
    h.num_byte_range_locks = num_byte_range_locks();
    h.access_mask = access_mask();
    h.owner = std::string(owner());
    if (auto p = path()) {
        h.path = std::string(*p);
    }
    h.directory = directory();
    h.delete_on_close = delete_on_close();
    h.delete_pending = delete_pending();
    h.durable = durable();
    h.disconnected = disconnected();
    return h;
}

/** Whether an open is of a file or of a directory (OpenParams::kind). An
 *  enum class, so that no integer (a share mode given in its place) can
 *  silently become one. */
enum class Kind : bool { file = false, directory = true };

/** What Table::open registers. Fields not given keep their defaults; the
 *  most used come first, so `{file, path, owner, access, share}` works.
 *
 *  `path` and `owner` are views: the strings they view must live until
 *  Table::open returns (the table copies what it keeps). Pass temporaries
 *  inside the call, `t.open({1, "/d/" + name, owner, mask})`, not in a
 *  OpenParams variable declared on an earlier line. */
struct OpenParams {
    FileNumber file_number = 0;        ///< the file (inode) being opened
    std::string_view path;             ///< UTF-8, at most SMBH_MAX_PATH_LEN bytes, no NUL
    std::string_view owner;            ///< UTF-8, at most SMBH_MAX_OWNER_LEN bytes, no NUL
    std::uint32_t access_mask = 0;     ///< granted access (smbh::access bits)
    std::uint32_t share_access = share::all;  ///< what other opens may do (smbh::share bits)
    Kind kind = Kind::file;            ///< a file or a directory handle
    TreeId tree = 0;                   ///< the tree connect it comes through; 0 for none
    bool delete_on_close = false;      ///< FILE_DELETE_ON_CLOSE (needs smbh::access::delete_)
    std::uint8_t oplock = 0;           ///< for open_cached: 0, 1, 8, 9 or SMBH_OPLOCK_LEASE
    bool overwrite = false;            ///< FILE_SUPERSEDE / OVERWRITE / OVERWRITE_IF
    smbh_lease_request lease{};        ///< the lease asked for with SMBH_OPLOCK_LEASE
    /** For open_cached: the durable handle asked for (`durable.version`
     *  SMBH_DURABLE_V1 or SMBH_DURABLE_V2; the default asks for none). */
    smbh_durable_request durable{};
};

/** What Table::session_setup registers (smbh_session_params). The views must
 *  live until the call returns. */
struct SessionParams {
    std::uint64_t smb_session_id = 0;       ///< the SMB2 SessionId
    std::string_view user_sid;               ///< the user's SID
    std::string_view user_name;              ///< the user's name
    std::string_view client_address;         ///< "10.0.0.7" or "fe80::1"
    std::uint32_t domain = SMBH_DOMAIN_LOCAL; ///< one of SMBH_DOMAIN_*
    bool guest = false;                      ///< a guest session
    bool encrypted = false;                  ///< the session encrypts
    std::uint16_t dialect = 0;               ///< 0x0311 for SMB 3.1.1; 0 unknown
};

/** Which handles Table::close_selected closes (smbh_selector). */
struct Selector {
    std::uint32_t kind = SMBH_SELECT_SESSION;  ///< one of SMBH_SELECT_*
    std::uint64_t id = 0;                      ///< session or tree id (SESSION, TREE)
    std::string_view text;                     ///< share, user, address or path (the others)
};

/** How many handles a logoff, tree disconnect or close_selected closed. */
using CloseCounts = smbh_close_counts;
/** How many handles Table::disconnect closed, failed to close, and kept. */
using DisconnectCounts = smbh_disconnect_counts;
/** What Table::reconnect gives back: the new location, the caching held
 *  and the durable grant. */
using Reconnected = smbh_reconnected;

/** What Table::reconnect presents (smbh_reconnect_params): DHnC without a
 *  create GUID, DH2C with one. `owner` must live until the call returns. */
struct ReconnectParams {
    std::uint64_t persistent_id = 0;  ///< the grant's persistent_id (the FileId's persistent part)
    std::string_view owner;           ///< the reconnecting user's SID: the open's owner
    Guid client_guid{};               ///< the reconnecting connection's ClientGuid
    TreeId tree = 0;                  ///< the tree connect the open joins; 0 for none
    std::optional<Guid> create_guid;  ///< DH2C's CreateGuid; nullopt for DHnC (v1)
    std::optional<Guid> lease_key;    ///< the key of the CREATE's lease context, if any
    bool persistent = false;          ///< DH2C's SMB2_DHANDLE_FLAG_PERSISTENT
};

/** One element of Table::lock: a range and whether it is exclusive. */
using LockElement = smbh_lock_element;
/** One element of Table::unlock: the exact range of a lock. */
using LockRange = smbh_lock_range;
/** The kind of I/O Table::check_io checks. */
enum class IoKind : std::uint32_t { read = SMBH_IO_READ, write = SMBH_IO_WRITE };

/** What Table::list and Table::list_json list (defaults: everything, 1000 per page). */
struct ListQuery {
    Cursor after = kCursorStart;                     ///< where to start
    std::size_t limit = SMBH_DEFAULT_LIST_LIMIT;     ///< page size, 1..SMBH_MAX_LIST_LIMIT
    std::optional<FileNumber> file_number;           ///< only this file's handles
    bool resolve_paths = false;                      ///< include paths

    /** The C struct. */
    smbh_list_query raw() const noexcept {
        smbh_list_query q{};
        q.after = after;
        q.limit = limit;
        q.by_file = file_number.has_value();
        q.file_number = file_number.value_or(0);
        q.resolve_paths = resolve_paths;
        return q;
    }
};

/** A page of JSON from Table::list_json. */
struct JsonPage {
    String json;                 ///< the body of GET /v1/smb/files
    Cursor next = kCursorDone;   ///< kCursorDone after the last page
};

namespace detail {

/** Calls a C++ visitor from the C callback; keeps exceptions out of C. */
template <class F>
struct Visit {
    F *f;
#if SMBH_HPP_EXCEPTIONS
    std::exception_ptr thrown;
#endif

    explicit Visit(F *fn) noexcept : f(fn) {}

    static int call(void *userdata, const smbh_handle *handle) noexcept {
        auto *self = static_cast<Visit *>(userdata);
#if SMBH_HPP_EXCEPTIONS
        try {
#endif
            HandleView view(*handle);
            if constexpr (std::is_same_v<std::invoke_result_t<F &, const HandleView &>, void>) {
                (*self->f)(view);
                return 0;
            } else {
                return static_cast<bool>((*self->f)(view)) ? 0 : 1;
            }
#if SMBH_HPP_EXCEPTIONS
        } catch (...) {
            // A C++ exception must not unwind through the library: stop the
            // listing here and rethrow it once the C call has returned.
            self->thrown = std::current_exception();
            return 1;
        }
#endif
    }

    void rethrow() {
#if SMBH_HPP_EXCEPTIONS
        if (thrown) {
            std::rethrow_exception(thrown);
        }
#endif
    }
};

}  // namespace detail

/**
 * A table of open SMB file handles: owns one smbh_table and frees it on
 * destruction. Move-only. Every const member may be called from any thread
 * concurrently.
 */
class Table {
public:
    /**
     * Makes a table (smbh_table_new). `shards`: 1 to 256, 0 picks a size for
     * this machine; `max_handles`: 0 means the library default. Throws
     * smbh::error on failure; Table::create() is the non-throwing form.
     */
    explicit Table(std::size_t shards = 0, std::size_t max_handles = 0) {
        Status s(smbh_table_new(shards, max_handles, &t_));
        s.check();
    }

    /** Makes a table without throwing (see the constructor). */
    static Result<Table> create(std::size_t shards = 0, std::size_t max_handles = 0) noexcept {
        smbh_table *t = nullptr;
        Status s(smbh_table_new(shards, max_handles, &t));
        if (!s.ok()) {
            return s;
        }
        return Table(t);
    }

    /**
     * Makes a table over the SQLite store at `path` (smbh_store_table_new:
     * created when absent; every persistent open it holds is restored,
     * disconnected; what was found is written to `*recovered` when given).
     * Only with a library built with the `store` feature. Does not throw.
     */
    static Result<Table> with_store(std::string_view path, smbh_recovered *recovered = nullptr,
                                    std::size_t shards = 0,
                                    std::size_t max_handles = 0) noexcept {
        smbh_table *t = nullptr;
        Status s(smbh_store_table_new(detail::ptr(path), path.size(), shards, max_handles, recovered,
                                      &t));
        if (!s.ok()) {
            return s;
        }
        return Table(t);
    }

    /** Takes ownership of a table from smbh_table_new (may be NULL). */
    static Table adopt(smbh_table *table) noexcept { return Table(table); }

    Table(const Table &) = delete;
    Table &operator=(const Table &) = delete;
    /** Moves ownership; `other` becomes empty (every call on it gives NULL_PARAMETER). */
    Table(Table &&other) noexcept : t_(std::exchange(other.t_, nullptr)) {}
    /** Frees the current table and takes `other`'s. */
    Table &operator=(Table &&other) noexcept {
        if (this != &other) {
            smbh_table_free(std::exchange(t_, other.t_));
            other.t_ = nullptr;
        }
        return *this;
    }
    /** Frees the table with every handle still in it. */
    ~Table() { smbh_table_free(t_); }

    /** The C table, still owned by *this (NULL after a move). */
    smbh_table *native_handle() const noexcept { return t_; }
    /** Gives up ownership: the caller must free it with smbh_table_free. */
    smbh_table *release() noexcept { return std::exchange(t_, nullptr); }
    /** True unless moved from or released. */
    explicit operator bool() const noexcept { return t_ != nullptr; }

    /** Registers an open with its share mode (smbh_open_ex) and returns its new
     *  location; SMBH_STATUS_SHARING_VIOLATION when another open of the file
     *  conflicts. `p.oplock`, `p.lease` and `p.durable` are not asked for
     *  (use open_cached). */
    Result<Location> open(const OpenParams &p) const noexcept {
        smbh_open_params raw = raw_params(p);
        raw.oplock = 0;
        raw.durable = smbh_durable_request{};
        Location loc = 0;
        smbh_status s = smbh_open_ex(t_, &raw, &loc);
        return detail::make_result(s, loc);
    }

    /** Opens asking for `p.oplock` / `p.lease` and `p.durable`
     *  (smbh_open_cached). OK: `out` holds what was granted (`out.durable`,
     *  `out.replayed`); BREAK_PENDING: `out.pending` names the open, which
     *  completes through the completion hook. */
    Status open_cached(const OpenParams &p, smbh_opened &out) const noexcept {
        smbh_open_params raw = raw_params(p);
        return Status(smbh_open_cached(t_, &raw, &out));
    }

    /** Acknowledges a lease break (smbh_ack_lease_break); the new state. */
    Result<std::uint32_t> ack_lease_break(const std::uint8_t (&client_guid)[16],
                                          const std::uint8_t (&key)[16],
                                          std::uint32_t state) const noexcept {
        std::uint32_t out = 0;
        smbh_status s = smbh_ack_lease_break(t_, client_guid, key, state, &out);
        return detail::make_result(s, out);
    }

    /** Acknowledges an oplock break with level 1 (II) or 0 (smbh_ack_oplock_break). */
    Result<std::uint8_t> ack_oplock_break(Location location, std::uint8_t level) const noexcept {
        std::uint8_t out = 0;
        smbh_status s = smbh_ack_oplock_break(t_, location, level, &out);
        return detail::make_result(s, out);
    }

    /** Breaks other holders' read caching for a write through `location`. */
    Status break_for_write(Location location) const noexcept {
        return Status(smbh_break_for_write(t_, location));
    }

    /** Installs the break hook (a C function and its context; see smbh_set_break_hook). */
    Status set_break_hook(smbh_break_hook hook, void *context) const noexcept {
        return Status(smbh_set_break_hook(t_, hook, context));
    }

    /** Installs the completion hook (see smbh_set_completion_hook). */
    Status set_completion_hook(smbh_completion_hook hook, void *context) const noexcept {
        return Status(smbh_set_completion_hook(t_, hook, context));
    }

private:
    static smbh_open_params raw_params(const OpenParams &p) noexcept {
        smbh_open_params raw{};
        raw.size = sizeof raw;
        raw.file_number = p.file_number;
        raw.path = detail::ptr(p.path);
        raw.path_len = p.path.size();
        raw.owner = detail::ptr(p.owner);
        raw.owner_len = p.owner.size();
        raw.access_mask = p.access_mask;
        raw.share_access = p.share_access;
        raw.directory = p.kind == Kind::directory;
        raw.tree = p.tree;
        raw.delete_on_close = p.delete_on_close;
        raw.oplock = p.oplock;
        raw.overwrite = p.overwrite;
        raw.lease = p.lease;
        raw.durable = p.durable;
        return raw;
    }

public:

    /** Takes byte-range locks, all or none (smbh_lock); returns the handle's new
     *  lock count. On LOCK_NOT_GRANTED, INVALID_LOCK_RANGE or TOO_MANY_LOCKS,
     *  `*failed_index` (when given) is the failing element; otherwise it is
     *  left alone. */
    Result<std::uint32_t> lock(Location location, const std::vector<LockElement> &elements,
                               std::size_t *failed_index = nullptr) const noexcept {
        std::uint32_t count = 0;
        std::size_t failed = 0;
        smbh_status s = smbh_lock(t_, location, elements.data() ? elements.data() : &empty_lock_,
                                  elements.size(), &count, &failed);
        if (failed_index != nullptr &&
            (s == SMBH_STATUS_LOCK_NOT_GRANTED || s == SMBH_STATUS_INVALID_LOCK_RANGE ||
             s == SMBH_STATUS_TOO_MANY_LOCKS)) {
            *failed_index = failed;
        }
        return detail::make_result(s, count);
    }

    /** Removes one lock per range, in order (smbh_unlock); returns the new lock
     *  count. On RANGE_NOT_LOCKED, `*failed_index` (when given) is the range
     *  that was not locked; the ranges before it were unlocked. */
    Result<std::uint32_t> unlock(Location location, const std::vector<LockRange> &ranges,
                                 std::size_t *failed_index = nullptr) const noexcept {
        std::uint32_t count = 0;
        std::size_t failed = 0;
        smbh_status s = smbh_unlock(t_, location, ranges.data() ? ranges.data() : &empty_range_,
                                    ranges.size(), &count, &failed);
        if (failed_index != nullptr && s == SMBH_STATUS_RANGE_NOT_LOCKED) {
            *failed_index = failed;
        }
        return detail::make_result(s, count);
    }

    /** Checks a read or write against the file's locks (smbh_check_io):
     *  FILE_LOCK_CONFLICT when a lock forbids it. */
    Status check_io(Location location, std::uint64_t offset, std::uint64_t length,
                    IoKind kind) const noexcept {
        return Status(smbh_check_io(t_, location, offset, length,
                                    static_cast<std::uint32_t>(kind)));
    }

    /** Installs (or with nullptr removes) the C unlock hook (smbh_set_unlock_hook):
     *  called with `context` and a file number, on the releasing thread, with
     *  no table lock held, after locks of that file were released. Returns
     *  once no call of the previous hook runs on another thread, so its
     *  context may then be freed. */
    Status set_unlock_hook(smbh_unlock_hook hook, void *context) const noexcept {
        return Status(smbh_set_unlock_hook(t_, hook, context));
    }

    /** A copy of one handle's record, path included (smbh_get); NOT_FOUND when closed. */
    Result<Handle> get(Location location) const {
        std::optional<Handle> out;
        auto copy = [&out](const HandleView &h) { out = h.to_owned(); };
        detail::Visit<decltype(copy)> v{&copy};
        Status s(smbh_get(t_, location, &detail::Visit<decltype(copy)>::call, &v));
        v.rethrow();
        if (!s.ok()) {
            return s;
        }
        return std::move(*out);
    }

    /** Adds `delta` to the handle's byte-range lock count; returns the new count. */
    Result<std::uint32_t> adjust_byte_range_locks(Location location, std::int64_t delta) const
        noexcept {
        std::uint32_t count = 0;
        smbh_status s = smbh_adjust_byte_range_locks(t_, location, delta, &count);
        return detail::make_result(s, count);
    }

    /** Sets the path of every open of `file`; returns how many were renamed. */
    Result<std::size_t> rename_file(FileNumber file, std::string_view path) const noexcept {
        std::size_t renamed = 0;
        smbh_status s = smbh_rename_file(t_, file, detail::ptr(path), path.size(), &renamed);
        return detail::make_result(s, renamed);
    }

    /** Closes one handle: OK, or NOT_FOUND / INVALID_LOCATION. */
    Status close(Location location) const noexcept { return Status(smbh_close(t_, location)); }

    /** Closes one handle (smbh_close_ex); the value is true when the server
     *  must now delete the file (its last close, and it was delete-pending). */
    Result<bool> close_reporting_delete(Location location) const noexcept {
        bool delete_file = false;
        smbh_status s = smbh_close_ex(t_, location, &delete_file);
        return detail::make_result(s, delete_file);
    }

    /** Sets or clears the file's delete-pending state through a handle with
     *  DELETE access (smbh_set_delete_pending): FileDispositionInformation. */
    Status set_delete_pending(Location location, bool on) const noexcept {
        return Status(smbh_set_delete_pending(t_, location, on));
    }

    /**
     * Closes `count` handles; returns one status per location, in order
     * (a failed Result means the batch did not run).
     */
    Result<std::vector<Status>> close_batch(const Location *locations, std::size_t count) const {
        // The C ABI refuses NULL arrays even for count 0; an empty vector's
        // data() may be NULL.
        static const Location no_location = 0;
        smbh_status no_status = SMBH_STATUS_OK;
        std::vector<smbh_status> codes(count);
        Status s(smbh_close_batch(t_, count != 0 ? locations : &no_location, count,
                                  count != 0 ? codes.data() : &no_status));
        if (!s.ok()) {
            return s;
        }
        std::vector<Status> out;
        out.reserve(count);
        for (smbh_status c : codes) {
            out.emplace_back(c);
        }
        return Result<std::vector<Status>>(std::move(out));
    }
    /** Closes every location of `locations`; see the pointer overload. */
    Result<std::vector<Status>> close_batch(const std::vector<Location> &locations) const {
        return close_batch(locations.data(), locations.size());
    }

    /**
     * Lists one page, calling `visit(const HandleView &)` once per handle
     * with no table lock held (it may call this table, even close the
     * handle). `visit` returns void (go on) or bool (false stops the page).
     * Returns the cursor of the next page (kCursorDone after the last).
     * An exception thrown by `visit` stops the listing and is rethrown here.
     */
    template <class F>
    Result<Cursor> list(const ListQuery &query, F &&visit) const {
        smbh_list_query q = query.raw();
        std::remove_reference_t<F> &f = visit;
        detail::Visit<std::remove_reference_t<F>> v{&f};
        Cursor next = kCursorDone;
        smbh_status s =
            smbh_list(t_, &q, &detail::Visit<std::remove_reference_t<F>>::call, &v, &next);
        v.rethrow();
        return detail::make_result(s, next);
    }

    /**
     * Walks every page from `query.after` to the end, calling `visit` as
     * list() does; stops early (with OK) when `visit` returns false.
     */
    template <class F>
    Result<void> for_each(ListQuery query, F &&visit) const {
        bool stopped = false;
        auto wrapped = [&](const HandleView &h) -> bool {
            if constexpr (std::is_same_v<std::invoke_result_t<F &, const HandleView &>, void>) {
                visit(h);
                return true;
            } else {
                stopped = !static_cast<bool>(visit(h));
                return !stopped;
            }
        };
        while (query.after != kCursorDone) {
            Result<Cursor> next = list(query, wrapped);
            if (!next.ok()) {
                return next.status();
            }
            if (stopped) {
                break;
            }
            query.after = *next;
        }
        return Result<void>();
    }

    /** One page as the JSON body of GET /v1/smb/files (smbh_list_json). */
    Result<JsonPage> list_json(const ListQuery &query) const noexcept {
        smbh_list_query q = query.raw();
        char *json = nullptr;
        std::size_t len = 0;
        Cursor next = kCursorDone;
        smbh_status s = smbh_list_json(t_, &q, &json, &len, &next);
        if (s != SMBH_STATUS_OK) {
            return Status(s);
        }
        return JsonPage{String(json, len), next};
    }

    /** Answers POST /v1/smb/files/close: request body in, response body out. */
    Result<String> close_batch_json(std::string_view body) const noexcept {
        char *response = nullptr;
        std::size_t len = 0;
        smbh_status s = smbh_close_batch_json(t_, detail::ptr(body), body.size(), &response, &len);
        if (s != SMBH_STATUS_OK) {
            return Status(s);
        }
        return String(response, len);
    }

    /** Registers a session (smbh_session_setup) and returns its id. */
    Result<SessionId> session_setup(const SessionParams &p) const noexcept {
        smbh_session_params raw{};
        raw.size = sizeof raw;
        raw.smb_session_id = p.smb_session_id;
        raw.user_sid = detail::ptr(p.user_sid);
        raw.user_sid_len = p.user_sid.size();
        raw.user_name = detail::ptr(p.user_name);
        raw.user_name_len = p.user_name.size();
        raw.domain = p.domain;
        raw.client_address = detail::ptr(p.client_address);
        raw.client_address_len = p.client_address.size();
        raw.guest = p.guest;
        raw.encrypted = p.encrypted;
        raw.dialect = p.dialect;
        SessionId id = 0;
        smbh_status s = smbh_session_setup(t_, &raw, &id);
        return detail::make_result(s, id);
    }

    /** Connects a session to a share (smbh_tree_connect). */
    Result<TreeId> tree_connect(SessionId session, std::string_view share) const noexcept {
        TreeId id = 0;
        smbh_status s = smbh_tree_connect(t_, session, detail::ptr(share), share.size(), &id);
        return detail::make_result(s, id);
    }

    /** Records activity on a session (smbh_touch). */
    Status touch(SessionId session) const noexcept { return Status(smbh_touch(t_, session)); }

    /** Disconnects a tree, closing its handles (smbh_tree_disconnect). */
    Result<CloseCounts> tree_disconnect(TreeId tree) const noexcept {
        CloseCounts n{};
        smbh_status s = smbh_tree_disconnect(t_, tree, nullptr, nullptr, &n);
        return detail::make_result(s, n);
    }

    /** Logs a session off, closing every handle of it (smbh_logoff). */
    Result<CloseCounts> logoff(SessionId session) const noexcept {
        CloseCounts n{};
        smbh_status s = smbh_logoff(t_, session, nullptr, nullptr, &n);
        return detail::make_result(s, n);
    }

    /** The session's connection dropped without a logoff (smbh_disconnect):
     *  its durable handles are kept, disconnected, until their timeout; the
     *  others are closed. */
    Result<DisconnectCounts> disconnect(SessionId session) const noexcept {
        DisconnectCounts n{};
        smbh_status s = smbh_disconnect(t_, session, nullptr, nullptr, &n);
        return detail::make_result(s, n);
    }

    /** Takes a disconnected durable handle back (smbh_reconnect):
     *  NO_DURABLE_OPEN when none matches, ACCESS_DENIED for another owner,
     *  TREE_DELETED for a dead tree. The old location is stale afterwards. */
    Result<Reconnected> reconnect(const ReconnectParams &p) const noexcept {
        smbh_reconnect_params raw{};
        raw.size = sizeof raw;
        raw.persistent_id = p.persistent_id;
        raw.tree = p.tree;
        raw.owner = detail::ptr(p.owner);
        raw.owner_len = p.owner.size();
        copy_guid(raw.client_guid, p.client_guid);
        raw.version = p.create_guid ? SMBH_DURABLE_V2 : SMBH_DURABLE_V1;
        if (p.create_guid) {
            copy_guid(raw.create_guid, *p.create_guid);
        }
        raw.has_lease_key = p.lease_key.has_value();
        if (p.lease_key) {
            copy_guid(raw.lease_key, *p.lease_key);
        }
        raw.persistent = p.persistent;
        Reconnected out{};
        smbh_status s = smbh_reconnect(t_, &raw, &out);
        return detail::make_result(s, out);
    }

    /** Runs the table's due timers (smbh_run_timers: break timeouts and
     *  durable expiry); the milliseconds until the next deadline, nullopt
     *  when none. Call it again then from the server's event loop. */
    Result<std::optional<std::uint64_t>> run_timers() const noexcept {
        std::uint64_t next = UINT64_MAX;
        smbh_status s = smbh_run_timers(t_, &next);
        return detail::make_result(s, deadline(next));
    }

    /** Closes the expired disconnected durable handles (smbh_expire_durable);
     *  how many it closed. */
    Result<std::size_t> expire_durable() const noexcept {
        std::size_t closed = 0;
        std::uint64_t next = 0;
        smbh_status s = smbh_expire_durable(t_, &closed, &next);
        return detail::make_result(s, closed);
    }

    /** The milliseconds until a disconnected durable handle expires
     *  (smbh_next_durable_deadline), nullopt when none is disconnected. */
    Result<std::optional<std::uint64_t>> next_durable_deadline() const noexcept {
        std::uint64_t ms = UINT64_MAX;
        smbh_status s = smbh_next_durable_deadline(t_, &ms);
        return detail::make_result(s, deadline(ms));
    }

    /** Closes every handle a selector names (smbh_close_selected). */
    Result<CloseCounts> close_selected(const Selector &sel) const noexcept {
        smbh_selector raw{sel.kind, sel.id, detail::ptr(sel.text), sel.text.size()};
        CloseCounts n{};
        smbh_status s = smbh_close_selected(t_, &raw, nullptr, nullptr, &n);
        return detail::make_result(s, n);
    }

    /** The number of open handles. */
    Result<std::size_t> size() const noexcept {
        std::size_t n = 0;
        smbh_status s = smbh_len(t_, &n);
        return detail::make_result(s, n);
    }

private:
    explicit Table(smbh_table *t) noexcept : t_(t) {}

    static void copy_guid(std::uint8_t (&to)[16], const Guid &from) noexcept {
        for (std::size_t i = 0; i < from.size(); i++) {
            to[i] = from[i];
        }
    }

    /** A C deadline in milliseconds, UINT64_MAX meaning none. */
    static std::optional<std::uint64_t> deadline(std::uint64_t ms) noexcept {
        if (ms == UINT64_MAX) {
            return std::nullopt;
        }
        return ms;
    }

    // Non-NULL stand-ins for an empty vector's data() (the C ABI refuses NULL).
    static inline const LockElement empty_lock_{};
    static inline const LockRange empty_range_{};

    smbh_table *t_ = nullptr;
};

/** A location's text form: 16 lowercase hex digits (smbh_location_format). */
inline Result<std::string> format_location(Location location) {
    char buf[SMBH_LOCATION_TEXT_LEN + 1] = {};
    smbh_status s = smbh_location_format(location, buf, sizeof buf);
    if (s != SMBH_STATUS_OK) {
        return Status(s);
    }
    return std::string(buf, SMBH_LOCATION_TEXT_LEN);
}

/** Parses a location's text form, 1 to 16 hex digits (smbh_location_parse). */
inline Result<Location> parse_location(std::string_view text) noexcept {
    Location loc = 0;
    smbh_status s = smbh_location_parse(detail::ptr(text), text.size(), &loc);
    return detail::make_result(s, loc);
}

/** Parses a cursor's text form, as in `paging.next` (smbh_cursor_parse). */
inline Result<Cursor> parse_cursor(std::string_view text) noexcept {
    Cursor c = 0;
    smbh_status s = smbh_cursor_parse(detail::ptr(text), text.size(), &c);
    return detail::make_result(s, c);
}

static_assert(!std::is_copy_constructible_v<Table> && std::is_nothrow_move_constructible_v<Table>,
              "Table is move-only");
static_assert(!std::is_copy_constructible_v<String> && std::is_nothrow_move_constructible_v<String>,
              "String is move-only");

}  // namespace smbh

#undef SMBH_HPP_EXCEPTIONS

#endif /* SMB_HANDLES_HPP */
