/* A file server's view of smb-handles from C: open handles for a few
 * clients, list them as JSON, force-close a batch, free everything.
 *
 * Build from an installed library (`cargo cinstall --release --prefix=P`,
 * or scripts/install-c.sh), with PKG_CONFIG_PATH set to its pkgconfig folder:
 *     cc -std=c11 open_files.c $(pkg-config --cflags --libs smb_handles) -o open_files
 *     cmake -S examples/c -B build -DCMAKE_PREFIX_PATH=P && cmake --build build
 *     make -C examples/c
 * or, without installing, from a checkout after `cargo build --release`:
 *     cc -std=c11 -Wall -Iinclude examples/c/open_files.c \
 *        target/release/libsmb_handles.a -lpthread -ldl -lm -lrt -o open_files
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb_handles.h"

#define FILE_READ_DATA 0x1u
#define FILE_WRITE_DATA 0x2u
#define FILE_LIST_DIRECTORY 0x1u /* same bit as FILE_READ_DATA, on a directory */
#define SYNCHRONIZE 0x100000u

/* Every call returns a status; this example stops at the first error. */
static void check(smbh_status s, const char *what) {
    if (s != SMBH_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", what, smbh_status_message(s));
        exit(1);
    }
}

/* Registers one open; strings are (pointer, length) and copied. */
static uint64_t open_handle(smbh_table *t, uint64_t file, const char *path, const char *owner,
                            uint32_t access, bool directory) {
    uint64_t location = 0;
    check(smbh_open(t, file, path, strlen(path), owner, strlen(owner), access, directory,
                    &location),
          "smbh_open");
    return location;
}

int main(void) {
    smbh_table *table = NULL;
    check(smbh_table_new(0, 0, &table), "smbh_table_new"); /* 0, 0: sized for this machine */

    /* Three clients open files; the server keeps the locations (its SMB2 file ids). */
    uint64_t alice = open_handle(table, 4242, "/projects/q3/report.xlsx", "S-1-5-21-1-1104",
                                 FILE_READ_DATA | SYNCHRONIZE, false);
    uint64_t bob = open_handle(table, 4242, "/projects/q3/report.xlsx", "S-1-5-21-1-1105",
                               FILE_READ_DATA | FILE_WRITE_DATA, false);
    open_handle(table, 17, "/projects", "S-1-5-21-1-1106", FILE_LIST_DIRECTORY, true);

    uint32_t locks = 0;
    check(smbh_adjust_byte_range_locks(table, bob, 1, &locks), "lock"); /* bob locks a range */

    /* An administrator asks what is open: the JSON of GET /v1/smb/files. */
    smbh_list_query query;
    memset(&query, 0, sizeof query);
    query.after = SMBH_CURSOR_START;
    query.limit = SMBH_DEFAULT_LIST_LIMIT;
    query.resolve_paths = true;
    char *json = NULL;
    size_t json_len = 0;
    uint64_t next = 0;
    check(smbh_list_json(table, &query, &json, &json_len, &next), "smbh_list_json");
    printf("%s\n", json);
    smbh_string_free(json); /* strings the library returns are ours to free */

    /* ...and force-closes the report's two handles in one batch. */
    uint64_t batch[2] = {alice, bob};
    smbh_status results[2];
    check(smbh_close_batch(table, batch, 2, results), "smbh_close_batch");
    int closed = 0;
    for (int i = 0; i < 2; i++) {
        char text[SMBH_LOCATION_TEXT_LEN + 1];
        check(smbh_location_format(batch[i], text, sizeof text), "smbh_location_format");
        printf("close %s: %s\n", text, smbh_status_message(results[i]));
        closed += results[i] == SMBH_STATUS_OK;
    }
    printf("closed %d of 2\n", closed);

    /* A stale location is refused, never mistaken for another handle. */
    printf("closing alice again: %s\n", smbh_status_message(smbh_close(table, alice)));

    size_t still_open = 0;
    check(smbh_len(table, &still_open), "smbh_len");
    printf("%zu handle(s) still open\n", still_open);

    smbh_table_free(table); /* frees the table and the handles left in it */
    return 0;
}
