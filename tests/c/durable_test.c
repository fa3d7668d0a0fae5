/* Durable handles through the C ABI (SPEC section 15): a durable v1 open
 * with a batch oplock is granted and a plain one is not; a disconnect keeps
 * the durable handle (listed as disconnected) and closes the rest; the
 * reconnect's refusals (wrong create GUID, another owner, a dead tree, a
 * bad version, a lease key that does not match) and its success at a new
 * location, the old one stale; a v2 replay and a duplicate create GUID; a
 * lease open reconnected with its lease; an app instance takeover; expiry
 * closing a disconnected handle; the timers; NULL pointers; and a caller
 * compiled against the smbh_open_params layout before `durable`.
 * Built with -Wall -Wextra -Wpedantic -Werror and run under ASan/UBSan by
 * tests/c_abi.rs. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c11 */
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <smb_handles.h>

#include "check.h"

#define RD 0x1u
#define WR 0x2u
#define BATCH 9u
#define ALICE "S-1-5-21-7"
#define MALLORY "S-1-5-21-666"

static smbh_status setup(smbh_table *t, uint64_t smb_id, uint64_t *session, uint64_t *tree) {
    smbh_session_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.smb_session_id = smb_id;
    p.user_sid = ALICE;
    p.user_sid_len = strlen(ALICE);
    p.user_name = "alice";
    p.user_name_len = 5;
    p.domain = SMBH_DOMAIN_ACTIVE_DIRECTORY;
    p.client_address = "10.0.0.7";
    p.client_address_len = 8;
    smbh_status s = smbh_session_setup(t, &p, session);
    if (s != SMBH_STATUS_OK) return s;
    return smbh_tree_connect(t, *session, "finance", 7, tree);
}

static smbh_open_params params(uint64_t tree, uint64_t file, uint8_t oplock) {
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = file;
    p.path = "/q3.xlsx";
    p.path_len = 8;
    p.owner = ALICE;
    p.owner_len = strlen(ALICE);
    p.access_mask = RD | WR;
    p.share_access = 7;
    p.tree = tree;
    p.oplock = oplock;
    return p;
}

static smbh_reconnect_params reconnect(uint64_t id, uint64_t tree, uint8_t client) {
    smbh_reconnect_params r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.persistent_id = id;
    r.tree = tree;
    r.owner = ALICE;
    r.owner_len = strlen(ALICE);
    r.client_guid[0] = client;
    r.version = SMBH_DURABLE_V1;
    return r;
}

/* smbh_get's visitor: copies the two durable flags. */
struct flags {
    bool seen, durable, disconnected;
};
static int copy_flags(void *userdata, const smbh_handle *h) {
    struct flags *f = userdata;
    f->seen = true;
    f->durable = h->durable;
    f->disconnected = h->disconnected;
    return 0;
}

/* smbh_open_params as a caller compiled against the header before `durable`
 * was added declares it (copied from that header, fields only). */
typedef struct {
    size_t size;
    uint64_t file_number;
    const char *path;
    size_t path_len;
    const char *owner;
    size_t owner_len;
    uint32_t access_mask;
    uint32_t share_access;
    bool directory;
    uint64_t tree;
    bool delete_on_close;
    uint8_t oplock;
    bool overwrite;
    struct smbh_lease_request lease;
} params_before_durable;

/* smbh_disconnect's visitor: counts the closed handles. */
static int count_closed(void *userdata, const smbh_handle *h) {
    CHECK(!h->disconnected);
    ++*(size_t *)userdata;
    return 0;
}

static struct flags flags_of(smbh_table *t, uint64_t loc) {
    struct flags f = {false, false, false};
    smbh_status s = smbh_get(t, loc, copy_flags, &f);
    CHECK(s == SMBH_STATUS_OK || s == SMBH_STATUS_NOT_FOUND);
    return f;
}

