#include "spiketime/encoding.hpp"

#include "sorting.hpp"
#include "splitmix.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <random>

namespace spiketime {

void encode_latency(const float* features, int n_features, const Encoding& encoding, SpikeTrain& out) {
  out.clear();
  for (int f = 0; f < n_features; ++f) {
    if (features[f] > 0.0f) out.push(encoding.t_in_max * (1.0 - static_cast<double>(features[f])), f);
  }
  for (std::size_t b = 0; b < encoding.bias_times.size(); ++b) {
    out.push(encoding.bias_times[b], n_features + static_cast<int32_t>(b));
  }
  sort_spike_train(out);
}

void sort_spike_train(SpikeTrain& out) {
  // Order by time, ties by neuron index: the order merge_spike_lists gives.
  // Pairs compare exactly so; the scratch memory is kept per thread, so that
  // encoding a sample allocates nothing once warm.
  using Spike = std::pair<double, int32_t>;
  thread_local std::vector<Spike> spikes, copy;
  thread_local std::vector<uint32_t> start, order;
  if (out.size() < 2) return;
  spikes.resize(out.size());
  for (std::size_t k = 0; k < out.size(); ++k) spikes[k] = {out.times[k], out.neurons[k]};
  const auto [lo, hi] = std::minmax_element(out.times.begin(), out.times.end());
  detail::sort_by_time(spikes.data(), spikes.size(), *lo, *hi, [](const Spike& s) { return s.first; },
                       std::less<Spike>(), start, order, copy);
  for (std::size_t k = 0; k < out.size(); ++k) {
    out.times[k] = spikes[k].first;
    out.neurons[k] = spikes[k].second;
  }
}

void perturb_spike_train(SpikeTrain& train, double drop, double sigma, double t_max, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Uniforms and Box-Muller on the generator's raw bits, so that every platform draws alike.
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
  std::size_t kept = 0;  // the spikes kept are compacted to the front, in place
  for (std::size_t k = 0; k < train.size(); ++k) {
    if (drop > 0.0 && uniform() < drop) continue;
    double t = train.times[k];
    if (sigma > 0.0) {
      const double gauss = std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
      t = std::clamp(t + sigma * gauss, 0.0, t_max);
    }
    train.times[kept] = t;
    train.neurons[kept] = train.neurons[k];
    ++kept;
  }
  train.times.resize(kept);
  train.neurons.resize(kept);
  sort_spike_train(train);
}

ImageTransform draw_image_transform(int max_shift, double p_mirror, uint64_t seed) {
  // Three words of splitmix64 from a stream of their own (the seed's other
  // uses, mt19937_64 and hidden dropout's ~seed, start elsewhere). The
  // modulo's bias is below 2^-53 for any shift the config allows.
  const uint64_t base = splitmix64(seed ^ 0x6a09e667f3bcc908ULL);
  const auto span = static_cast<uint64_t>(2 * max_shift + 1);
  ImageTransform t;
  t.dx = static_cast<int>(splitmix64(base) % span) - max_shift;
  t.dy = static_cast<int>(splitmix64(base + 1) % span) - max_shift;
  t.mirror = unit_interval(splitmix64(base + 2)) < p_mirror;
  return t;
}

void transform_image(const float* image, int rows, int cols, const ImageTransform& t, float* out) {
  for (int r = 0; r < rows; ++r) {
    const int from_r = r - t.dy;
    float* row = out + static_cast<std::size_t>(r) * static_cast<std::size_t>(cols);
    if (from_r < 0 || from_r >= rows) {
      std::fill_n(row, cols, 0.0f);
      continue;
    }
    const float* from = image + static_cast<std::size_t>(from_r) * static_cast<std::size_t>(cols);
    for (int c = 0; c < cols; ++c) {
      const int x = c - t.dx;
      row[c] = x < 0 || x >= cols ? 0.0f : from[t.mirror ? cols - 1 - x : x];
    }
  }
}

}  // namespace spiketime
