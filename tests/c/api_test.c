/* Every exported function of smb_handles.h and every error path: NULL for
 * each pointer argument, invalid UTF-8, over-long strings, zero, all-ones
 * and stale locations, a too-small buffer, a full table, malformed close
 * bodies. Checks that a refused call writes no output and changes nothing.
 *
 * Built by tests/c_abi.rs (C11, -Wall -Wextra -Wpedantic -Werror, ASan and
 * UBSan) against the static and the shared library, and by
 * scripts/c-tests-valgrind.sh for valgrind. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

#define SENTINEL64 UINT64_C(0x5a5a5a5a5a5a5a5a)
#define SENTINELZ ((size_t)0x5a5a5a5a)
#define READ_DATA 0x1u
#define SYNCHRONIZE 0x100000u

static const char OWNER[] = "S-1-5-21-1004336348-1177238915-682003330-1104";

static size_t table_len(const smbh_table *t) {
    size_t n = SENTINELZ;
    CHECK_OK(smbh_len(t, &n));
    return n;
}

static uint64_t open_file(const smbh_table *t, uint64_t file, const char *path) {
    uint64_t loc = 0;
    CHECK_OK(smbh_open(t, file, path, strlen(path), OWNER, strlen(OWNER), READ_DATA, false,
                       &loc));
    CHECK(loc != 0 && loc != UINT64_MAX);
    return loc;
}

/* A copy of one record, taken inside a visitor. */
typedef struct {
    int calls;
    uint64_t file_number, location, version;
    uint32_t locks, access_mask;
    bool directory;
    bool has_path;
    char owner[2048];
    char path[40000];
} record;

static int copy_record(void *userdata, const smbh_handle *h) {
    record *r = (record *)userdata;
    r->calls++;
    r->file_number = h->file_number;
    r->location = h->location;
    r->version = h->version;
    r->locks = h->num_byte_range_locks;
    r->access_mask = h->access_mask;
    r->directory = h->directory;
    CHECK(h->owner != NULL && h->owner_len < sizeof r->owner);
    memcpy(r->owner, h->owner, h->owner_len);
    r->owner[h->owner_len] = '\0';
    r->has_path = h->path != NULL;
    CHECK(h->path_len < sizeof r->path);
    CHECK(h->path != NULL || h->path_len == 0);
    if (h->path != NULL) {
        memcpy(r->path, h->path, h->path_len);
    }
    r->path[h->path_len] = '\0';
    return 0;
}

static record *get_record(const smbh_table *t, uint64_t loc) {
    static record r;
    memset(&r, 0, sizeof r);
    CHECK_OK(smbh_get(t, loc, copy_record, &r));
    CHECK(r.calls == 1);
    return &r;
}

static int never_called(void *userdata, const smbh_handle *h) {
    (void)userdata;
    (void)h;
    fprintf(stderr, "visitor called when it must not be\n");
    exit(1);
}

static void test_status_messages(void) {
    for (uint32_t s = 0; s <= SMBH_STATUS_OWNER_CONTAINS_NUL; s++) {
        const char *m = smbh_status_message(s);
        CHECK(m != NULL && strlen(m) > 0);
        CHECK(strcmp(m, "unknown status") != 0);
    }
    CHECK(strcmp(smbh_status_message(SMBH_STATUS_OK), "ok") == 0);
    CHECK(strcmp(smbh_status_message(SMBH_STATUS_NOT_FOUND), "handle not found") == 0);
    CHECK(strcmp(smbh_status_message(SMBH_STATUS_INVALID_LOCATION), "invalid location") == 0);
    CHECK(strcmp(smbh_status_message(SMBH_STATUS_PATH_TOO_LONG),
                 "path longer than 32767 bytes") == 0);
    CHECK(strcmp(smbh_status_message(SMBH_STATUS_NO_DURABLE_OPEN + 1), "unknown status") == 0);
    CHECK(strcmp(smbh_status_message(UINT32_MAX), "unknown status") == 0);
}

