/* C ABI tests of sessions and tree connects: setup, tree connect, opens
 * inside a tree (smbh_open_params.tree), touch, logoff and tree disconnect
 * closing their handles (with the visitor and the counts), close by
 * selector, and every error path. Built with -Wall -Wextra -Wpedantic
 * -Werror and run under ASan/UBSan by tests/c_abi.rs, and under valgrind by
 * scripts/c-tests-valgrind.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define RD 0x1u
#define WR 0x2u

/* Fresh heap strings per call, as a server builds them from a request. */
static char *fresh(const char *s) {
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    CHECK(p);
    memcpy(p, s, n + 1);
    return p;
}

static smbh_status setup(smbh_table *t, const char *sid, const char *ip, uint64_t *out) {
    char *s = fresh(sid), *name = fresh("alice"), *addr = fresh(ip);
    smbh_session_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.smb_session_id = 0x4000000000000001ull;
    p.user_sid = s;
    p.user_sid_len = strlen(s);
    p.user_name = name;
    p.user_name_len = 5;
    p.domain = SMBH_DOMAIN_ACTIVE_DIRECTORY;
    p.client_address = addr;
    p.client_address_len = strlen(addr);
    p.dialect = 0x0311;
    smbh_status st = smbh_session_setup(t, &p, out);
    free(s);
    free(name);
    free(addr);
    return st;
}

static smbh_status open_in(smbh_table *t, uint64_t tree, uint64_t file, const char *path,
                           uint32_t access, uint32_t share, uint64_t *loc) {
    char *pa = fresh(path), *owner = fresh("S-1-5-21-7");
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = file;
    p.path = pa;
    p.path_len = strlen(pa);
    p.owner = owner;
    p.owner_len = strlen(owner);
    p.access_mask = access;
    p.share_access = share;
    p.tree = tree;
    smbh_status s = smbh_open_ex(t, &p, loc);
    free(pa);
    free(owner);
    return s;
}

static int visited;
static int count_visit(void *userdata, const smbh_handle *h) {
    CHECK(userdata == &visited);
    CHECK(h->location != 0);
    visited++;
    return 1; /* ignored: every closed handle is visited */
}

