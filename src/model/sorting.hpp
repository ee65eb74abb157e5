// Sorting helpers of the engine's hot paths (private to src/model).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace spiketime::detail {

// A stable counting sort: order gets the indices [0, count) grouped by
// key(i) < n_keys, and start[k] where the group of key k begins (start has
// n_keys + 1 entries).
template <class Key>
void group_by(std::size_t count, std::size_t n_keys, Key key, std::vector<uint32_t>& start,
              std::vector<uint32_t>& order) {
  start.assign(n_keys + 1, 0);
  for (std::size_t i = 0; i < count; ++i) ++start[key(i) + 1];
  for (std::size_t k = 0; k < n_keys; ++k) start[k + 1] += start[k];
  order.resize(count);
  for (std::size_t i = 0; i < count; ++i) order[start[key(i)]++] = static_cast<uint32_t>(i);
  // Each start[k] now holds the end of group k, which is where group k + 1 begins.
  for (std::size_t k = n_keys; k > 0; --k) start[k] = start[k - 1];
  start[0] = 0;
}

// Sorts items[0, count) by `earlier`, a strict total order that orders by
// time(item) first; the times lie in [lo, hi] (up to rounding). The result is
// that of any sort. A comparison sort mispredicts about every other comparison on spike
// times; instead the items are first distributed over as many buckets as
// there are items by their time (monotone), which leaves them nearly sorted,
// and an insertion sort then finishes with predictable comparisons. start,
// order and copy are scratch memory, reused so that nothing is allocated
// once warm.
template <class T, class Time, class Earlier>
void sort_by_time(T* items, std::size_t count, double lo, double hi, Time time, Earlier earlier,
                  std::vector<uint32_t>& start, std::vector<uint32_t>& order, std::vector<T>& copy) {
  constexpr std::size_t kBucketed = 16;  // smaller groups (most steps hold a few spikes) need no buckets
  // (per_time is not finite when all times are equal or span less than a normal double.)
  const double per_time = count >= kBucketed ? static_cast<double>(count) / (hi - lo) : 0.0;
  if (count >= kBucketed && std::isfinite(per_time)) {
    const auto bucket = [&](std::size_t i) {
      // Clamped: a time rounded to just outside [lo, hi] still orders right.
      const double b = std::clamp((time(items[i]) - lo) * per_time, 0.0, static_cast<double>(count - 1));
      return static_cast<std::size_t>(b);
    };
    group_by(count, count, bucket, start, order);
    copy.resize(count);
    for (std::size_t i = 0; i < count; ++i) copy[i] = items[order[i]];
    std::copy(copy.begin(), copy.end(), items);
  }
  for (std::size_t i = 1; i < count; ++i) {
    const T item = items[i];
    std::size_t j = i;
    for (; j > 0 && earlier(item, items[j - 1]); --j) items[j] = items[j - 1];
    items[j] = item;
  }
}

}  // namespace spiketime::detail
