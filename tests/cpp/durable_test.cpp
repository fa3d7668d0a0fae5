// Durable handles through the C++17 wrapper include/smb_handles.hpp: a
// durable open (OpenParams::durable) granted with a batch oplock, a
// disconnect keeping it, reconnect's refusals and success, the old location
// stale, and the timers. Built by scripts/test-install.sh against an
// installed prefix under ASan/UBSan, as tests/cpp/wrapper_test.cpp is. The
// last line printed is "cpp_durable_test: ok".

#include <smb_handles.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                         #cond);                                                 \
            std::abort();                                                        \
        }                                                                        \
    } while (0)

namespace {

constexpr const char *kAlice = "S-1-5-21-1-1104";
constexpr std::uint8_t kBatch = 9;

smbh::Guid guid(std::uint8_t first) {
    smbh::Guid g{};
    g[0] = first;
    return g;
}

void durable() {
    smbh::Table t = smbh::Table::create().value();
    smbh::SessionId s = t.session_setup({1, kAlice, "alice", "10.0.0.7"}).value();
    smbh::TreeId tree = t.tree_connect(s, "projects").value();

    smbh::OpenParams p{9, "/plan.docx", kAlice, smbh::access::file_read_data};
    p.tree = tree;
    p.oplock = kBatch;
    p.durable.version = SMBH_DURABLE_V2;
    p.durable.client_guid[0] = 0xC1;
    p.durable.create_guid[0] = 0x42;
    p.durable.timeout_ms = 90000;
    smbh_opened o{};
    CHECK(t.open_cached(p, o).ok());
    CHECK(o.oplock == kBatch && o.durable.granted && o.durable.timeout_ms == 90000);
    CHECK(t.get(o.location).value().durable);

    // open() never asks for durability (nor caching).
    smbh::OpenParams plain = p;
    plain.file_number = 10;
    plain.path = "/notes.txt";
    smbh::Location other = t.open(plain).value();
    CHECK(!t.get(other).value().durable);

    CHECK(t.next_durable_deadline().value() == std::nullopt);
    smbh::DisconnectCounts n = t.disconnect(s).value();
    CHECK(n.closed == 1 && n.failed == 0 && n.kept == 1);
    CHECK(t.get(o.location).value().disconnected);
    std::optional<std::uint64_t> ms = t.next_durable_deadline().value();
    CHECK(ms && *ms <= 90000);
    CHECK(t.disconnect(s).status() == SMBH_STATUS_SESSION_DELETED);

    smbh::SessionId s2 = t.session_setup({2, kAlice, "alice", "10.0.0.8"}).value();
    smbh::TreeId tree2 = t.tree_connect(s2, "projects").value();
    smbh::ReconnectParams r;
    r.persistent_id = o.durable.persistent_id;
    r.owner = kAlice;
    r.client_guid = guid(0xC1);
    r.tree = tree2;
    r.create_guid = guid(0x43);
    CHECK(t.reconnect(r).status() == SMBH_STATUS_NO_DURABLE_OPEN);
    r.create_guid = guid(0x42);
    r.owner = "S-1-5-21-666";
    CHECK(t.reconnect(r).status() == SMBH_STATUS_ACCESS_DENIED);
    r.owner = kAlice;
    smbh::Reconnected back = t.reconnect(r).value();
    CHECK(back.location != o.location && back.oplock == kBatch && !back.has_lease);
    CHECK(back.durable.persistent_id == o.durable.persistent_id);
    CHECK(t.get(o.location).status() == SMBH_STATUS_NOT_FOUND);
    CHECK(!t.get(back.location).value().disconnected);

    CHECK(t.run_timers().value() == std::nullopt);
    CHECK(t.expire_durable().value() == 0);
    CHECK(t.logoff(s2).value().closed == 1);
    CHECK(t.size().value() == 0);

    // A moved-from table answers NULL_PARAMETER, as every call does.
    smbh::Table moved = std::move(t);
    CHECK(t.disconnect(1).status() == SMBH_STATUS_NULL_PARAMETER);  // NOLINT: use after move
    CHECK(t.reconnect(r).status() == SMBH_STATUS_NULL_PARAMETER);   // NOLINT
    CHECK(t.run_timers().status() == SMBH_STATUS_NULL_PARAMETER);   // NOLINT
}

}  // namespace

int main() {
    durable();
    std::printf("cpp_durable_test: ok\n");
    return 0;
}
