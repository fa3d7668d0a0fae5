/* Several pthreads use one table at once: openers/closers (single closes and
 * batches), racers that all try to close the same contested handles, and
 * walkers paging through the table with smbh_list and smbh_list_json.
 *
 * Invariants checked (the same as tests/concurrency.rs):
 * - each contested location is closed successfully exactly once across all
 *   threads (never twice, never lost);
 * - every walk sees every long-lived handle exactly once and no handle
 *   twice (a walk's locations strictly increase in (shard, slot) order);
 * - nothing is lost: afterwards the table holds exactly the long-lived
 *   handles plus those the workers deliberately kept. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

#define STABLE 2000
#define CONTESTED 3000
#define WORKERS 4
#define WALKERS 2
#define ROUNDS 1000
#define PER_ROUND 8
#define KEPT_PER_WORKER 50

static smbh_table *table;
static uint64_t stable[STABLE]; /* sorted after setup, for bsearch */
static uint64_t contested[CONTESTED];
static atomic_uint contested_wins[CONTESTED];
static atomic_bool workers_done;
static pthread_barrier_t start;

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t open_one(uint64_t file, const char *owner) {
    uint64_t loc = 0;
    CHECK_OK(smbh_open(table, file, "/share/f", 8, owner, strlen(owner), 0x1u, false, &loc));
    return loc;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    uint64_t seed;
    uint64_t kept[KEPT_PER_WORKER];
} worker_arg;

/* Opens and closes its own handles (singly and in batches, including a
 * repeat and a stale location per batch), keeps a few, and races the others
 * for the contested handles. */
static void *worker(void *p) {
    worker_arg *arg = (worker_arg *)p;
    uint64_t rng = arg->seed;
    pthread_barrier_wait(&start);
    uint64_t mine[PER_ROUND];
    uint64_t stale = 0;
    size_t next_contested = (size_t)(xorshift(&rng) % CONTESTED);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            mine[i] = open_one(xorshift(&rng) % 97, "worker");
        }
        if (round % 2 == 0) {
            for (int i = 0; i < PER_ROUND; i++) {
                CHECK_OK(smbh_close(table, mine[i]));
                CHECK_STATUS(smbh_close(table, mine[i]), SMBH_STATUS_NOT_FOUND);
            }
            stale = mine[0];
        } else {
            uint64_t batch[PER_ROUND + 2];
            smbh_status st[PER_ROUND + 2];
            memcpy(batch, mine, sizeof mine);
            batch[PER_ROUND] = mine[3];   /* a repeat */
            batch[PER_ROUND + 1] = stale; /* closed last round */
            CHECK_OK(smbh_close_batch(table, batch, PER_ROUND + 2, st));
            for (int i = 0; i < PER_ROUND; i++) {
                CHECK(st[i] == SMBH_STATUS_OK);
            }
            CHECK(st[PER_ROUND] == SMBH_STATUS_NOT_FOUND);
            CHECK(st[PER_ROUND + 1] == SMBH_STATUS_NOT_FOUND);
        }
        /* Race for ten contested handles, alternating single and batch. */
        uint64_t batch[10];
        size_t idx[10];
        for (int i = 0; i < 10; i++) {
            idx[i] = next_contested;
            batch[i] = contested[next_contested];
            next_contested = (next_contested + 1 + (size_t)(xorshift(&rng) % 3)) % CONTESTED;
        }
        if (round % 3 == 0) {
            smbh_status st[10];
            CHECK_OK(smbh_close_batch(table, batch, 10, st));
            for (int i = 0; i < 10; i++) {
                CHECK(st[i] == SMBH_STATUS_OK || st[i] == SMBH_STATUS_NOT_FOUND);
                if (st[i] == SMBH_STATUS_OK) {
                    atomic_fetch_add(&contested_wins[idx[i]], 1);
                }
            }
        } else {
            for (int i = 0; i < 10; i++) {
                smbh_status s = smbh_close(table, batch[i]);
                CHECK(s == SMBH_STATUS_OK || s == SMBH_STATUS_NOT_FOUND);
                if (s == SMBH_STATUS_OK) {
                    atomic_fetch_add(&contested_wins[idx[i]], 1);
                }
            }
        }
    }
    for (int i = 0; i < KEPT_PER_WORKER; i++) {
        arg->kept[i] = open_one(1000 + (uint64_t)i, "kept");
    }
    return NULL;
}

typedef struct {
    uint64_t last_position; /* shard and slot: the low 32 bits */
    bool any;
    unsigned char *stable_seen;
    size_t visited;
} walk_state;

static int walk_visit(void *p, const smbh_handle *h) {
    walk_state *w = (walk_state *)p;
    uint64_t position = h->location & 0xffffffffu;
    /* Stable order: never the same slot twice, never backwards. */
    CHECK(!w->any || position > w->last_position);
    w->any = true;
    w->last_position = position;
    w->visited++;
    const uint64_t *hit =
        (const uint64_t *)bsearch(&h->location, stable, STABLE, sizeof stable[0], cmp_u64);
    if (hit != NULL) {
        w->stable_seen[hit - stable]++;
        CHECK(h->owner_len == strlen("stable") && memcmp(h->owner, "stable", 6) == 0);
    }
    return 0;
}

