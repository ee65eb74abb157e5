// splitmix64 (Steele, Lea and Flood 2014): one 64-bit word mixed into a
// well-spread other, the same on every platform. The trainer derives its
// per-sample noise seeds with it, and hidden dropout its per-neuron draws.
#pragma once

#include <cstdint>

namespace spiketime {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The top 53 bits of a word as a uniform double in [0, 1).
inline double unit_interval(uint64_t word) { return static_cast<double>(word >> 11) * 0x1.0p-53; }

}  // namespace spiketime
