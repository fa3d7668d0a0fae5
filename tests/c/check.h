/* Assertions for the C ABI tests: every failure prints where and why, then
 * exits non-zero so the Rust harness (tests/c_abi.rs) fails loudly. */
#ifndef SMBH_TEST_CHECK_H
#define SMBH_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "smb_handles.h"

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                      \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* Evaluates `call` once and requires the status `want`. */
#define CHECK_STATUS(call, want)                                                 \
    do {                                                                         \
        smbh_status got_ = (call);                                               \
        smbh_status want_ = (want);                                              \
        if (got_ != want_) {                                                     \
            fprintf(stderr, "%s:%d: %s\n  returned %u (%s), expected %u (%s)\n", \
                    __FILE__, __LINE__, #call, (unsigned)got_,                   \
                    smbh_status_message((uint32_t)got_), (unsigned)want_,        \
                    smbh_status_message((uint32_t)want_));                       \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, SMBH_STATUS_OK)

#endif /* SMBH_TEST_CHECK_H */