static void test_lifecycle(smbh_table *t) {
    uint64_t s = 0, tr = 0, tr2 = 0, a = 0, b = 0, c = 0, x = 9;
    CHECK_OK(setup(t, "S-1-5-21-7", "10.0.0.7", &s));
    CHECK(s != 0);
    CHECK_OK(smbh_tree_connect(t, s, "finance", 7, &tr));
    CHECK_OK(smbh_tree_connect(t, s, "eng", 3, &tr2));
    CHECK_OK(smbh_touch(t, s));
    CHECK_OK(open_in(t, tr, 1, "/q3.xlsx", RD | WR, SMBH_SHARE_READ, &a));
    CHECK_OK(open_in(t, tr, 2, "/q4.xlsx", RD, 7, &b));
    CHECK_OK(open_in(t, tr2, 3, "/src/main.c", RD, 7, &c));
    /* Another session's writer is refused by the share mode... */
    uint64_t s2 = 0, t2 = 0, w = 0;
    CHECK_OK(setup(t, "S-1-5-21-8", "10.0.0.8", &s2));
    CHECK_OK(smbh_tree_connect(t, s2, "finance", 7, &t2));
    CHECK_STATUS(open_in(t, t2, 1, "/q3.xlsx", WR, 7, &w), SMBH_STATUS_SHARING_VIOLATION);

    /* ...until the tree disconnect releases it. */
    smbh_close_counts n = {99, 99};
    visited = 0;
    CHECK_OK(smbh_tree_disconnect(t, tr, count_visit, &visited, &n));
    CHECK(n.closed == 2 && n.failed == 0 && visited == 2);
    CHECK_STATUS(smbh_close(t, a), SMBH_STATUS_NOT_FOUND);
    CHECK_OK(open_in(t, t2, 1, "/q3.xlsx", WR, 7, &w));
    CHECK_STATUS(open_in(t, tr, 1, "/q3.xlsx", RD, 7, &x), SMBH_STATUS_TREE_DELETED);
    CHECK(x == 9); /* not written on failure */
    CHECK_STATUS(smbh_tree_disconnect(t, tr, NULL, NULL, NULL), SMBH_STATUS_TREE_DELETED);
    CHECK(smbh_status_nt(SMBH_STATUS_TREE_DELETED) == 0xC00000C9u);

    /* Logoff closes the rest of the session; its ids go stale. */
    CHECK_OK(smbh_logoff(t, s, NULL, NULL, &n));
    CHECK(n.closed == 1 && n.failed == 0);
    CHECK_STATUS(smbh_close(t, c), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_logoff(t, s, NULL, NULL, &n), SMBH_STATUS_SESSION_DELETED);
    CHECK_STATUS(smbh_touch(t, s), SMBH_STATUS_SESSION_DELETED);
    CHECK_STATUS(smbh_tree_connect(t, s, "x", 1, &x), SMBH_STATUS_SESSION_DELETED);
    CHECK(smbh_status_nt(SMBH_STATUS_SESSION_DELETED) == 0xC0000203u);

    /* Selectors: by client address, then by path prefix. */
    CHECK_OK(open_in(t, t2, 10, "/a/b/c.txt", RD, 7, &a));
    CHECK_OK(open_in(t, 0, 11, "/a/bc", RD, 7, &b)); /* outside sessions */
    smbh_selector sel = {SMBH_SELECT_PATH_PREFIX, 0, "/a/b", 4};
    CHECK_OK(smbh_close_selected(t, &sel, NULL, NULL, &n));
    CHECK(n.closed == 1); /* not /a/bc */
    smbh_selector by_ip = {SMBH_SELECT_CLIENT_ADDRESS, 0, "10.0.0.8", 8};
    CHECK_OK(smbh_close_selected(t, &by_ip, NULL, NULL, &n));
    CHECK(n.closed == 1); /* w */
    CHECK_OK(smbh_close(t, b));
    size_t live = 9;
    CHECK_OK(smbh_len(t, &live));
    CHECK(live == 0);
    CHECK_OK(smbh_logoff(t, s2, NULL, NULL, NULL));
}

static void test_errors(smbh_table *t) {
    uint64_t s = 0, x = 5;
    CHECK_STATUS(setup(t, "S-1", "not an address", &s), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(setup(NULL, "S-1", "10.0.0.1", &s), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(setup(t, "S-1", "10.0.0.1", NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_OK(setup(t, "S-1", "::1", &s));
    CHECK_STATUS(smbh_tree_connect(t, s, "", 0, &x), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_tree_connect(t, s, NULL, 0, &x), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_tree_connect(t, s, "\xff", 1, &x), SMBH_STATUS_INVALID_UTF8);
    CHECK(x == 5);
    CHECK_STATUS(open_in(t, 12345, 1, "/x", RD, 7, &x), SMBH_STATUS_TREE_DELETED);
    smbh_selector bad = {99, 0, NULL, 0};
    CHECK_STATUS(smbh_close_selected(t, &bad, NULL, NULL, NULL), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_close_selected(t, NULL, NULL, NULL, NULL), SMBH_STATUS_NULL_PARAMETER);
    smbh_selector gone = {SMBH_SELECT_SESSION, 77, NULL, 0};
    CHECK_STATUS(smbh_close_selected(t, &gone, NULL, NULL, NULL), SMBH_STATUS_SESSION_DELETED);
    CHECK_OK(smbh_logoff(t, s, NULL, NULL, NULL));
}

int main(void) {
    smbh_table *t = NULL;
    CHECK_OK(smbh_table_new(4, 1u << 20, &t));
    test_lifecycle(t);
    test_errors(t);
    smbh_table_free(t);
    puts("sessions_test: ok");
    return 0;
}
