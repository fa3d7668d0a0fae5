/* Persistent handles through the C ABI (SPEC section 15; a library built
 * with the `store` feature): smbh_store_table_new over a fresh store
 * restores nothing; a persistent open is granted persistence (a plain one
 * is not stored); freed and made again over the same file, the table holds
 * the persistent open alone, disconnected, at its location, and its client
 * reconnects it; a closed persistent open stays closed across the next
 * restart; bad paths and a file that is no store are refused.
 * Built with -Wall -Wextra -Wpedantic -Werror and run under ASan/UBSan by
 * tests/c_abi.rs. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp under -std=c11 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smb_handles.h>

#include "check.h"

#define RD 0x1u
#define WR 0x2u
#define ALICE "S-1-5-21-7"

static smbh_open_params params(uint64_t file, bool persistent) {
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = file;
    p.path = "/vm/disk.vhdx";
    p.path_len = strlen(p.path);
    p.owner = ALICE;
    p.owner_len = strlen(ALICE);
    p.access_mask = RD | WR;
    p.share_access = 1;
    if (persistent) {
        p.durable.version = SMBH_DURABLE_V2;
        p.durable.client_guid[0] = 0xC1;
        p.durable.create_guid[0] = (uint8_t)file;
        p.durable.timeout_ms = 300000;
        p.durable.persistent = true;
    }
    return p;
}

/* smbh_get's visitor: notes the handle's disconnected flag. */
struct seen {
    bool found, disconnected;
};
static int note(void *userdata, const smbh_handle *h) {
    struct seen *s = userdata;
    s->found = true;
    s->disconnected = h->disconnected;
    return 0;
}

static struct seen seen_at(smbh_table *t, uint64_t loc) {
    struct seen s = {false, false};
    smbh_status st = smbh_get(t, loc, note, &s);
    CHECK(st == SMBH_STATUS_OK || st == SMBH_STATUS_NOT_FOUND);
    return s;
}

static size_t len_of(smbh_table *t) {
    size_t n = 0;
    CHECK_OK(smbh_len(t, &n));
    return n;
}

int main(void) {
    char dir[] = "/tmp/smbh-store-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/handles.db", dir);

    /* A fresh store: nothing to restore. */
    smbh_recovered rec;
    memset(&rec, 0xEE, sizeof rec);
    smbh_table *t = NULL;
    CHECK_OK(smbh_store_table_new(path, strlen(path), 0, 0, &rec, &t));
    CHECK(rec.restored == 0 && rec.damaged == 0 && rec.refused == 0);

    smbh_open_params pp = params(5, true);
    smbh_opened p;
    CHECK_OK(smbh_open_cached(t, &pp, &p));
    CHECK(p.durable.granted && p.durable.persistent && p.durable.persistent_id != 0);
    smbh_open_params plain = params(6, false);
    smbh_opened n;
    CHECK_OK(smbh_open_cached(t, &plain, &n));
    CHECK(!n.durable.granted);
    /* A second persistent open, closed before the restart. */
    smbh_open_params cp = params(7, true);
    smbh_opened c;
    CHECK_OK(smbh_open_cached(t, &cp, &c));
    CHECK(c.durable.persistent);
    CHECK_OK(smbh_close(t, c.location));
    CHECK(len_of(t) == 2);
    smbh_table_free(t);

    /* Restarted over the same store: the persistent open alone, waiting. */
    memset(&rec, 0xEE, sizeof rec);
    t = NULL;
    CHECK_OK(smbh_store_table_new(path, strlen(path), 0, 0, &rec, &t));
    CHECK(rec.restored == 1 && rec.damaged == 0 && rec.refused == 0);
    CHECK(len_of(t) == 1);
    struct seen s = seen_at(t, p.location);
    CHECK(s.found && s.disconnected);
    CHECK(!seen_at(t, n.location).found);
    CHECK(!seen_at(t, c.location).found);

    /* Its client reconnects it. */
    smbh_reconnect_params r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.persistent_id = p.durable.persistent_id;
    r.owner = ALICE;
    r.owner_len = strlen(ALICE);
    r.client_guid[0] = 0xC1;
    r.create_guid[0] = 5;
    r.version = SMBH_DURABLE_V2;
    r.persistent = true;
    smbh_reconnected back;
    CHECK_OK(smbh_reconnect(t, &r, &back));
    CHECK(back.location != p.location && back.durable.persistent);
    s = seen_at(t, back.location);
    CHECK(s.found && !s.disconnected);
    CHECK_OK(smbh_close(t, back.location));
    smbh_table_free(t);

    /* Closed: nothing comes back; NULL for the report is allowed. */
    t = NULL;
    CHECK_OK(smbh_store_table_new(path, strlen(path), 0, 0, NULL, &t));
    CHECK(len_of(t) == 0);
    smbh_table_free(t);

    /* Refusals: NULL, a NUL in the path, bad sizes, a file that is no store. */
    CHECK_STATUS(smbh_store_table_new(NULL, 3, 0, 0, NULL, &t), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_store_table_new(path, strlen(path), 0, 0, NULL, NULL),
                 SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_store_table_new("a\0b", 3, 0, 0, NULL, &t), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_store_table_new(path, strlen(path), 999, 0, NULL, &t),
                 SMBH_STATUS_INVALID_ARGUMENT);
    char junk[128];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    FILE *f = fopen(junk, "wb");
    CHECK(f != NULL);
    for (int i = 0; i < 512; i++) fputc('x', f);
    fclose(f);
    CHECK_STATUS(smbh_store_table_new(junk, strlen(junk), 0, 0, NULL, &t), SMBH_STATUS_STORE_FAILED);

    /* Clean up the store's files (SQLite's -wal and -shm may remain). */
    char name[160];
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        unlink(name);
        snprintf(name, sizeof name, "%s%s", junk, suffixes[i]);
        unlink(name);
    }
    CHECK(rmdir(dir) == 0);
    puts("store_test: ok");
    return 0;
}
