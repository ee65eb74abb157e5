// Work that may crash, hang or exhaust memory for reasons outside this
// project, run in a child process so that the caller gets an error instead.
// Its one user is the NIR import: Debian's libhdf5 (1.10.8) overflows
// buffers, loops without end and asks for absurd memory on damaged files
// (docs/LIMITS.md), before any check of ours sees them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace spiketime::io {

// Whether ChildLimits::memory_bytes is applied: not in a build with
// AddressSanitizer, whose shadow memory the limit would exhaust.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kMemoryLimitApplies = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kMemoryLimitApplies = false;
#else
inline constexpr bool kMemoryLimitApplies = true;
#endif
#else
inline constexpr bool kMemoryLimitApplies = true;
#endif

struct ChildLimits {
  double seconds = 60.0;           // wall-clock time until the child is killed
  std::uint64_t memory_bytes = 0;  // address space the child may add to the caller's; 0: no limit
};

// Forks; the child runs work() and sends back the bytes it returns, or the
// message of the InputError it throws, then ends with _exit (no destructor,
// atexit handler or buffered stream of the caller runs twice). Returns those
// bytes, or throws InputError: work's own message, or `failure` followed by
// how the child ended (a signal, an exit without an answer, out of memory,
// the time limit, after which it is killed).
std::string run_in_child(const std::function<std::string()>& work, const ChildLimits& limits,
                         const std::string& failure);

}  // namespace spiketime::io