static void test_table_new_and_free(void) {
    smbh_table *t = (smbh_table *)&t; /* a sentinel: must stay untouched */
    smbh_table *const sentinel = t;
    CHECK_STATUS(smbh_table_new(1, 8, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_table_new(257, 0, &t), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK(t == sentinel);
    CHECK_STATUS(smbh_table_new(1, ((size_t)1 << 24) + 1, &t), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK(t == sentinel);
    /* Not more with more shards: one hot file's handles all live in one. */
    CHECK_STATUS(smbh_table_new(2, (size_t)1 << 25, &t), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK(t == sentinel);
    CHECK_OK(smbh_table_new(0, 0, &t));
    CHECK(t != NULL && t != sentinel);
    CHECK(table_len(t) == 0);
    smbh_table_free(t);
    CHECK_OK(smbh_table_new(256, (size_t)1 << 24, &t));
    smbh_table_free(t);
    smbh_table_free(NULL); /* no-op */
    smbh_string_free(NULL); /* no-op */
}

static void test_open_and_get(smbh_table *t) {
    /* Strings need not be NUL-terminated: only `len` bytes are read. */
    const char path_buf[] = "/projects/q3/report.xlsx-NOT-PART-OF-IT";
    const size_t path_len = strlen("/projects/q3/report.xlsx");
    uint64_t loc = SENTINEL64;
    CHECK_OK(smbh_open(t, 4242, path_buf, path_len, OWNER, strlen(OWNER),
                       READ_DATA | SYNCHRONIZE, false, &loc));
    CHECK(loc != SENTINEL64 && loc != 0 && loc != UINT64_MAX);

    record *r = get_record(t, loc);
    CHECK(r->file_number == 4242);
    CHECK(r->location == loc);
    CHECK(r->version == 1);
    CHECK(r->locks == 0);
    CHECK(r->access_mask == (READ_DATA | SYNCHRONIZE));
    CHECK(!r->directory);
    CHECK(r->has_path);
    CHECK(strcmp(r->path, "/projects/q3/report.xlsx") == 0);
    CHECK(strcmp(r->owner, OWNER) == 0);

    uint64_t dir = 0;
    CHECK_OK(smbh_open(t, 7, "/projects", 9, "", 0, 0, true, &dir));
    CHECK(dir != loc);
    r = get_record(t, dir);
    CHECK(r->directory && r->owner[0] == '\0' && r->access_mask == 0);

    /* get: NULL, zero, all-ones, unknown and stale locations. */
    record unused;
    CHECK_STATUS(smbh_get(NULL, loc, copy_record, &unused), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_get(t, loc, NULL, &unused), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_get(t, 0, never_called, NULL), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_get(t, UINT64_MAX, never_called, NULL), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_get(t, UINT64_C(0x0000000100fffffe), never_called, NULL),
                 SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_get(t, loc ^ (UINT64_C(1) << 40), never_called, NULL),
                 SMBH_STATUS_NOT_FOUND); /* another generation of the same slot */
}

static void test_open_errors(smbh_table *t) {
    const size_t before = table_len(t);
    uint64_t loc = SENTINEL64;
    const char *p = "/f";
    const char bad_utf8[] = {'/', (char)0xc3, (char)0x28};
    const char with_nul[] = {'/', 'a', '\0', 'b'};

    CHECK_STATUS(smbh_open(NULL, 1, p, 2, "o", 1, 0, false, &loc), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open(t, 1, NULL, 0, "o", 1, 0, false, &loc), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open(t, 1, p, 2, NULL, 0, 0, false, &loc), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open(t, 1, p, 2, "o", 1, 0, false, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open(t, 1, bad_utf8, sizeof bad_utf8, "o", 1, 0, false, &loc),
                 SMBH_STATUS_INVALID_UTF8);
    CHECK_STATUS(smbh_open(t, 1, p, 2, bad_utf8, sizeof bad_utf8, 0, false, &loc),
                 SMBH_STATUS_INVALID_UTF8);
    CHECK_STATUS(smbh_open(t, 1, with_nul, sizeof with_nul, "o", 1, 0, false, &loc),
                 SMBH_STATUS_CONTAINS_NUL);
    CHECK_STATUS(smbh_open(t, 1, p, 2, with_nul, sizeof with_nul, 0, false, &loc),
                 SMBH_STATUS_OWNER_CONTAINS_NUL);
    /* Several bad fields: the first in Rust's order (path length, path NUL,
     * owner length, owner NUL) is reported, as Rust's open reports it. */
    {
        static char long_owner[SMBH_MAX_OWNER_LEN + 1];
        memset(long_owner, 'o', sizeof long_owner);
        CHECK_STATUS(smbh_open(t, 1, with_nul, sizeof with_nul, long_owner, sizeof long_owner,
                               0, false, &loc),
                     SMBH_STATUS_CONTAINS_NUL);
        CHECK_STATUS(smbh_open(t, 1, p, 2, long_owner, sizeof long_owner, 0x200000u, false, &loc),
                     SMBH_STATUS_OWNER_TOO_LONG);
        CHECK_STATUS(smbh_open(t, 1, with_nul, sizeof with_nul, with_nul, sizeof with_nul, 0,
                               false, &loc),
                     SMBH_STATUS_CONTAINS_NUL);
        CHECK_STATUS(smbh_open(t, 1, p, 2, with_nul, sizeof with_nul, 0x200000u, false, &loc),
                     SMBH_STATUS_OWNER_CONTAINS_NUL);
    }
    CHECK(smbh_status_nt(SMBH_STATUS_OWNER_CONTAINS_NUL) == 0xC000000Du);
    CHECK(smbh_status_nt(SMBH_STATUS_CONTAINS_NUL) == 0xC0000033u);
    CHECK_STATUS(smbh_open(t, 1, p, 2, "o", 1, 0x200000u, false, &loc),
                 SMBH_STATUS_RESERVED_ACCESS_BITS);
    CHECK_STATUS(smbh_open(t, 1, p, 2, "o", 1, 0x8000000u, false, &loc),
                 SMBH_STATUS_RESERVED_ACCESS_BITS);

    /* Over-long strings: refused from the length alone, before any read
     * (a 2-byte buffer with a huge length must not be touched). */
    static char long_path[SMBH_MAX_PATH_LEN + 1];
    memset(long_path, 'p', sizeof long_path);
    long_path[0] = '/';
    CHECK_STATUS(smbh_open(t, 1, long_path, SMBH_MAX_PATH_LEN + 1, "o", 1, 0, false, &loc),
                 SMBH_STATUS_PATH_TOO_LONG);
    CHECK_STATUS(smbh_open(t, 1, p, SIZE_MAX, "o", 1, 0, false, &loc),
                 SMBH_STATUS_PATH_TOO_LONG);
    static char long_owner[SMBH_MAX_OWNER_LEN + 1];
    memset(long_owner, 'o', sizeof long_owner);
    CHECK_STATUS(smbh_open(t, 1, p, 2, long_owner, SMBH_MAX_OWNER_LEN + 1, 0, false, &loc),
                 SMBH_STATUS_OWNER_TOO_LONG);
    CHECK_STATUS(smbh_open(t, 1, p, 2, "o", SIZE_MAX, 0, false, &loc),
                 SMBH_STATUS_OWNER_TOO_LONG);
    CHECK(loc == SENTINEL64); /* no output on any refusal */
    CHECK(table_len(t) == before); /* and no change */

    /* Exactly at the limits is fine. */
    CHECK_OK(smbh_open(t, 1, long_path, SMBH_MAX_PATH_LEN, long_owner, SMBH_MAX_OWNER_LEN,
                       0x1F01FFu, false, &loc));
    record *r = get_record(t, loc);
    CHECK(strlen(r->path) == SMBH_MAX_PATH_LEN && strlen(r->owner) == SMBH_MAX_OWNER_LEN);
    CHECK_OK(smbh_close(t, loc));
    CHECK(table_len(t) == before);
}

static void test_full_table(void) {
    smbh_table *t = NULL;
    CHECK_OK(smbh_table_new(1, 3, &t));
    uint64_t locs[3];
    for (int i = 0; i < 3; i++) {
        locs[i] = open_file(t, (uint64_t)i, "/x");
    }
    uint64_t loc = SENTINEL64;
    CHECK_STATUS(smbh_open(t, 9, "/y", 2, "o", 1, 0, false, &loc), SMBH_STATUS_TABLE_FULL);
    CHECK(loc == SENTINEL64);
    CHECK(table_len(t) == 3);
    CHECK_OK(smbh_close(t, locs[1]));
    loc = open_file(t, 9, "/y");
    CHECK(loc != locs[1]); /* the reused slot has a new generation */
    CHECK_STATUS(smbh_get(t, locs[1], never_called, NULL), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_close(t, locs[1]), SMBH_STATUS_NOT_FOUND);
    CHECK(table_len(t) == 3);
    smbh_table_free(t); /* frees the three handles still open */
}

static void test_adjust_locks(smbh_table *t) {
    uint64_t loc = open_file(t, 55, "/locks");
    uint32_t n = 99;
    CHECK_OK(smbh_adjust_byte_range_locks(t, loc, 2, &n));
    CHECK(n == 2);
    CHECK(get_record(t, loc)->version == 2);
    CHECK(get_record(t, loc)->locks == 2);
    n = 99;
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, loc, -3, &n),
                 SMBH_STATUS_LOCK_COUNT_OUT_OF_RANGE);
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, loc, (int64_t)UINT32_MAX, &n),
                 SMBH_STATUS_LOCK_COUNT_OUT_OF_RANGE);
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, loc, INT64_MIN, &n),
                 SMBH_STATUS_LOCK_COUNT_OUT_OF_RANGE);
    CHECK(n == 99);
    CHECK(get_record(t, loc)->locks == 2 && get_record(t, loc)->version == 2);
    CHECK_STATUS(smbh_adjust_byte_range_locks(NULL, loc, 1, &n), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, loc, 1, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, 0, 1, &n), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, UINT64_MAX, 1, &n),
                 SMBH_STATUS_INVALID_LOCATION);
    CHECK(get_record(t, loc)->locks == 2);
    CHECK_OK(smbh_adjust_byte_range_locks(t, loc, -2, &n));
    CHECK(n == 0);
    CHECK_OK(smbh_close(t, loc));
    CHECK_STATUS(smbh_adjust_byte_range_locks(t, loc, 1, &n), SMBH_STATUS_NOT_FOUND);
    CHECK(n == 0);
}

