// fuzz_check: FUZZ_CHECK(condition), a property of a fuzz target that must hold for every
// input. When it does not, the condition and its line are printed and the process aborts,
// which libFuzzer reports as a crash and keeps the input. Active in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace shub::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, condition);
  std::abort();
}

}  // namespace shub::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? void(0) : ::shub::fuzz::check_failed(#condition, __FILE__, __LINE__))
