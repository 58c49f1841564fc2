/* The check counters and CHECK macro the C test programs share; each program includes it once. */
#ifndef INPAINT_TEST_CHECK_H
#define INPAINT_TEST_CHECK_H

#include <stdio.h>

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#endif
