// Yin-Yang (Kriener et al.), generated exactly as the reference generator does
// with numpy's legacy RandomState (docs/YINYANG.md).
#include <cmath>
#include <random>

#include "spiketime/dataset.hpp"

namespace spiketime {
namespace {

constexpr double kRBig = 0.5;
constexpr double kRSmall = 0.1;

// numpy's RandomState.rand(): 53 bits from two 32-bit words.
double numpy_rand(std::mt19937& mt) {
  const auto a = static_cast<uint32_t>(mt() >> 5);
  const auto b = static_cast<uint32_t>(mt() >> 6);
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

// numpy's legacy RandomState.randint(3): masked rejection sampling.
int numpy_randint3(std::mt19937& mt) {
  for (;;) {
    const auto u = static_cast<uint32_t>(mt() & 3u);
    if (u < 3) return static_cast<int>(u);
  }
}

double dist(double x, double y, double cx, double cy) { return std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)); }

}  // namespace

int yinyang_class(double x, double y) {
  const double d_right = dist(x, y, 1.5 * kRBig, kRBig);
  const double d_left = dist(x, y, 0.5 * kRBig, kRBig);
  if (d_right < kRSmall || d_left < kRSmall) return 2;
  const bool upper = d_right <= kRSmall || (kRSmall < d_left && d_left <= 0.5 * kRBig) ||
                     (y > kRBig && d_right > 0.5 * kRBig);
  return upper ? 1 : 0;
}

std::vector<YinYangPoint> yinyang_points(std::size_t n_samples, uint32_t seed) {
  std::vector<YinYangPoint> points;
  points.reserve(n_samples);
  std::mt19937 mt(seed);  // seeds exactly as RandomState(seed) for an integer seed
  while (points.size() < n_samples) {
    const int goal = numpy_randint3(mt);
    for (;;) {
      const double x = numpy_rand(mt) * 2.0 * kRBig;
      const double y = numpy_rand(mt) * 2.0 * kRBig;
      if (dist(x, y, kRBig, kRBig) > kRBig || yinyang_class(x, y) != goal) continue;
      points.push_back({x, y, goal});
      break;
    }
  }
  return points;
}

Dataset make_yinyang(std::size_t n_samples, uint32_t seed) {
  Dataset data;
  data.name = "yinyang";
  data.n_features = 4;
  data.n_classes = 3;
  for (const YinYangPoint& p : yinyang_points(n_samples, seed)) {
    for (double f : {p.x, p.y, 1.0 - p.x, 1.0 - p.y}) data.features.push_back(static_cast<float>(f));
    data.labels.push_back(static_cast<uint8_t>(p.label));
  }
  return data;
}

}  // namespace spiketime