static size_t len_of(smbh_table *t) {
    size_t n = 0;
    CHECK_OK(smbh_len(t, &n));
    return n;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int main(void) {
    smbh_table *t;
    CHECK_OK(smbh_table_new(0, 0, &t));
    uint64_t s1, t1;
    CHECK_OK(setup(t, 1, &s1, &t1));

    /* A v1 durable request with a batch oplock is granted, 60 s by default. */
    smbh_open_params p = params(t1, 7, BATCH);
    p.durable.version = SMBH_DURABLE_V1;
    p.durable.client_guid[0] = 0xC1;
    smbh_opened d;
    CHECK_OK(smbh_open_cached(t, &p, &d));
    CHECK(d.oplock == BATCH && d.durable.granted && !d.durable.persistent && !d.replayed);
    CHECK(d.durable.persistent_id == d.location && d.durable.timeout_ms == 60000);
    struct flags f = flags_of(t, d.location);
    CHECK(f.seen && f.durable && !f.disconnected);

    /* Without an oplock (smbh_open_cached) it is not; smbh_open_ex refuses
     * any durable request. */
    smbh_open_params plain = params(t1, 8, 0);
    plain.durable = p.durable;
    smbh_opened n;
    CHECK_OK(smbh_open_cached(t, &plain, &n));
    CHECK(!n.durable.granted && n.durable.persistent_id == 0 && n.oplock == 0);
    uint64_t unused = 0;
    CHECK_STATUS(smbh_open_ex(t, &plain, &unused), SMBH_STATUS_INVALID_ARGUMENT);
    plain.durable.version = 3;
    CHECK_STATUS(smbh_open_cached(t, &plain, &n), SMBH_STATUS_INVALID_ARGUMENT);

    /* A v2 durable open with a create GUID and a short timeout. */
    smbh_open_params v2 = params(t1, 9, BATCH);
    v2.path = "/q4.xlsx";
    v2.durable.version = SMBH_DURABLE_V2;
    v2.durable.client_guid[0] = 0xC1;
    v2.durable.create_guid[0] = 0x42;
    v2.durable.timeout_ms = 120000;
    v2.durable.persistent = true; /* no store: treated as durable */
    smbh_opened d2;
    CHECK_OK(smbh_open_cached(t, &v2, &d2));
    CHECK(d2.durable.granted && d2.durable.timeout_ms == 120000 && !d2.replayed);
    CHECK(!d2.durable.persistent);
    /* Replayed: the same create GUID of the same client answers that open. */
    smbh_opened again;
    CHECK_OK(smbh_open_cached(t, &v2, &again));
    CHECK(again.replayed && again.location == d2.location && again.durable.granted);
    /* Another client with that create GUID is refused. */
    smbh_open_params dup = v2;
    dup.durable.client_guid[0] = 0xC2;
    CHECK_STATUS(smbh_open_cached(t, &dup, &again), SMBH_STATUS_DUPLICATE_CREATE_GUID);
    CHECK(len_of(t) == 3);

    /* Disconnect: the two durable handles are kept, the plain one closed. */
    smbh_disconnect_counts c = {99, 99, 99};
    size_t visited = 0;
    CHECK_OK(smbh_disconnect(t, s1, count_closed, &visited, &c));
    CHECK(c.closed == 1 && c.failed == 0 && c.kept == 2 && visited == 1);
    CHECK(len_of(t) == 2);
    f = flags_of(t, d.location);
    CHECK(f.seen && f.durable && f.disconnected);
    CHECK(!flags_of(t, n.location).seen);
    smbh_list_query q;
    memset(&q, 0, sizeof q);
    q.limit = 10;
    char *json = NULL;
    size_t json_len = 0;
    uint64_t next = 0;
    CHECK_OK(smbh_list_json(t, &q, &json, &json_len, &next));
    CHECK(strstr(json, "\"disconnected\":true") != NULL);
    smbh_string_free(json);
    CHECK_STATUS(smbh_disconnect(t, s1, NULL, NULL, &c), SMBH_STATUS_SESSION_DELETED);
    uint64_t ms = 0;
    CHECK_OK(smbh_next_durable_deadline(t, &ms));
    CHECK(ms > 50000 && ms <= 60000);

    /* Reconnect from a new session. */
    uint64_t s2, t2;
    CHECK_OK(setup(t, 2, &s2, &t2));
    smbh_reconnected back;
    memset(&back, 0xEE, sizeof back);
    smbh_reconnect_params r = reconnect(d2.durable.persistent_id, t2, 0xC1);
    r.version = SMBH_DURABLE_V2;
    r.create_guid[0] = 0x43; /* wrong create GUID */
    CHECK_STATUS(smbh_reconnect(t, &r, &back), SMBH_STATUS_NO_DURABLE_OPEN);
    CHECK(smbh_status_nt(SMBH_STATUS_NO_DURABLE_OPEN) == 0xC0000034u);
    CHECK(back.location == 0xEEEEEEEEEEEEEEEEull); /* not written */
    r.create_guid[0] = 0x42;
    r.owner = MALLORY;
    r.owner_len = strlen(MALLORY);
    CHECK_STATUS(smbh_reconnect(t, &r, &back), SMBH_STATUS_ACCESS_DENIED);
    r.owner = ALICE;
    r.owner_len = strlen(ALICE);
    r.version = 0;
    CHECK_STATUS(smbh_reconnect(t, &r, &back), SMBH_STATUS_INVALID_ARGUMENT);
    r.version = SMBH_DURABLE_V2;
    r.tree = t1; /* a dead tree */
    CHECK_STATUS(smbh_reconnect(t, &r, &back), SMBH_STATUS_TREE_DELETED);
    r.tree = t2;
    r.has_lease_key = true; /* the open holds no lease */
    CHECK_STATUS(smbh_reconnect(t, &r, &back), SMBH_STATUS_NO_DURABLE_OPEN);
    r.has_lease_key = false;
    r.persistent = true; /* the flag on a handle granted without it is ignored */
    CHECK(flags_of(t, d2.location).disconnected); /* the refusals changed nothing */
    CHECK_OK(smbh_reconnect(t, &r, &back));
    CHECK(back.location != d2.location && back.location != 0);
    CHECK(back.oplock == BATCH && !back.has_lease && back.lease_state == 0);
    CHECK(back.durable.granted && back.durable.persistent_id == d2.durable.persistent_id);
    CHECK(back.durable.timeout_ms == 120000);
    CHECK(!flags_of(t, d2.location).seen);
    CHECK_STATUS(smbh_close(t, d2.location), SMBH_STATUS_NOT_FOUND); /* the old one is stale */
    f = flags_of(t, back.location);
    CHECK(f.seen && f.durable && !f.disconnected);
    /* Connected again: a second reconnect finds nothing to take. */
    CHECK_STATUS(smbh_reconnect(t, &r, &back), SMBH_STATUS_NO_DURABLE_OPEN);
    CHECK_OK(smbh_close(t, back.location));

    /* Expiry: a v2 open with a 1 ms timeout, disconnected, then expired. */
    CHECK_OK(smbh_logoff(t, s2, NULL, NULL, NULL));
    uint64_t s3, t3;
    CHECK_OK(setup(t, 3, &s3, &t3));
    smbh_open_params brief = params(t3, 10, BATCH);
    brief.durable.version = SMBH_DURABLE_V2;
    brief.durable.create_guid[0] = 0x44;
    brief.durable.timeout_ms = 1;
    smbh_opened b;
    CHECK_OK(smbh_open_cached(t, &brief, &b));
    CHECK(b.durable.granted && b.durable.timeout_ms == 1);
    CHECK_OK(smbh_disconnect(t, s3, NULL, NULL, NULL));
    CHECK(len_of(t) == 2 && flags_of(t, b.location).disconnected);
    sleep_ms(5);
    size_t closed = 99;
    next = 0;
    CHECK_OK(smbh_expire_durable(t, &closed, &next));
    CHECK(closed == 1);
    CHECK(next <= 60000); /* the v1 handle's deadline is still ahead */
    CHECK(!flags_of(t, b.location).seen && len_of(t) == 1);

    /* The v1 handle: run_timers reports its deadline and leaves it; a
     * wrong owner and a v2 reconnect of a v1 open are refused. */
    CHECK_OK(smbh_run_timers(t, &next));
    CHECK(next > 50000 && next <= 60000);
    CHECK(flags_of(t, d.location).disconnected);
    uint64_t s4, t4;
    CHECK_OK(setup(t, 4, &s4, &t4));
    smbh_reconnect_params r1 = reconnect(d.durable.persistent_id, t4, 0xC1);
    r1.version = SMBH_DURABLE_V2;
    CHECK_STATUS(smbh_reconnect(t, &r1, &back), SMBH_STATUS_NO_DURABLE_OPEN);
    r1.version = SMBH_DURABLE_V1;
    CHECK_OK(smbh_reconnect(t, &r1, &back));
    CHECK(back.location != d.location && back.oplock == BATCH);
    CHECK_OK(smbh_logoff(t, s4, NULL, NULL, NULL)); /* a logoff closes durable handles */
    CHECK(len_of(t) == 0);
    CHECK_OK(smbh_run_timers(t, &next));
    CHECK(next == UINT64_MAX);
    CHECK_OK(smbh_next_durable_deadline(t, &ms));
    CHECK(ms == UINT64_MAX);

    /* A durable lease open (handle caching) comes back with its lease: the
     * reconnect must carry the lease key, of the same client. */
    uint64_t s6, t6, s7, t7;
    CHECK_OK(setup(t, 6, &s6, &t6));
    smbh_open_params l = params(t6, 13, SMBH_OPLOCK_LEASE);
    l.lease.client_guid[0] = 0xC1;
    l.lease.key[0] = 0x1E;
    l.lease.state = 7; /* RWH */
    l.durable.version = SMBH_DURABLE_V1;
    l.durable.client_guid[0] = 0xC1;
    smbh_opened lo;
    CHECK_OK(smbh_open_cached(t, &l, &lo));
    CHECK(lo.lease_granted && lo.lease_state == 7 && lo.durable.granted);
    CHECK_OK(smbh_disconnect(t, s6, NULL, NULL, NULL));
    CHECK_OK(setup(t, 7, &s7, &t7));
    smbh_reconnect_params rl = reconnect(lo.durable.persistent_id, t7, 0xC1);
    CHECK_STATUS(smbh_reconnect(t, &rl, &back), SMBH_STATUS_NO_DURABLE_OPEN); /* no lease key */
    rl.has_lease_key = true;
    rl.lease_key[0] = 0x1F;
    CHECK_STATUS(smbh_reconnect(t, &rl, &back), SMBH_STATUS_NO_DURABLE_OPEN); /* another key */
    rl.lease_key[0] = 0x1E;
    rl.client_guid[0] = 0xC2;
    CHECK_STATUS(smbh_reconnect(t, &rl, &back), SMBH_STATUS_NO_DURABLE_OPEN); /* another client */
    rl.client_guid[0] = 0xC1;
    CHECK_OK(smbh_reconnect(t, &rl, &back));
    CHECK(back.has_lease && back.lease_state == 7 && back.oplock == SMBH_OPLOCK_LEASE);

    /* App instance: another client's durable open with the same app
     * instance id closes the first one's open of the file. */
    smbh_open_params a1 = params(t7, 14, BATCH);
    a1.durable.version = SMBH_DURABLE_V2;
    a1.durable.client_guid[0] = 0xA1;
    a1.durable.create_guid[0] = 0x51;
    a1.durable.has_app_instance = true;
    a1.durable.app_instance[0] = 0xAA;
    smbh_opened ao1, ao2;
    CHECK_OK(smbh_open_cached(t, &a1, &ao1));
    CHECK(ao1.durable.granted);
    smbh_open_params a2 = a1;
    a2.durable.client_guid[0] = 0xA2;
    a2.durable.create_guid[0] = 0x52;
    CHECK_OK(smbh_open_cached(t, &a2, &ao2));
    CHECK(ao2.durable.granted && ao2.location != ao1.location);
    CHECK(!flags_of(t, ao1.location).seen && flags_of(t, ao2.location).seen);
    CHECK_OK(smbh_logoff(t, s7, NULL, NULL, NULL));
    CHECK(len_of(t) == 0);

    /* NULL pointers (and a misaligned output) are refused, changing nothing. */
    uint64_t s5, t5;
    CHECK_OK(setup(t, 5, &s5, &t5));
    smbh_reconnect_params rn = reconnect(1, t5, 0xC1);
    CHECK_STATUS(smbh_disconnect(NULL, s5, NULL, NULL, &c), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_reconnect(NULL, &rn, &back), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_reconnect(t, NULL, &back), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_reconnect(t, &rn, NULL), SMBH_STATUS_NULL_PARAMETER);
    rn.owner = NULL;
    rn.owner_len = 0;
    CHECK_STATUS(smbh_reconnect(t, &rn, &back), SMBH_STATUS_NULL_PARAMETER);
    rn.size = sizeof rn - 8;
    CHECK_STATUS(smbh_reconnect(t, &rn, &back), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_next_durable_deadline(NULL, &ms), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_next_durable_deadline(t, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_expire_durable(NULL, &closed, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_expire_durable(t, NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_expire_durable(t, &closed, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_run_timers(NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_run_timers(t, NULL), SMBH_STATUS_NULL_PARAMETER);
    alignas(smbh_disconnect_counts) unsigned char raw[sizeof(smbh_disconnect_counts) + 1];
    CHECK_STATUS(smbh_disconnect(t, s5, NULL, NULL, (smbh_disconnect_counts *)(void *)(raw + 1)),
                 SMBH_STATUS_INVALID_ARGUMENT);

    /* A caller compiled before `durable` was added: its size ends after
     * `lease`, padded. Whatever lies past it is not read as a request. */
    size_t align = alignof(smbh_open_params);
    size_t before = (offsetof(smbh_open_params, durable) + align - 1) / align * align;
    CHECK(before < sizeof(smbh_open_params));
    smbh_open_params old = params(t5, 11, BATCH);
    memset(&old.durable, 0xAB, sizeof old.durable); /* garbage past the old struct */
    old.durable.version = SMBH_DURABLE_V1;
    old.size = before;
    smbh_opened o;
    CHECK_OK(smbh_open_cached(t, &old, &o));
    CHECK(o.oplock == BATCH && !o.durable.granted);
    old.oplock = 0;
    old.file_number = 12;
    uint64_t old_loc = 0;
    CHECK_OK(smbh_open_ex(t, &old, &old_loc)); /* no durable request seen */
    old.size = before + 4; /* between versions */
    CHECK_STATUS(smbh_open_ex(t, &old, &old_loc), SMBH_STATUS_INVALID_ARGUMENT);
    /* The same, declared as that header declared it. */
    CHECK(sizeof(params_before_durable) == before);
    params_before_durable prev;
    memset(&prev, 0, sizeof prev);
    prev.size = sizeof prev;
    prev.file_number = 15;
    prev.path = "/old.txt";
    prev.path_len = 8;
    prev.owner = ALICE;
    prev.owner_len = strlen(ALICE);
    prev.access_mask = RD;
    prev.share_access = 7;
    prev.tree = t5;
    prev.oplock = BATCH;
    CHECK_OK(smbh_open_cached(t, (const smbh_open_params *)(const void *)&prev, &o));
    CHECK(o.oplock == BATCH && !o.durable.granted);
    c.kept = 99;
    CHECK_OK(smbh_disconnect(t, s5, NULL, NULL, &c));
    CHECK(c.closed == 3 && c.kept == 0 && len_of(t) == 0);

    smbh_table_free(t);
    printf("durable_test: ok\n");
    return 0;
}
