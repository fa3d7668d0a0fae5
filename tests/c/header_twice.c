/* The header must be includable twice in one translation unit and compile
 * warning-free as C11 and as C++17 (the harness builds this file both ways
 * with -Wall -Wextra -Wpedantic -Werror). */
#include "smb_handles.h"
#include "smb_handles.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    smbh_table *table = NULL;
    smbh_status s = smbh_table_new(1, 8, &table);
    if (s != SMBH_STATUS_OK || table == NULL) {
        fprintf(stderr, "smbh_table_new: %s\n", smbh_status_message(s));
        return 1;
    }
    smbh_list_query query;
    memset(&query, 0, sizeof query);
    query.after = SMBH_CURSOR_START;
    query.limit = SMBH_DEFAULT_LIST_LIMIT;
    size_t len = 1;
    s = smbh_len(table, &len);
    smbh_table_free(table);
    if (s != SMBH_STATUS_OK || len != 0) {
        fprintf(stderr, "smbh_len: %s\n", smbh_status_message(s));
        return 1;
    }
    if (strcmp(smbh_status_message(SMBH_STATUS_NOT_FOUND), "handle not found") != 0) {
        return 1;
    }
    return 0;
}