static void test_rename(smbh_table *t) {
    uint64_t a = open_file(t, 700, "/old/a");
    uint64_t b = open_file(t, 700, "/old/a");
    uint64_t c = open_file(t, 701, "/other");
    size_t renamed = SENTINELZ;
    CHECK_OK(smbh_rename_file(t, 700, "/new/a!", 6, &renamed));
    CHECK(renamed == 2);
    CHECK(strcmp(get_record(t, a)->path, "/new/a") == 0 && get_record(t, a)->version == 2);
    CHECK(strcmp(get_record(t, b)->path, "/new/a") == 0);
    CHECK(strcmp(get_record(t, c)->path, "/other") == 0 && get_record(t, c)->version == 1);
    CHECK_OK(smbh_rename_file(t, 123456, "/none", 5, &renamed));
    CHECK(renamed == 0);

    const char bad_utf8[] = {'/', (char)0xff};
    const char with_nul[] = {'/', '\0'};
    renamed = SENTINELZ;
    CHECK_STATUS(smbh_rename_file(NULL, 700, "/x", 2, &renamed), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_rename_file(t, 700, NULL, 0, &renamed), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_rename_file(t, 700, "/x", 2, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_rename_file(t, 700, bad_utf8, 2, &renamed), SMBH_STATUS_INVALID_UTF8);
    CHECK_STATUS(smbh_rename_file(t, 700, with_nul, 2, &renamed), SMBH_STATUS_CONTAINS_NUL);
    CHECK_STATUS(smbh_rename_file(t, 700, "/x", SMBH_MAX_PATH_LEN + 1, &renamed),
                 SMBH_STATUS_PATH_TOO_LONG);
    CHECK_STATUS(smbh_rename_file(t, 700, "/x", SIZE_MAX, &renamed), SMBH_STATUS_PATH_TOO_LONG);
    CHECK(renamed == SENTINELZ);
    CHECK(strcmp(get_record(t, a)->path, "/new/a") == 0 && get_record(t, a)->version == 2);

    uint64_t batch[3] = {a, b, c};
    smbh_status st[3];
    CHECK_OK(smbh_close_batch(t, batch, 3, st));
    CHECK(st[0] == SMBH_STATUS_OK && st[1] == SMBH_STATUS_OK && st[2] == SMBH_STATUS_OK);
}

static void test_close_and_batch(smbh_table *t) {
    const size_t before = table_len(t);
    uint64_t a = open_file(t, 800, "/a");
    uint64_t b = open_file(t, 801, "/b");
    uint64_t c = open_file(t, 802, "/c");
    uint64_t stale = open_file(t, 803, "/d");
    CHECK_OK(smbh_close(t, stale));
    CHECK_STATUS(smbh_close(t, stale), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_close(t, 0), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_close(t, UINT64_MAX), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_close(NULL, a), SMBH_STATUS_NULL_PARAMETER);

    uint64_t batch[6] = {a, b, a, 0, stale, UINT64_MAX};
    smbh_status st[6];
    for (int i = 0; i < 6; i++) {
        st[i] = SMBH_STATUS_PANIC;
    }
    /* Refusals close nothing and write nothing. */
    CHECK_STATUS(smbh_close_batch(NULL, batch, 6, st), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch(t, NULL, 6, st), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch(t, batch, 6, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch(t, NULL, 0, st), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch(t, batch, SIZE_MAX, st), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK(st[0] == SMBH_STATUS_PANIC && st[5] == SMBH_STATUS_PANIC);
    CHECK(table_len(t) == before + 3);

    CHECK_OK(smbh_close_batch(t, batch, 0, st)); /* an empty batch is fine */
    CHECK(st[0] == SMBH_STATUS_PANIC);
    CHECK_OK(smbh_close_batch(t, batch, 6, st));
    CHECK(st[0] == SMBH_STATUS_OK);
    CHECK(st[1] == SMBH_STATUS_OK);
    CHECK(st[2] == SMBH_STATUS_NOT_FOUND); /* a repeat closes once */
    CHECK(st[3] == SMBH_STATUS_INVALID_LOCATION);
    CHECK(st[4] == SMBH_STATUS_NOT_FOUND);
    CHECK(st[5] == SMBH_STATUS_INVALID_LOCATION);
    CHECK(table_len(t) == before + 1);
    CHECK_STATUS(smbh_get(t, a, never_called, NULL), SMBH_STATUS_NOT_FOUND);
    CHECK_OK(smbh_close(t, c));
    CHECK(table_len(t) == before);
}

/* Collects the locations a visitor sees; stops after `stop_after` if set. */
typedef struct {
    uint64_t seen[256];
    size_t n;
    size_t stop_after;
    const smbh_table *close_from_visitor;
    bool paths;
} collector;

static int collect(void *userdata, const smbh_handle *h) {
    collector *c = (collector *)userdata;
    CHECK(c->n < 256);
    c->seen[c->n++] = h->location;
    CHECK((h->path != NULL) == c->paths);
    if (c->close_from_visitor != NULL) {
        /* No lock is held while a visitor runs: closing here must work. */
        CHECK_OK(smbh_close(c->close_from_visitor, h->location));
    }
    return c->stop_after != 0 && c->n == c->stop_after;
}

static size_t count_of(const uint64_t *xs, size_t n, uint64_t x) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += xs[i] == x;
    }
    return k;
}

static void test_list(void) {
    smbh_table *t = NULL;
    CHECK_OK(smbh_table_new(4, 0, &t));
    uint64_t locs[25];
    for (int i = 0; i < 25; i++) {
        locs[i] = open_file(t, (uint64_t)(i % 5), "/l");
    }

    smbh_list_query q;
    memset(&q, 0, sizeof q);
    q.after = SMBH_CURSOR_START;
    q.limit = 10;
    collector c;
    memset(&c, 0, sizeof c);
    int pages = 0;
    uint64_t next = SENTINEL64;
    for (;;) {
        CHECK_OK(smbh_list(t, &q, collect, &c, &next));
        pages++;
        if (next == SMBH_CURSOR_DONE) {
            break;
        }
        CHECK(next != SMBH_CURSOR_START);
        q.after = next;
    }
    CHECK(pages == 3);
    CHECK(c.n == 25);
    for (int i = 0; i < 25; i++) {
        CHECK(count_of(c.seen, c.n, locs[i]) == 1);
    }

    /* One file, with paths. */
    memset(&c, 0, sizeof c);
    c.paths = true;
    q.after = SMBH_CURSOR_START;
    q.limit = SIZE_MAX; /* lowered to SMBH_MAX_LIST_LIMIT */
    q.by_file = true;
    q.file_number = 3;
    q.resolve_paths = true;
    CHECK_OK(smbh_list(t, &q, collect, &c, &next));
    CHECK(next == SMBH_CURSOR_DONE);
    CHECK(c.n == 5);
    for (int i = 3; i < 25; i += 5) {
        CHECK(count_of(c.seen, c.n, locs[i]) == 1);
    }

    /* A visitor that stops early gets a cursor right after its last handle. */
    memset(&c, 0, sizeof c);
    c.stop_after = 7;
    memset(&q, 0, sizeof q);
    q.limit = 1000;
    CHECK_OK(smbh_list(t, &q, collect, &c, &next));
    CHECK(c.n == 7 && next != SMBH_CURSOR_DONE);
    c.stop_after = 0;
    q.after = next;
    CHECK_OK(smbh_list(t, &q, collect, &c, &next));
    CHECK(next == SMBH_CURSOR_DONE);
    CHECK(c.n == 25);
    for (int i = 0; i < 25; i++) {
        CHECK(count_of(c.seen, c.n, locs[i]) == 1);
    }

    /* SMBH_CURSOR_DONE as `after` is an empty, final page. */
    q.after = SMBH_CURSOR_DONE;
    next = SENTINEL64;
    CHECK_OK(smbh_list(t, &q, never_called, NULL, &next));
    CHECK(next == SMBH_CURSOR_DONE);

    /* Errors: no visit, no output. */
    next = SENTINEL64;
    q.after = SMBH_CURSOR_START;
    CHECK_STATUS(smbh_list(NULL, &q, never_called, NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list(t, NULL, never_called, NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list(t, &q, NULL, NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list(t, &q, never_called, NULL, NULL), SMBH_STATUS_NULL_PARAMETER);
    q.limit = 0;
    CHECK_STATUS(smbh_list(t, &q, never_called, NULL, &next), SMBH_STATUS_INVALID_ARGUMENT);
    q.limit = 10;
    q.after = UINT64_C(999) << 32; /* no such shard */
    CHECK_STATUS(smbh_list(t, &q, never_called, NULL, &next), SMBH_STATUS_INVALID_CURSOR);
    CHECK(next == SENTINEL64);

    /* A visitor may close the handles it is shown. */
    memset(&c, 0, sizeof c);
    c.close_from_visitor = t;
    memset(&q, 0, sizeof q);
    q.limit = 100;
    CHECK_OK(smbh_list(t, &q, collect, &c, &next));
    CHECK(c.n == 25 && next == SMBH_CURSOR_DONE);
    CHECK(table_len(t) == 0);
    smbh_table_free(t);
}

/* The text between `{"file_handles":` and `,"paging":` is the array a
 * client posts back to close; returns a malloc'd copy. */
static char *file_handles_array(const char *json) {
    const char *start = strstr(json, "{\"file_handles\":");
    const char *end = strstr(json, ",\"paging\":");
    CHECK(start == json && end != NULL);
    start += strlen("{\"file_handles\":");
    size_t n = (size_t)(end - start);
    char *out = (char *)malloc(n + 1);
    CHECK(out != NULL);
    memcpy(out, start, n);
    out[n] = '\0';
    return out;
}

static void test_json(void) {
    smbh_table *t = NULL;
    CHECK_OK(smbh_table_new(2, 0, &t));
    smbh_list_query q;
    memset(&q, 0, sizeof q);
    q.limit = 10;
    char *json = NULL;
    size_t len = 0;
    uint64_t next = 0;
    CHECK_OK(smbh_list_json(t, &q, &json, &len, &next));
    CHECK(strcmp(json, "{\"file_handles\":[],\"paging\":{\"next\":null}}") == 0);
    CHECK(len == strlen(json) && next == SMBH_CURSOR_DONE);
    smbh_string_free(json);

    uint64_t a = open_file(t, 4242, "/projects/q3/report.xlsx");
    uint64_t b = open_file(t, 4243, "/projects/q3/\"quoted\".txt");
    uint64_t c = open_file(t, 4244, "/c");
    char a_text[SMBH_LOCATION_TEXT_LEN + 1];
    CHECK_OK(smbh_location_format(a, a_text, sizeof a_text));

    /* Two pages of two then one; the JSON cursor text parses to `next`. */
    q.limit = 2;
    q.resolve_paths = true;
    CHECK_OK(smbh_list_json(t, &q, &json, &len, &next));
    CHECK(len == strlen(json));
    CHECK(next != SMBH_CURSOR_DONE);
    const char *next_key = strstr(json, "\"paging\":{\"next\":\"");
    CHECK(next_key != NULL);
    uint64_t parsed = 0;
    CHECK_OK(smbh_cursor_parse(next_key + strlen("\"paging\":{\"next\":\""), 16, &parsed));
    CHECK(parsed == next);
    char *first = json;
    q.after = next;
    CHECK_OK(smbh_list_json(t, &q, &json, &len, &next));
    CHECK(next == SMBH_CURSOR_DONE && strstr(json, "\"next\":null") != NULL);
    char *all = (char *)malloc(strlen(first) + strlen(json) + 1);
    CHECK(all != NULL);
    strcpy(all, first);
    strcat(all, json);
    CHECK(strstr(all, a_text) != NULL);
    CHECK(strstr(all, "\"file_number\":\"4242\"") != NULL);
    CHECK(strstr(all, "\"path\":\"/projects/q3/report.xlsx\"") != NULL);
    CHECK(strstr(all, "\\\"quoted\\\"") != NULL);
    CHECK(strstr(all, "MS_ACCESS_FILE_READ_DATA") != NULL);
    free(all);
    smbh_string_free(json);

    /* The round trip: post the first page's handles back to close them. */
    char *body = file_handles_array(first);
    smbh_string_free(first);
    char *resp = NULL;
    CHECK_OK(smbh_close_batch_json(t, body, strlen(body), &resp, &len));
    CHECK(strcmp(resp, "[{\"error_message\":\"\"},{\"error_message\":\"\"}]") == 0);
    CHECK(len == strlen(resp));
    smbh_string_free(resp);
    CHECK(table_len(t) == 1);
    /* Posting it again: both are gone now. */
    CHECK_OK(smbh_close_batch_json(t, body, strlen(body), &resp, &len));
    CHECK(strcmp(resp, "[{\"error_message\":\"handle not found\"},"
                       "{\"error_message\":\"handle not found\"}]") == 0);
    smbh_string_free(resp);
    free(body);

    /* Every element shape real clients send; other fields ignored. */
    /* The page of two held two of a, b, c (in the table's order); close the
     * third so the table is empty again. */
    CHECK(table_len(t) == 1);
    size_t gone = (smbh_close(t, a) == SMBH_STATUS_OK) + (smbh_close(t, b) == SMBH_STATUS_OK) +
                  (smbh_close(t, c) == SMBH_STATUS_OK);
    CHECK(gone == 1 && table_len(t) == 0);
    uint64_t e = open_file(t, 4245, "/e");
    char c_text[SMBH_LOCATION_TEXT_LEN + 1];
    CHECK_OK(smbh_location_format(e, c_text, sizeof c_text));
    char req[512];
    snprintf(req, sizeof req,
             "[{\"file_number\":0,\"handle_info\":{\"location\":\"%s\",\"owner\":\"0\","
             "\"version\":0}},{\"handle_info\":{\"location\":\"zz\"}},{}]",
             c_text);
    CHECK_OK(smbh_close_batch_json(t, req, strlen(req), &resp, &len));
    CHECK(strcmp(resp, "[{\"error_message\":\"\"},{\"error_message\":\"invalid location\"},"
                       "{\"error_message\":\"missing location\"}]") == 0);
    smbh_string_free(resp);
    CHECK(table_len(t) == 0);

    /* Malformed bodies close nothing and write nothing. */
    uint64_t d = open_file(t, 1, "/d");
    char d_text[SMBH_LOCATION_TEXT_LEN + 1];
    CHECK_OK(smbh_location_format(d, d_text, sizeof d_text));
    resp = (char *)&resp; /* sentinel */
    char *const sentinel = resp;
    size_t rlen = SENTINELZ;
    const char *malformed[] = {"{}", "not json", "", "[", "[1,2", "null"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        CHECK_STATUS(smbh_close_batch_json(t, malformed[i], strlen(malformed[i]), &resp, &rlen),
                     SMBH_STATUS_INVALID_REQUEST);
    }
    snprintf(req, sizeof req, "[{\"handle_info\":{\"location\":\"%s\"}}] trailing", d_text);
    CHECK_STATUS(smbh_close_batch_json(t, req, strlen(req), &resp, &rlen),
                 SMBH_STATUS_INVALID_REQUEST);
    const char bad_utf8[] = {'[', '"', (char)0xfe, '"', ']'};
    CHECK_STATUS(smbh_close_batch_json(t, bad_utf8, sizeof bad_utf8, &resp, &rlen),
                 SMBH_STATUS_INVALID_UTF8);
    CHECK_STATUS(smbh_close_batch_json(t, "[]", SMBH_MAX_REQUEST_BYTES + 1, &resp, &rlen),
                 SMBH_STATUS_INVALID_REQUEST); /* refused from the length, never read */
    CHECK_STATUS(smbh_close_batch_json(NULL, "[]", 2, &resp, &rlen), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch_json(t, NULL, 0, &resp, &rlen), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch_json(t, "[]", 2, NULL, &rlen), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_close_batch_json(t, "[]", 2, &resp, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK(resp == sentinel && rlen == SENTINELZ);
    CHECK(table_len(t) == 1);
    CHECK_OK(smbh_close_batch_json(t, "[]", 2, &resp, &rlen));
    CHECK(strcmp(resp, "[]") == 0 && rlen == 2);
    smbh_string_free(resp);

    /* list_json errors. */
    json = sentinel;
    len = SENTINELZ;
    next = SENTINEL64;
    memset(&q, 0, sizeof q);
    q.limit = 1;
    CHECK_STATUS(smbh_list_json(NULL, &q, &json, &len, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list_json(t, NULL, &json, &len, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list_json(t, &q, NULL, &len, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list_json(t, &q, &json, NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_list_json(t, &q, &json, &len, NULL), SMBH_STATUS_NULL_PARAMETER);
    q.limit = 0;
    CHECK_STATUS(smbh_list_json(t, &q, &json, &len, &next), SMBH_STATUS_INVALID_ARGUMENT);
    q.limit = 1;
    q.after = UINT64_C(2) << 32; /* shard 2 of a 2-shard table */
    CHECK_STATUS(smbh_list_json(t, &q, &json, &len, &next), SMBH_STATUS_INVALID_CURSOR);
    CHECK(json == sentinel && len == SENTINELZ && next == SENTINEL64);
    smbh_table_free(t);
}

static void test_location_text(void) {
    char buf[SMBH_LOCATION_TEXT_LEN + 1];
    uint64_t loc = UINT64_C(0x00000001000a0003);
    CHECK_OK(smbh_location_format(loc, buf, sizeof buf));
    CHECK(strcmp(buf, "00000001000a0003") == 0);
    char expect[32];
    snprintf(expect, sizeof expect, "%016" PRIx64, UINT64_C(0xfffffffffffffffe));
    CHECK_OK(smbh_location_format(UINT64_C(0xfffffffffffffffe), buf, sizeof buf));
    CHECK(strcmp(buf, expect) == 0);

    /* Too small: nothing written. */
    memset(buf, 'X', sizeof buf);
    CHECK_STATUS(smbh_location_format(loc, buf, SMBH_LOCATION_TEXT_LEN),
                 SMBH_STATUS_BUFFER_TOO_SMALL);
    CHECK_STATUS(smbh_location_format(loc, buf, 0), SMBH_STATUS_BUFFER_TOO_SMALL);
    for (size_t i = 0; i < sizeof buf; i++) {
        CHECK(buf[i] == 'X');
    }
    CHECK_STATUS(smbh_location_format(loc, NULL, 17), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_location_format(0, buf, sizeof buf), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_location_format(UINT64_MAX, buf, sizeof buf),
                 SMBH_STATUS_INVALID_LOCATION);
    CHECK(buf[0] == 'X');

    uint64_t out = SENTINEL64;
    CHECK_OK(smbh_location_parse("00000001000A0003", 16, &out));
    CHECK(out == loc);
    CHECK_OK(smbh_location_parse("abcX", 3, &out)); /* only `len` bytes are read */
    CHECK(out == 0xabc);
    out = SENTINEL64;
    const char *bad[] = {"", "0", "ffffffffffffffff", "FFFFFFFFFFFFFFFF", "0x1", " 1", "1 ",
                         "+1", "-1", "g", "00000000000000001", "1_0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(smbh_location_parse(bad[i], strlen(bad[i]), &out),
                     SMBH_STATUS_INVALID_LOCATION);
    }
    CHECK_STATUS(smbh_location_parse("1", SIZE_MAX, &out), SMBH_STATUS_INVALID_LOCATION);
    const char bad_utf8[] = {'a', (char)0xc0};
    CHECK_STATUS(smbh_location_parse(bad_utf8, 2, &out), SMBH_STATUS_INVALID_UTF8);
    CHECK_STATUS(smbh_location_parse(NULL, 1, &out), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_location_parse("1", 1, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK(out == SENTINEL64);

    CHECK_OK(smbh_cursor_parse("000000030000002a", 16, &out));
    CHECK(out == ((UINT64_C(3) << 32) | 42));
    out = SENTINEL64;
    CHECK_STATUS(smbh_cursor_parse("3", 1, &out), SMBH_STATUS_INVALID_CURSOR);
    CHECK_STATUS(smbh_cursor_parse("not a cursor!!!!", 16, &out), SMBH_STATUS_INVALID_CURSOR);
    /* Rust's list refuses this text; it must not become SMBH_CURSOR_DONE
     * (nothing is written: `out` keeps its sentinel). */
    CHECK_STATUS(smbh_cursor_parse("ffffffffffffffff", 16, &out), SMBH_STATUS_INVALID_CURSOR);
    CHECK_STATUS(smbh_cursor_parse("000000030000002a", SIZE_MAX, &out),
                 SMBH_STATUS_INVALID_CURSOR);
    CHECK_STATUS(smbh_cursor_parse(bad_utf8, 2, &out), SMBH_STATUS_INVALID_UTF8);
    CHECK_STATUS(smbh_cursor_parse(NULL, 16, &out), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_cursor_parse("000000030000002a", 16, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK(out == SENTINEL64);
}

static void test_len(smbh_table *t) {
    size_t n = SENTINELZ;
    CHECK_STATUS(smbh_len(NULL, &n), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_len(t, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK(n == SENTINELZ);
    const size_t before = table_len(t);
    uint64_t a = open_file(t, 9000, "/len");
    CHECK(table_len(t) == before + 1);
    CHECK_OK(smbh_close(t, a));
    CHECK(table_len(t) == before);
}

int main(void) {
    smbh_table *t = NULL;
    CHECK_OK(smbh_table_new(4, 1000, &t));
    test_status_messages();
    test_table_new_and_free();
    test_open_and_get(t);
    test_open_errors(t);
    test_full_table();
    test_adjust_locks(t);
    test_rename(t);
    test_close_and_batch(t);
    test_list();
    test_json();
    test_location_text();
    test_len(t);
    smbh_table_free(t); /* still holds the handles of test_open_and_get */
    printf("api_test: ok\n");
    return 0;
}
