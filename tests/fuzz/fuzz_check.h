// The assertion of the fuzz targets: active in every build type (NDEBUG or not), and an abort
// that both libFuzzer and the replay tests report as a crash with the failed condition.
#pragma once

#include <cstdio>
#include <cstdlib>

/// Aborts with file, line and condition when `cond` is false.
#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