/* Walks the whole table again and again until the workers finish, checking
 * the paging guarantee on every walk; every fourth walk is in JSON. */
static void *walker(void *p) {
    size_t limit = (size_t)(uintptr_t)p;
    unsigned char *seen = (unsigned char *)malloc(STABLE);
    CHECK(seen != NULL);
    pthread_barrier_wait(&start);
    int walks = 0;
    do {
        walk_state w;
        memset(&w, 0, sizeof w);
        memset(seen, 0, STABLE);
        w.stable_seen = seen;
        smbh_list_query q;
        memset(&q, 0, sizeof q);
        q.limit = limit;
        q.resolve_paths = walks % 2 == 0;
        uint64_t next = SMBH_CURSOR_START;
        do {
            q.after = next;
            CHECK_OK(smbh_list(table, &q, walk_visit, &w, &next));
        } while (next != SMBH_CURSOR_DONE);
        for (size_t i = 0; i < STABLE; i++) {
            if (seen[i] != 1) {
                fprintf(stderr, "walk %d saw long-lived handle %zu %u times\n", walks, i,
                        (unsigned)seen[i]);
                exit(1);
            }
        }
        if (walks % 4 == 3) {
            q.after = SMBH_CURSOR_START;
            size_t pages = 0;
            do {
                char *json = NULL;
                size_t len = 0;
                CHECK_OK(smbh_list_json(table, &q, &json, &len, &next));
                CHECK(len == strlen(json) && strncmp(json, "{\"file_handles\":[", 17) == 0);
                smbh_string_free(json);
                q.after = next;
                pages++;
            } while (next != SMBH_CURSOR_DONE);
            CHECK(pages >= STABLE / limit);
        }
        walks++;
    } while (!atomic_load(&workers_done) || walks < 3);
    free(seen);
    return NULL;
}

int main(void) {
    CHECK_OK(smbh_table_new(8, 0, &table));
    for (size_t i = 0; i < STABLE; i++) {
        stable[i] = open_one(i % 300, "stable");
    }
    qsort(stable, STABLE, sizeof stable[0], cmp_u64);
    for (size_t i = 0; i < CONTESTED; i++) {
        contested[i] = open_one(5000 + i % 200, "contested");
        atomic_init(&contested_wins[i], 0);
    }
    atomic_init(&workers_done, false);
    CHECK(pthread_barrier_init(&start, NULL, WORKERS + WALKERS) == 0);

    pthread_t workers[WORKERS], walkers[WALKERS];
    worker_arg args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        args[i].seed = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1);
        CHECK(pthread_create(&workers[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < WALKERS; i++) {
        CHECK(pthread_create(&walkers[i], NULL, walker, (void *)(uintptr_t)(37 + 60 * i)) == 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        CHECK(pthread_join(workers[i], NULL) == 0);
    }
    atomic_store(&workers_done, true);
    for (int i = 0; i < WALKERS; i++) {
        CHECK(pthread_join(walkers[i], NULL) == 0);
    }
    pthread_barrier_destroy(&start);

    /* Close the contested handles nobody won: each must close exactly once
     * overall. */
    size_t won = 0;
    for (size_t i = 0; i < CONTESTED; i++) {
        unsigned wins = atomic_load(&contested_wins[i]);
        CHECK(wins <= 1);
        if (wins == 0) {
            CHECK_OK(smbh_close(table, contested[i]));
        } else {
            won++;
            CHECK_STATUS(smbh_close(table, contested[i]), SMBH_STATUS_NOT_FOUND);
        }
    }
    CHECK(won > 0);

    /* Nothing lost: exactly the long-lived and the kept handles remain. */
    size_t len = 0;
    CHECK_OK(smbh_len(table, &len));
    CHECK(len == STABLE + WORKERS * KEPT_PER_WORKER);
    for (int i = 0; i < WORKERS; i++) {
        smbh_status st[KEPT_PER_WORKER];
        CHECK_OK(smbh_close_batch(table, args[i].kept, KEPT_PER_WORKER, st));
        for (int k = 0; k < KEPT_PER_WORKER; k++) {
            CHECK(st[k] == SMBH_STATUS_OK);
        }
    }
    smbh_status *st = (smbh_status *)malloc(STABLE * sizeof *st);
    CHECK(st != NULL);
    CHECK_OK(smbh_close_batch(table, stable, STABLE, st));
    for (size_t i = 0; i < STABLE; i++) {
        CHECK(st[i] == SMBH_STATUS_OK);
    }
    free(st);
    CHECK_OK(smbh_len(table, &len));
    CHECK(len == 0);
    smbh_table_free(table);
    printf("threads_test: ok (%zu contested handles won by racers)\n", won);
    return 0;
}
