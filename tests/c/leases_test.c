/* Leases and oplocks through the C ABI: a lease granted, a second client's
 * open waiting for the break, the acknowledgement completing it through the
 * completion hook, the refusals of acknowledgements, an oplock break, a
 * write breaking read caching, and the break timeout. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smb_handles.h>

#include "check.h"

#define RD 0x1u
#define WR 0x2u
#define R 1u
#define H 2u
#define W 4u

static smbh_break seen[16];
static size_t nseen;
static uint64_t done_pending;
static smbh_status done_status = (smbh_status)-1;
static smbh_opened done_opened;

static void on_breaks(void *ctx, const smbh_break *b, size_t n) {
    CHECK(ctx == (void *)&seen);
    for (size_t i = 0; i < n && nseen < 16; i++) seen[nseen++] = b[i];
}

static void on_done(void *ctx, uint64_t pending, smbh_status s, const smbh_opened *o) {
    CHECK(ctx == NULL);
    done_pending = pending;
    done_status = s;
    CHECK((s == SMBH_STATUS_OK) == (o != NULL));
    if (o) done_opened = *o;
}

static smbh_open_params params(uint64_t file, uint32_t access, uint8_t client) {
    smbh_open_params p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.file_number = file;
    p.path = "/doc.docx";
    p.path_len = 9;
    p.owner = "S-1-5-21-7";
    p.owner_len = 10;
    p.access_mask = access;
    p.share_access = 7;
    p.lease.client_guid[0] = client;
    return p;
}

int main(void) {
    smbh_table *t;
    CHECK_OK(smbh_table_new(0, 0, &t));
    CHECK_OK(smbh_set_break_hook(t, on_breaks, &seen));
    CHECK_OK(smbh_set_completion_hook(t, on_done, NULL));

    /* A: lease RWH, granted whole. */
    smbh_open_params a = params(1, RD | WR, 1);
    a.oplock = SMBH_OPLOCK_LEASE;
    a.lease.key[0] = 0xA;
    a.lease.state = R | W | H;
    smbh_opened got;
    CHECK_OK(smbh_open_cached(t, &a, &got));
    CHECK(got.lease_granted && got.lease_state == (R | W | H) && got.oplock == SMBH_OPLOCK_LEASE);
    uint64_t a_loc = got.location;

    /* B (no lease) waits for A's break RWH -> RH. */
    smbh_open_params b = params(1, RD, 2);
    CHECK_STATUS(smbh_open_cached(t, &b, &got), SMBH_STATUS_BREAK_PENDING);
    CHECK(got.pending != 0 && got.location == 0);
    CHECK(smbh_status_nt(SMBH_STATUS_BREAK_PENDING) == 0x103u);
    uint64_t pending = got.pending;
    CHECK(nseen == 1);
    CHECK(seen[0].file_number == 1 && seen[0].oplock_location == 0);
    CHECK(seen[0].client_guid[0] == 1 && seen[0].key[0] == 0xA);
    CHECK(seen[0].from == (R | W | H) && seen[0].to == (R | H) && seen[0].ack_required);

    uint8_t guid[16] = {1}, key[16] = {0xA}, other[16] = {0xB};
    uint32_t state = 0;
    CHECK_STATUS(smbh_ack_lease_break(t, guid, key, R | W | H, &state), SMBH_STATUS_ACK_NOT_ACCEPTED);
    CHECK(smbh_status_nt(SMBH_STATUS_ACK_NOT_ACCEPTED) == 0xC00000D0u);
    CHECK(done_status == (smbh_status)-1); /* still waiting */
    CHECK_STATUS(smbh_ack_lease_break(t, guid, other, R, &state), SMBH_STATUS_LEASE_NOT_FOUND);
    CHECK_STATUS(smbh_ack_lease_break(t, guid, key, 8, &state), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_OK(smbh_ack_lease_break(t, guid, key, R | H, &state));
    CHECK(state == (R | H));
    CHECK(done_pending == pending && done_status == SMBH_STATUS_OK && done_opened.location != 0);
    CHECK(!done_opened.lease_granted && done_opened.oplock == 0);
    CHECK_STATUS(smbh_ack_lease_break(t, guid, key, R, &state), SMBH_STATUS_NOT_BREAKING);
    CHECK(smbh_status_nt(SMBH_STATUS_NOT_BREAKING) == 0xC0000001u);

    /* B's write breaks A's RH to none (acknowledgement required: it had H). */
    nseen = 0;
    CHECK_OK(smbh_break_for_write(t, done_opened.location));
    CHECK(nseen == 1 && seen[0].to == 0 && seen[0].ack_required);
    CHECK_OK(smbh_ack_lease_break(t, guid, key, 0, &state));
    CHECK_OK(smbh_close(t, done_opened.location));
    CHECK_OK(smbh_close(t, a_loc));

    /* Oplocks: batch, broken to level II by a second open. */
    smbh_open_params o = params(2, RD, 3);
    o.oplock = 9;
    CHECK_OK(smbh_open_cached(t, &o, &got));
    CHECK(got.oplock == 9 && !got.lease_granted);
    uint64_t o_loc = got.location;
    nseen = 0;
    smbh_open_params o2 = params(2, RD, 4);
    CHECK_STATUS(smbh_open_cached(t, &o2, &got), SMBH_STATUS_BREAK_PENDING);
    CHECK(nseen == 1 && seen[0].oplock_location == o_loc && seen[0].oplock_to == 1);
    uint8_t level = 0xEE;
    CHECK_STATUS(smbh_ack_oplock_break(t, o_loc, 9, &level), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(smbh_ack_oplock_break(t, o_loc, 7, &level), SMBH_STATUS_INVALID_ARGUMENT);
    CHECK_OK(smbh_ack_oplock_break(t, o_loc, 1, &level));
    CHECK(level == 1);
    CHECK_STATUS(smbh_ack_oplock_break(t, o_loc, 1, &level), SMBH_STATUS_NO_OPLOCK_BREAK);
    CHECK(smbh_status_nt(SMBH_STATUS_NO_OPLOCK_BREAK) == 0xC00000E3u);
    o.oplock = 7; /* no such level */
    CHECK_STATUS(smbh_open_cached(t, &o, &got), SMBH_STATUS_INVALID_ARGUMENT);

    /* No break outstanding: expire ends nothing and names no deadline. */
    size_t ended = 99;
    uint64_t next = 0;
    CHECK_OK(smbh_expire_breaks(t, &ended, &next));
    CHECK(ended == 0 && next == UINT64_MAX);
    CHECK_STATUS(smbh_expire_breaks(t, NULL, &next), SMBH_STATUS_NULL_PARAMETER);
    CHECK_STATUS(smbh_open_cached(t, &o2, NULL), SMBH_STATUS_NULL_PARAMETER);

    /* A key names one file per client. */
    smbh_open_params k = a;
    k.file_number = 3;
    CHECK_OK(smbh_open_cached(t, &a, &got));
    CHECK_STATUS(smbh_open_cached(t, &k, &got), SMBH_STATUS_INVALID_ARGUMENT);

    CHECK_OK(smbh_set_break_hook(t, NULL, NULL));
    CHECK_OK(smbh_set_completion_hook(t, NULL, NULL));
    smbh_table_free(t);
    printf("leases_test: ok\n");
    return 0;
}
