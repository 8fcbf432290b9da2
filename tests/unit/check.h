/* check.h — the unit tests' assertion.  CHECK counts a failure and goes on,
 * so one run reports every broken expectation; main returns failures != 0. */
#ifndef TFX_TEST_CHECK_H
#define TFX_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
      failures++;                                                                    \
    }                                                                                \
  } while (0)

#endif
