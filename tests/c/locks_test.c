/* C ABI tests of share modes, byte-range locks, the unlock hook and
 * NTSTATUS (SPEC sections 9-11): every new function and every error path.
 * Built with -Wall -Wextra -Wpedantic -Werror and run under ASan/UBSan by
 * tests/c_abi.rs, and under valgrind by scripts/c-tests-valgrind.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define RD 0x1u
#define WR 0x2u
#define ATTRS 0x80u

/* Fresh, heap-allocated, non-NUL-terminated strings per open, as a server
 * that builds them from a request would pass them. */
static smbh_status open_ex(smbh_table *t, uint64_t file, uint32_t access, uint32_t share,
                           uint64_t *loc) {
    char *path = malloc(32), *owner = malloc(32);
    CHECK(path && owner);
    int pl = snprintf(path, 32, "/share/%llu", (unsigned long long)file);
    memcpy(owner, "S-1-5-21-1", 10);
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = file;
    p.path = path;
    p.path_len = (size_t)pl;
    p.owner = owner;
    p.owner_len = 10;
    p.access_mask = access;
    p.share_access = share;
    smbh_status s = smbh_open_ex(t, &p, loc);
    free(path);
    free(owner);
    return s;
}

static void test_open_ex(smbh_table *t) {
    uint64_t a = 0, b = 7, c = 0;
    CHECK_OK(open_ex(t, 1, RD, SMBH_SHARE_READ, &a));
    CHECK(a != 0);
    CHECK_STATUS(open_ex(t, 1, WR, SMBH_SHARE_READ | SMBH_SHARE_WRITE, &b),
                 SMBH_STATUS_SHARING_VIOLATION);
    CHECK(b == 7); /* not written on failure */
    CHECK_OK(open_ex(t, 1, ATTRS, 0, &c));   /* a stat open always passes */
    CHECK_OK(open_ex(t, 1, RD, SMBH_SHARE_READ, &b));
    CHECK_STATUS(open_ex(t, 1, RD, 0x8, &b), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(open_ex(t, 1, 0x00200000u, 7, &b), SMBH_STATUS_RESERVED_ACCESS_BITS);
    CHECK_OK(smbh_close(t, a));
    CHECK_OK(smbh_close(t, b));
    CHECK_OK(smbh_close(t, c));
    CHECK_OK(open_ex(t, 1, WR, 7, &a)); /* nothing denies writing now */
    CHECK_OK(smbh_close(t, a));

    /* The size field: too small, larger with a zero tail (a newer caller),
     * larger with a non-zero tail (an option this library does not know). */
    struct {
        smbh_open_params p;
        uint64_t extra;
    } big;
    memset(&big, 0, sizeof big);
    big.p.path = "/x";
    big.p.path_len = 2;
    big.p.owner = "o";
    big.p.owner_len = 1;
    big.p.access_mask = RD;
    big.p.share_access = 7;
    big.p.size = sizeof big.p - 1;
    CHECK_STATUS(smbh_open_ex(t, &big.p, &a), SMBH_STATUS_INVALID_ARGUMENT);
    /* The struct as the 0.1 header had it, ending with `directory`. */
    big.p.size = offsetof(smbh_open_params, tree);
    big.p.delete_on_close = true; /* past the caller's size: not read */
    CHECK_OK(smbh_open_ex(t, &big.p, &a));
    {
        bool delete_file = true;
        CHECK_OK(smbh_close_ex(t, a, &delete_file));
        CHECK(!delete_file); /* its only close: true had the flag been read */
    }
    big.p.delete_on_close = false;
    big.p.size = offsetof(smbh_open_params, delete_on_close); /* no released version */
    CHECK_STATUS(smbh_open_ex(t, &big.p, &a), SMBH_STATUS_INVALID_ARGUMENT);
    big.p.size = sizeof big.p;
    big.p.oplock = 9; /* smbh_open_ex takes no oplock request */
    CHECK_STATUS(smbh_open_ex(t, &big.p, &a), SMBH_STATUS_INVALID_ARGUMENT);
    big.p.oplock = 0;
    big.p.size = sizeof big;
    CHECK_OK(smbh_open_ex(t, &big.p, &a));
    CHECK_OK(smbh_close(t, a));
    big.extra = 1;
    CHECK_STATUS(smbh_open_ex(t, &big.p, &a), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_open_ex(NULL, &big.p, &a), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open_ex(t, NULL, &a), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open_ex(t, &big.p, NULL), SMBH_STATUS_NULL_PARAMETER);
    big.extra = 0;
    big.p.path = NULL;
    CHECK_STATUS(smbh_open_ex(t, &big.p, &a), SMBH_STATUS_NULL_PARAMETER);
    big.p.path = "\xff";
    big.p.path_len = 1;
    CHECK_STATUS(smbh_open_ex(t, &big.p, &a), SMBH_STATUS_INVALID_UTF8);
}

static uint64_t released_file;
static int released_calls;

static void on_unlock(void *context, uint64_t file_number) {
    CHECK(context == &released_calls);
    released_file = file_number;
    released_calls++;
}

static void test_locks(smbh_table *t) {
    uint64_t a, b;
    CHECK_OK(open_ex(t, 2, RD | WR, 7, &a));
    CHECK_OK(open_ex(t, 2, RD | WR, 7, &b));
    CHECK_OK(smbh_set_unlock_hook(t, on_unlock, &released_calls));
    uint32_t n = 99;
    size_t idx = 99;
    smbh_lock_element x[3] = {{0, 100, true}, {200, 10, false}, {UINT64_MAX, 2, false}};
    CHECK_OK(smbh_lock(t, a, x, 2, &n, &idx));
    CHECK(n == 2 && idx == 99);
    smbh_lock_element y[2] = {{300, 1, true}, {50, 1, false}};
    n = 77;
    CHECK_STATUS(smbh_lock(t, b, y, 2, &n, &idx), SMBH_STATUS_LOCK_NOT_GRANTED);
    CHECK(idx == 1 && n == 77);
    CHECK_STATUS(smbh_lock(t, b, &x[2], 1, &n, &idx), SMBH_STATUS_INVALID_LOCK_RANGE);
    CHECK(idx == 0);
    CHECK_OK(smbh_lock(t, b, y, 1, &n, &idx)); /* the failed call left 300 free */
    CHECK(n == 1);
    CHECK_OK(smbh_lock(t, a, x, 0, &n, &idx)); /* an empty request changes nothing */
    CHECK(n == 2);

    CHECK_OK(smbh_check_io(t, b, 150, 10, SMBH_IO_READ));
    CHECK_STATUS(smbh_check_io(t, b, 50, 10, SMBH_IO_READ), SMBH_STATUS_FILE_LOCK_CONFLICT);
    CHECK_STATUS(smbh_check_io(t, a, 205, 1, SMBH_IO_WRITE), SMBH_STATUS_FILE_LOCK_CONFLICT);
    CHECK_OK(smbh_check_io(t, a, 50, 10, SMBH_IO_WRITE));
    CHECK_OK(smbh_check_io(t, b, 50, 0, SMBH_IO_WRITE)); /* zero length never conflicts */
    CHECK_STATUS(smbh_check_io(t, b, 0, 1, 2), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_check_io(t, b, UINT64_MAX, 2, SMBH_IO_READ), SMBH_STATUS_INVALID_ARGUMENT);

    smbh_lock_range r[2] = {{200, 10}, {0, 99}};
    CHECK_STATUS(smbh_unlock(t, a, r, 2, &n, &idx), SMBH_STATUS_RANGE_NOT_LOCKED);
    CHECK(idx == 1);
    CHECK(released_calls == 1 && released_file == 2); /* the first range was released */
    CHECK_OK(smbh_unlock(t, a, r, 0, &n, &idx));
    CHECK(n == 1);
    CHECK_OK(smbh_close(t, a)); /* releases the remaining lock */
    CHECK(released_calls == 2);
    CHECK_OK(smbh_check_io(t, b, 50, 10, SMBH_IO_WRITE));
    CHECK_OK(smbh_set_unlock_hook(t, NULL, NULL));
    CHECK_OK(smbh_close(t, b));
    CHECK(released_calls == 2); /* the hook was removed */

    /* Closed and malformed locations, NULL pointers. */
    CHECK_STATUS(smbh_lock(t, a, x, 1, &n, &idx), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_unlock(t, a, r, 1, &n, &idx), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_check_io(t, a, 0, 1, SMBH_IO_READ), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_lock(t, 0, x, 1, &n, &idx), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_unlock(t, UINT64_MAX, r, 1, &n, &idx), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_check_io(t, 0, 0, 1, SMBH_IO_READ), SMBH_STATUS_INVALID_LOCATION);
    CHECK_STATUS(smbh_lock(NULL, a, x, 1, &n, &idx), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_lock(t, a, NULL, 0, &n, &idx), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_lock(t, a, x, 1, NULL, &idx), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_lock(t, a, x, 1, &n, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_unlock(t, a, NULL, 0, &n, &idx), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_unlock(t, a, r, 1, NULL, &idx), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_check_io(NULL, a, 0, 1, SMBH_IO_READ), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_set_unlock_hook(NULL, on_unlock, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_lock(t, a, x, SIZE_MAX, &n, &idx), SMBH_STATUS_INVALID_ARGUMENT);
}

static void test_status_nt(void) {
    CHECK(smbh_status_nt(SMBH_STATUS_OK) == 0);
    CHECK(smbh_status_nt(SMBH_STATUS_SHARING_VIOLATION) == 0xC0000043u);
    CHECK(smbh_status_nt(SMBH_STATUS_LOCK_NOT_GRANTED) == 0xC0000055u);
    CHECK(smbh_status_nt(SMBH_STATUS_RANGE_NOT_LOCKED) == 0xC000007Eu);
    CHECK(smbh_status_nt(SMBH_STATUS_FILE_LOCK_CONFLICT) == 0xC0000054u);
    CHECK(smbh_status_nt(SMBH_STATUS_INVALID_LOCK_RANGE) == 0xC00001A1u);
    CHECK(smbh_status_nt(SMBH_STATUS_NOT_FOUND) == 0xC0000128u);
    CHECK(smbh_status_nt(SMBH_STATUS_NULL_PARAMETER) == 0xC000000Du);
    CHECK(smbh_status_nt(SMBH_STATUS_DIRECTORY_HANDLE) == 0xC0000010u);
    CHECK(smbh_status_nt(SMBH_STATUS_TOO_MANY_LOCKS) == 0xC000009Au);
    for (uint32_t s = 1; s <= SMBH_STATUS_OWNER_CONTAINS_NUL; s++) {
        CHECK((smbh_status_nt(s) & 0xC0000000u) == 0xC0000000u); /* every error is an error */
    }
    CHECK(smbh_status_nt(SMBH_STATUS_NO_DURABLE_OPEN + 1) == 0xC0000001u);
    CHECK(smbh_status_nt(UINT32_MAX) == 0xC0000001u);
}

/* A directory handle has no byte ranges: lock, unlock and check_io are
 * refused first (as smbd answers LOCK and READ on a directory with
 * STATUS_INVALID_DEVICE_REQUEST), writing no output; a file handle of the
 * same table is unaffected. */
static void test_directory(smbh_table *t) {
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = 900;
    p.path = "/dir";
    p.path_len = 4;
    p.owner = "S-1-5-21-1";
    p.owner_len = 10;
    p.access_mask = RD;
    p.share_access = 7;
    p.directory = true;
    uint64_t d = 0, f = 0;
    CHECK_OK(smbh_open_ex(t, &p, &d));
    CHECK_OK(open_ex(t, 901, RD | WR, 7, &f));
    smbh_lock_element x = {0, 10, true};
    smbh_lock_range r = {0, 10};
    uint32_t n = 77;
    size_t idx = 77;
    CHECK_STATUS(smbh_lock(t, d, &x, 1, &n, &idx), SMBH_STATUS_DIRECTORY_HANDLE);
    CHECK(n == 77 && idx == 77);
    CHECK_STATUS(smbh_unlock(t, d, &r, 1, &n, &idx), SMBH_STATUS_DIRECTORY_HANDLE);
    CHECK(n == 77 && idx == 77);
    CHECK_STATUS(smbh_check_io(t, d, 0, 0, SMBH_IO_READ), SMBH_STATUS_DIRECTORY_HANDLE);
    CHECK_STATUS(smbh_check_io(t, d, 0, 5, SMBH_IO_WRITE), SMBH_STATUS_DIRECTORY_HANDLE);
    CHECK(smbh_status_nt(SMBH_STATUS_DIRECTORY_HANDLE) == 0xC0000010u);
    CHECK_OK(smbh_lock(t, f, &x, 1, &n, &idx));
    CHECK(n == 1);
    CHECK_OK(smbh_close(t, d));
    CHECK_OK(smbh_close(t, f));
}

/* A handle whose lock count is at UINT32_MAX (reported locks) cannot take
 * another: SMBH_STATUS_TOO_MANY_LOCKS with the element's index, and the same
 * NTSTATUS as Rust's LockRangeError::TooManyLocks. */
static void test_too_many_locks(smbh_table *t) {
    uint64_t a = 0;
    uint32_t count = 0, n = 77;
    size_t idx = 77;
    CHECK_OK(open_ex(t, 950, RD | WR, 7, &a));
    CHECK_OK(smbh_adjust_byte_range_locks(t, a, (int64_t)UINT32_MAX, &count));
    CHECK(count == UINT32_MAX);
    smbh_lock_element x[2] = {{0, 10, true}, {20, 10, true}};
    CHECK_STATUS(smbh_lock(t, a, x, 2, &n, &idx), SMBH_STATUS_TOO_MANY_LOCKS);
    CHECK(n == 77 && idx == 0);
    CHECK(smbh_status_nt(SMBH_STATUS_TOO_MANY_LOCKS) == 0xC000009Au);
    CHECK_OK(smbh_close(t, a));
}

/* Delete-on-close and FileDispositionInformation: the state, the refused
 * opens, and which close reports that the file must go. */
static void test_delete_pending(smbh_table *t) {
    const uint32_t DEL = 0x00010000u;
    uint64_t a = 0, b = 0, c = 7;
    bool delete_file = true;
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = 900;
    p.path = "/doc.tmp";
    p.path_len = 8;
    p.owner = "o";
    p.owner_len = 1;
    p.share_access = 7;
    p.access_mask = RD;
    p.delete_on_close = true;
    CHECK_STATUS(smbh_open_ex(t, &p, &a), SMBH_STATUS_INVALID_ARGUMENT);
    p.access_mask = 0x10000000u; /* GENERIC_ALL alone: refused as smbd does */
    CHECK_STATUS(smbh_open_ex(t, &p, &a), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK(smbh_status_nt(SMBH_STATUS_ACCESS_DENIED) == 0xC0000022u);
    p.access_mask = RD | DEL;
    CHECK_OK(smbh_open_ex(t, &p, &a));
    CHECK_OK(open_ex(t, 900, RD, 7, &b)); /* not pending until a closes */
    CHECK_OK(smbh_close_ex(t, a, &delete_file));
    CHECK(!delete_file);
    CHECK_STATUS(open_ex(t, 900, RD, 7, &c), SMBH_STATUS_DELETE_PENDING);
    CHECK(c == 7);
    CHECK(smbh_status_nt(SMBH_STATUS_DELETE_PENDING) == 0xC0000056u);
    CHECK_STATUS(smbh_set_delete_pending(t, b, false), SMBH_STATUS_ACCESS_DENIED);
    CHECK_OK(smbh_close_ex(t, b, &delete_file));
    CHECK(delete_file); /* the last close of a delete-pending file */

    /* The disposition set and cleared through a handle with DELETE. */
    CHECK_OK(open_ex(t, 901, RD | DEL, 7, &a));
    CHECK_OK(smbh_set_delete_pending(t, a, true));
    CHECK_STATUS(open_ex(t, 901, RD, 7, &c), SMBH_STATUS_DELETE_PENDING);
    CHECK_OK(smbh_set_delete_pending(t, a, false));
    CHECK_OK(open_ex(t, 901, RD, 7, &b));
    CHECK_OK(smbh_close_ex(t, b, &delete_file));
    CHECK(!delete_file);
    CHECK_OK(smbh_close_ex(t, a, &delete_file));
    CHECK(!delete_file);
    CHECK_STATUS(smbh_close_ex(t, a, &delete_file), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_close_ex(t, a, NULL), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_set_delete_pending(t, a, true), SMBH_STATUS_NOT_FOUND);
    CHECK_STATUS(smbh_set_delete_pending(NULL, a, true), SMBH_STATUS_NULL_PARAMETER);
}

int main(void) {
    smbh_table *t = NULL;
    CHECK_OK(smbh_table_new(4, 1000, &t));
    test_open_ex(t);
    test_locks(t);
    test_directory(t);
    test_too_many_locks(t);
    test_delete_pending(t);
    test_status_nt();
    size_t len = 1;
    CHECK_OK(smbh_len(t, &len));
    CHECK(len == 0);
    smbh_table_free(t);
    printf("locks_test: ok\n");
    return 0;
}
