// Tests of the C++17 wrapper include/smb_handles.hpp, built by
// scripts/test-install.sh against an installed prefix (pkg-config) under
// AddressSanitizer and UndefinedBehaviorSanitizer. Every check aborts with a
// message on failure; the last line printed is "cpp_wrapper_test: ok".

#include <smb_handles.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                         #cond);                                                 \
            std::abort();                                                        \
        }                                                                        \
    } while (0)

namespace {

using smbh::Location;

static_assert(!std::is_copy_constructible_v<smbh::Table>, "Table is move-only");
static_assert(!std::is_copy_assignable_v<smbh::Table>, "Table is move-only");
static_assert(std::is_nothrow_move_assignable_v<smbh::Table>, "Table moves without throwing");
static_assert(!std::is_copy_constructible_v<smbh::String>, "String is move-only");

constexpr std::uint32_t kRead = smbh::access::file_read_data | smbh::access::synchronize;

Location must_open(const smbh::Table &t, smbh::FileNumber file, std::string_view path,
                   std::string_view owner) {
    smbh::Result<Location> r = t.open({file, path, owner, kRead});
    if (!r) {
        std::fprintf(stderr, "open failed: %s\n", r.status().message());
        std::abort();
    }
    return *r;
}

void construction_and_errors() {
    // 300 shards is above the limit: a status from create(), an exception from the constructor.
    smbh::Result<smbh::Table> bad = smbh::Table::create(300, 0);
    CHECK(!bad.ok());
    CHECK(bad.status() == SMBH_STATUS_INVALID_ARGUMENT);
    CHECK(std::string(bad.status().message()).size() > 0);
    bool threw = false;
    try {
        smbh::Table t(300, 0);
    } catch (const smbh::error &e) {
        threw = true;
        CHECK(e.status() == SMBH_STATUS_INVALID_ARGUMENT);
        CHECK(std::string(e.what()) == bad.status().message());
    }
    CHECK(threw);

    smbh::Result<smbh::Table> good = smbh::Table::create(4, 3);
    CHECK(good.ok());
    smbh::Table t = std::move(good).value();
    CHECK(static_cast<bool>(t));

    // A NUL inside a path is refused; value() on the failed result throws.
    using namespace std::string_literals;
    std::string with_nul = "/a\0b"s;
    smbh::Result<Location> r = t.open({1, with_nul, "owner", kRead});
    CHECK(r.status() == SMBH_STATUS_CONTAINS_NUL);
    CHECK(r.value_or(Location{7}) == 7);
    threw = false;
    try {
        (void)r.value();
    } catch (const smbh::error &e) {
        threw = e.status() == SMBH_STATUS_CONTAINS_NUL;
    }
    CHECK(threw);

    // Default (null-data) string_views are empty strings, not NULL parameters.
    smbh::OpenParams empty;
    empty.file_number = 9;
    empty.access_mask = kRead;
    CHECK(empty.path.data() == nullptr);
    smbh::Result<Location> e = t.open(empty);
    CHECK(e.ok());
    smbh::Result<smbh::Handle> eh = t.get(*e);
    CHECK(eh.ok());
    CHECK(eh->owner.empty());
    CHECK(eh->path.has_value() && eh->path->empty());

    // max_handles 3: the fourth open is TABLE_FULL, and the table is unchanged.
    must_open(t, 2, "/b", "o");
    must_open(t, 3, "/c", "o");
    smbh::Result<Location> full = t.open({4, "/d", "o", kRead});
    CHECK(full.status() == SMBH_STATUS_TABLE_FULL);
    CHECK(t.size().value() == 3);
}

void operations() {
    smbh::Table t;
    const std::string path = "/projects/q3/report.xlsx";
    Location a = must_open(t, 4242, path, "S-1-5-21-1-1104");
    Location b = must_open(t, 4242, path, "S-1-5-21-1-1105");
    Location d = t.open({17, "/projects", "S-1-5-21-1-1106", smbh::access::file_list_directory,
                         smbh::share::all, smbh::Kind::directory})
                     .value();
    CHECK(a != b && a != 0 && b != 0);
    CHECK(t.size().value() == 3);

    smbh::Handle h = t.get(a).value();
    CHECK(h.file_number == 4242);
    CHECK(h.location == a);
    CHECK(h.version == 1);
    CHECK(h.access_mask == kRead);
    CHECK(h.owner == "S-1-5-21-1-1104");
    CHECK(h.path && *h.path == path);
    CHECK(!h.directory);
    CHECK(t.get(d).value().directory);

    CHECK(t.adjust_byte_range_locks(b, 2).value() == 2);
    CHECK(t.adjust_byte_range_locks(b, -3).status() == SMBH_STATUS_LOCK_COUNT_OUT_OF_RANGE);
    CHECK(t.get(b)->num_byte_range_locks == 2);
    CHECK(t.get(b)->version == 2);

    CHECK(t.rename_file(4242, "/projects/q4/report.xlsx").value() == 2);
    CHECK(*t.get(a)->path == "/projects/q4/report.xlsx");

    // A page of one, then the rest: the bool visitor stops the page.
    smbh::ListQuery q;
    q.limit = 10;
    q.resolve_paths = true;
    std::vector<Location> seen;
    smbh::Result<smbh::Cursor> next = t.list(q, [&](const smbh::HandleView &v) {
        seen.push_back(v.location());
        CHECK(v.path().has_value());
        return false;
    });
    CHECK(next.ok());
    CHECK(seen.size() == 1);
    CHECK(*next != smbh::kCursorDone);
    q.after = *next;
    next = t.list(q, [&](const smbh::HandleView &v) { seen.push_back(v.location()); });
    CHECK(next.ok() && *next == smbh::kCursorDone);
    CHECK(seen.size() == 3);

    // By file, without paths, over every page.
    smbh::ListQuery by_file;
    by_file.file_number = 4242;
    by_file.limit = 1;
    int count = 0;
    CHECK(t.for_each(by_file, [&](const smbh::HandleView &v) {
               CHECK(v.file_number() == 4242);
               CHECK(!v.path().has_value());
               ++count;
           }).ok());
    CHECK(count == 2);
    smbh::ListQuery zero;
    zero.limit = 0;
    CHECK(t.list(zero, [](const smbh::HandleView &) {}).status() == SMBH_STATUS_INVALID_ARGUMENT);

    // An exception from the visitor stops the listing and reaches the caller;
    // the table stays usable.
    int calls = 0;
    bool caught = false;
    try {
        (void)t.list({}, [&](const smbh::HandleView &) {
            ++calls;
            throw std::runtime_error("from the visitor");
        });
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "from the visitor";
    }
    CHECK(caught);
    CHECK(calls == 1);
    CHECK(t.size().value() == 3);

    // JSON: an owned string, freed by its destructor (ASan's leak check).
    smbh::Result<smbh::JsonPage> page = t.list_json(smbh::ListQuery{});
    CHECK(page.ok());
    CHECK(page->json.view().find("\"file_handles\"") != std::string_view::npos);
    CHECK(page->json.view().find("S-1-5-21-1-1106") != std::string_view::npos);
    CHECK(page->next == smbh::kCursorDone);
    CHECK(page->json.c_str()[page->json.size()] == '\0');
    smbh::String moved = std::move(page->json);
    CHECK(page->json.empty() && page->json.view().empty());
    CHECK(!moved.empty());
    char *raw = moved.release();
    CHECK(moved.empty());
    smbh_string_free(raw);

    // Locations as text, and the close request body.
    std::string text = smbh::format_location(a).value();
    CHECK(text.size() == SMBH_LOCATION_TEXT_LEN);
    CHECK(smbh::parse_location(text).value() == a);
    CHECK(smbh::parse_location("0x1").status() == SMBH_STATUS_INVALID_LOCATION);
    CHECK(smbh::parse_location("").status() == SMBH_STATUS_INVALID_LOCATION);
    CHECK(smbh::format_location(0).status() == SMBH_STATUS_INVALID_LOCATION);
    CHECK(smbh::parse_cursor("not a cursor!").status() == SMBH_STATUS_INVALID_CURSOR);

    std::string body = "[{\"handle_info\":{\"location\":\"" + text +
                       "\"}},{\"handle_info\":{\"location\":\"zz\"}},{}]";
    smbh::Result<smbh::String> resp = t.close_batch_json(body);
    CHECK(resp.ok());
    CHECK(resp->view() ==
          "[{\"error_message\":\"\"},{\"error_message\":\"invalid location\"},"
          "{\"error_message\":\"missing location\"}]");
    CHECK(t.close_batch_json("{}").status() == SMBH_STATUS_INVALID_REQUEST);
    CHECK(t.get(a).status() == SMBH_STATUS_NOT_FOUND);

    // Closing: a stale location is a status, never another handle.
    CHECK(t.close(a) == SMBH_STATUS_NOT_FOUND);
    CHECK(t.close(0) == SMBH_STATUS_INVALID_LOCATION);
    std::vector<Location> batch{b, b, d};
    smbh::Result<std::vector<smbh::Status>> results = t.close_batch(batch);
    CHECK(results.ok() && results->size() == 3);
    CHECK((*results)[0].ok());
    CHECK((*results)[1] == SMBH_STATUS_NOT_FOUND);
    CHECK((*results)[2].ok());
    CHECK(t.close_batch(std::vector<Location>{}).value().empty());
    CHECK(t.size().value() == 0);
}

void moves() {
    smbh::Table a;
    Location l = must_open(a, 1, "/x", "o");
    smbh::Table b = std::move(a);
    CHECK(!a && b);
    // A moved-from table is empty: calls give NULL_PARAMETER, never a crash.
    CHECK(a.size().status() == SMBH_STATUS_NULL_PARAMETER);
    CHECK(a.close(l) == SMBH_STATUS_NULL_PARAMETER);
    CHECK(b.get(l).ok());

    smbh::Table c(1, 0);
    must_open(c, 2, "/y", "o");
    c = std::move(b);  // frees c's old table (with its handle) and takes b's
    CHECK(c.get(l).ok());
    CHECK(c.size().value() == 1);

    smbh_table *raw = c.release();
    CHECK(!c);
    smbh::Table adopted = smbh::Table::adopt(raw);
    CHECK(adopted.size().value() == 1);
}

// Several threads open, adjust, list and close on one table; concurrent
// closes of one location succeed exactly once.
void threads() {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2000;
    smbh::Table t(8, 0);
    std::vector<Location> shared(kPerThread);
    for (int i = 0; i < kPerThread; ++i) {
        shared[static_cast<std::size_t>(i)] =
            must_open(t, static_cast<smbh::FileNumber>(i % 64), "/shared", "s");
    }
    std::atomic<int> shared_closed{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < kThreads; ++w) {
        workers.emplace_back([&, w] {
            std::vector<Location> mine;
            const std::string owner = "S-1-5-21-1-" + std::to_string(1100 + w);
            for (int i = 0; i < kPerThread; ++i) {
                smbh::FileNumber file = 1000 + static_cast<smbh::FileNumber>(w * kPerThread + i);
                smbh::Result<Location> r = t.open({file, "/w/" + std::to_string(i), owner, kRead});
                if (!r) {
                    ++failures;
                    continue;
                }
                mine.push_back(*r);
                if (t.adjust_byte_range_locks(*r, 1).value_or(0) != 1) {
                    ++failures;
                }
                if (i % 500 == 0) {
                    std::size_t listed = 0;
                    smbh::ListQuery q;
                    q.limit = 700;
                    if (!t.for_each(q, [&](const smbh::HandleView &v) {
                              listed += v.owner().empty() ? 0 : 1;
                          })) {
                        ++failures;
                    }
                    if (listed == 0) {
                        ++failures;
                    }
                }
            }
            // Every thread tries to close every shared handle.
            for (Location l : shared) {
                smbh::Status s = t.close(l);
                if (s.ok()) {
                    ++shared_closed;
                } else if (s != SMBH_STATUS_NOT_FOUND) {
                    ++failures;
                }
            }
            // Close half of our own, one at a time and as a batch.
            std::vector<Location> batch(mine.begin(), mine.begin() + kPerThread / 4);
            for (Location l : batch) {
                if (!t.get(l)) {
                    ++failures;
                }
            }
            smbh::Result<std::vector<smbh::Status>> rs = t.close_batch(batch);
            if (!rs) {
                ++failures;
            } else {
                for (smbh::Status s : *rs) {
                    failures += s.ok() ? 0 : 1;
                }
            }
            for (std::size_t i = kPerThread / 4; i < kPerThread / 2; ++i) {
                failures += t.close(mine[i]).ok() ? 0 : 1;
            }
        });
    }
    for (std::thread &th : workers) {
        th.join();
    }
    CHECK(failures.load() == 0);
    CHECK(shared_closed.load() == kPerThread);
    CHECK(t.size().value() == static_cast<std::size_t>(kThreads * kPerThread / 2));
    std::size_t listed = 0;
    CHECK(t.for_each({}, [&](const smbh::HandleView &v) {
               CHECK(v.num_byte_range_locks() == 1);
               ++listed;
           }).ok());
    CHECK(listed == static_cast<std::size_t>(kThreads * kPerThread / 2));
}

// Share modes and byte-range locks through the wrapper.
int unlock_calls = 0;
extern "C" void count_unlock(void *context, std::uint64_t file) {
    CHECK(context == &unlock_calls && file == 9);
    ++unlock_calls;
}

void shares_and_locks() {
    smbh::Table t = smbh::Table::create().value();
    namespace acc = smbh::access;
    smbh::OpenParams reader{9, "/f", "alice", acc::file_read_data, smbh::share::read};
    smbh::Location a = t.open(reader).value();
    smbh::OpenParams writer{9, "/f", "bob", acc::file_write_data | acc::file_read_data};
    smbh::Result<smbh::Location> refused = t.open(writer);
    CHECK(!refused && refused.status() == SMBH_STATUS_SHARING_VIOLATION);
    CHECK(refused.status().nt_status() == 0xC0000043u);
    smbh::OpenParams other{9, "/f", "bob", acc::file_read_data | acc::file_write_data,
                           smbh::share::all};
    writer.share_access = smbh::share::all;
    CHECK(!t.open(writer));  // alice shares read only: still refused
    smbh::OpenParams stat{9, "/f", "carol", acc::file_read_attributes, 0};
    smbh::Location s = t.open(stat).value();
    CHECK(t.set_unlock_hook(count_unlock, &unlock_calls).ok());
    CHECK(t.lock(a, {{0, 100, true}, {200, 10, false}}).value() == 2);
    std::size_t failed = 99;
    smbh::Result<std::uint32_t> no = t.lock(s, {{300, 1, true}, {50, 1, false}}, &failed);
    CHECK(!no && no.status() == SMBH_STATUS_LOCK_NOT_GRANTED && failed == 1);
    CHECK(t.check_io(s, 50, 1, smbh::IoKind::read) == SMBH_STATUS_FILE_LOCK_CONFLICT);
    CHECK(t.check_io(s, 150, 1, smbh::IoKind::read).ok());
    CHECK(t.lock(a, {}).value() == 2);
    CHECK(t.unlock(a, {{200, 10}}).value() == 1);
    CHECK(unlock_calls == 1);
    smbh::Result<std::uint32_t> miss = t.unlock(a, {{7, 7}}, &failed);
    CHECK(!miss && miss.status() == SMBH_STATUS_RANGE_NOT_LOCKED && failed == 0);
    CHECK(t.close(a).ok());  // releases the last lock
    CHECK(unlock_calls == 2);
    CHECK(t.open(other).ok());
    CHECK(t.set_unlock_hook(nullptr, nullptr).ok());
    // A share mode given in fifth place is the share mode, never the
    // directory flag (an integer cannot become a Kind).
    CHECK(!t.get(a).ok() || !t.get(a).value().directory);
    smbh::Location r = t.open({10, "/g", "dave", acc::file_read_data, smbh::share::read}).value();
    CHECK(!t.get(r).value().directory);
    CHECK(t.lock(r, {{0, 1, true}}).ok());
    CHECK(!t.open({10, "/g", "erin", acc::file_write_data, smbh::share::all}));
    CHECK(t.close(r).ok());
    // Directories: no byte ranges.
    smbh::Location dir =
        t.open({11, "/dir", "dave", acc::file_list_directory, smbh::share::all, smbh::Kind::directory})
            .value();
    failed = 99;
    smbh::Result<std::uint32_t> dl = t.lock(dir, {{0, 1, true}}, &failed);
    CHECK(dl.status() == SMBH_STATUS_DIRECTORY_HANDLE && failed == 99);  // untouched
    CHECK(dl.status().nt_status() == 0xC0000010u);
    CHECK(t.close(dir).ok());
}

// What must not compile: an integer as a Kind, and a view of a temporary
// String (its text is freed at the end of the statement).
static_assert(!std::is_convertible_v<int, smbh::Kind>);
static_assert(!std::is_constructible_v<smbh::Kind, std::uint32_t>);
static_assert(std::is_convertible_v<const smbh::String &, std::string_view>);
static_assert(!std::is_convertible_v<smbh::String &&, std::string_view>);
// value() and * on a temporary Result return the value itself, not a
// reference into the temporary.
static_assert(std::is_same_v<decltype(std::declval<smbh::Result<int>>().value()), int>);
static_assert(std::is_same_v<decltype(*std::declval<smbh::Result<int>>()), int>);

void temporaries() {
    smbh::Table t;
    std::vector<Location> locs;
    for (int i = 0; i < 3; i++) {
        locs.push_back(t.open({20, "/t", "o", kRead}).value());
    }
    locs.push_back(12345);
    int ok = 0, missing = 0;
    // The loop keeps the vector alive; a reference into the temporary
    // Result would be used after it is destroyed (ASan catches that).
    for (smbh::Status st : t.close_batch(locs).value()) {
        ok += st.ok();
        missing += st == SMBH_STATUS_NOT_FOUND || st == SMBH_STATUS_INVALID_LOCATION;
    }
    CHECK(ok == 3 && missing == 1);
}

// Sessions: an open inside a tree connect, closed by a tree disconnect, a
// selector and a logoff; stale ids refused.
void sessions() {
    smbh::Table t = smbh::Table::create().value();
    namespace acc = smbh::access;
    smbh::SessionId s = t.session_setup({7, "S-1-5-21-1", "alice", "10.0.0.7"}).value();
    smbh::TreeId fin = t.tree_connect(s, "finance").value();
    smbh::TreeId eng = t.tree_connect(s, "eng").value();
    CHECK(t.touch(s).ok());
    smbh::OpenParams in_fin{1, "/fin/q3.ods", "alice", acc::file_read_data};
    in_fin.tree = fin;
    smbh::Location a = t.open(in_fin).value();
    smbh::OpenParams in_eng{2, "/src/a.c", "alice", acc::file_read_data};
    in_eng.tree = eng;
    t.open(in_eng).value();
    t.open(in_eng).value();
    smbh::CloseCounts n = t.tree_disconnect(fin).value();
    CHECK(n.closed == 1 && n.failed == 0);
    CHECK(t.close(a).code() == SMBH_STATUS_NOT_FOUND);
    CHECK(t.open(in_fin).status().code() == SMBH_STATUS_TREE_DELETED);
    n = t.close_selected({SMBH_SELECT_PATH_PREFIX, 0, "/src/a.c"}).value();
    CHECK(n.closed == 2);
    t.open(in_eng).value();
    n = t.logoff(s).value();
    CHECK(n.closed == 1);
    CHECK(t.logoff(s).status().code() == SMBH_STATUS_SESSION_DELETED);
    CHECK(t.size().value() == 0);
    CHECK(t.session_setup({7, "S-1", "x", "not an ip"}).status().code() ==
          SMBH_STATUS_INVALID_ARGUMENT);
}

// Delete-on-close: pending after the flagged handle closes, new opens
// refused, the last close reports the delete; the disposition cleared.
void delete_pending() {
    smbh::Table t = smbh::Table::create().value();
    namespace acc = smbh::access;
    smbh::OpenParams doc{5, "/tmp/x.tmp", "bob", acc::file_read_data | acc::delete_};
    doc.delete_on_close = true;
    smbh::Location a = t.open(doc).value();
    smbh::Location b = t.open({5, "/tmp/x.tmp", "eve", acc::file_read_data}).value();
    CHECK(t.get(a).value().delete_on_close);
    CHECK(!t.get(b).value().delete_pending);
    CHECK(!t.close_reporting_delete(a).value());
    CHECK(t.get(b).value().delete_pending);
    CHECK(t.open({5, "/tmp/x.tmp", "eve", acc::file_read_data}).status().code() ==
          SMBH_STATUS_DELETE_PENDING);
    CHECK(t.set_delete_pending(b, false).code() == SMBH_STATUS_ACCESS_DENIED);
    CHECK(t.close_reporting_delete(b).value());
    doc.delete_on_close = false;
    a = t.open(doc).value();
    CHECK(t.set_delete_pending(a, true).ok());
    CHECK(t.set_delete_pending(a, false).ok());
    CHECK(!t.close_reporting_delete(a).value());
    CHECK(t.close_reporting_delete(a).status().code() == SMBH_STATUS_NOT_FOUND);
}

// Leases: granted, a second open waits for the break, the ack completes it.
std::size_t g_breaks = 0;
std::uint64_t g_done = 0;
void on_breaks(void *, const smbh_break *, std::size_t n) { g_breaks += n; }
void on_done(void *, std::uint64_t pending, smbh_status s, const smbh_opened *) {
    if (s == SMBH_STATUS_OK) g_done = pending;
}

void leases() {
    smbh::Table t = smbh::Table::create().value();
    CHECK(t.set_break_hook(on_breaks, nullptr).ok());
    CHECK(t.set_completion_hook(on_done, nullptr).ok());
    smbh::OpenParams a{9, "/doc.docx", "alice", smbh::access::file_read_data};
    a.oplock = SMBH_OPLOCK_LEASE;
    a.lease.client_guid[0] = 1;
    a.lease.key[0] = 2;
    a.lease.state = 7;
    smbh_opened got{};
    CHECK(t.open_cached(a, got).ok());
    CHECK(got.lease_granted && got.lease_state == 7);
    smbh::OpenParams b{9, "/doc.docx", "bob", smbh::access::file_read_data};
    CHECK(t.open_cached(b, got).code() == SMBH_STATUS_BREAK_PENDING);
    CHECK(g_breaks == 1 && got.pending != 0);
    const std::uint8_t guid[16] = {1}, key[16] = {2};
    CHECK(t.ack_lease_break(guid, key, 3).value() == 3);
    CHECK(g_done == got.pending);
    CHECK(t.ack_lease_break(guid, key, 1).status().code() == SMBH_STATUS_NOT_BREAKING);
}

}  // namespace

int main() {
    leases();
    delete_pending();
    sessions();
    construction_and_errors();
    operations();
    temporaries();
    moves();
    threads();
    shares_and_locks();
    std::printf("cpp_wrapper_test: ok\n");
    return 0;
}
