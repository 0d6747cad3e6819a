// What every fuzz target shares: FUZZ_CHECK, an assertion that stays on in
// release builds and crashes loudly (libFuzzer and the replay tests report
// a crash; a failed check is a bug in the parser under test).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
