// The latency code against its closed form, the training noise on spike
// trains against the statistics of the Gaussian it draws from, and image
// augmentation against a scatter of the pixels and uniform draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "spiketime/encoding.hpp"

namespace spiketime {
namespace {

TEST(Encoding, LatencyCodeAndBiasSpikesInTimeOrder) {
  const float features[] = {0.0f, 1.0f, 0.25f, 0.5f, -0.5f, 0.25f};
  Encoding e;
  e.t_in_max = 8.0;
  e.bias_times = {1.0, 0.0};
  SpikeTrain s;
  encode_latency(features, 6, e, s);
  // Feature x > 0 at 8 (1 - x); features 0 and 4 stay silent; biases are neurons 6 and 7.
  const std::vector<double> times = {0.0, 0.0, 1.0, 4.0, 6.0, 6.0};
  const std::vector<int32_t> neurons = {1, 7, 6, 3, 2, 5};
  EXPECT_EQ(s.times, times);
  EXPECT_EQ(s.neurons, neurons);
}

SpikeTrain constant_train(std::size_t n, double t) {
  SpikeTrain s;
  for (std::size_t k = 0; k < n; ++k) s.push(t, static_cast<int32_t>(k));
  return s;
}

TEST(Encoding, JitterIsGaussianWithTheGivenSpread) {
  const std::size_t n = 40000;
  SpikeTrain s = constant_train(n, 20.0);
  perturb_spike_train(s, 0.0, 1.5, 40.0, 7);
  double sum = 0.0, sum2 = 0.0;
  for (double t : s.times) {
    sum += t - 20.0;
    sum2 += (t - 20.0) * (t - 20.0);
  }
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  // Standard errors: 1.5 / sqrt(n) = 0.0075 for the mean, ~0.5% for the spread.
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(sd, 1.5, 0.03);
  // Within one sigma: 68.3%.
  const auto inside = std::count_if(s.times.begin(), s.times.end(), [](double t) { return std::abs(t - 20.0) < 1.5; });
  EXPECT_NEAR(static_cast<double>(inside) / n, 0.6827, 0.01);
  EXPECT_TRUE(std::is_sorted(s.times.begin(), s.times.end()));
}

TEST(Encoding, JitterIsClampedToTheWindowAndAFunctionOfItsSeed) {
  SpikeTrain s = constant_train(2000, 0.0);
  perturb_spike_train(s, 0.0, 1.0, 40.0, 3);
  EXPECT_GE(s.times.front(), 0.0);
  const auto at_zero = std::count(s.times.begin(), s.times.end(), 0.0);
  EXPECT_NEAR(static_cast<double>(at_zero) / 2000, 0.5, 0.05);  // the lower half of the noise is clamped
  SpikeTrain late = constant_train(100, 40.0);
  perturb_spike_train(late, 0.0, 1.0, 40.0, 3);
  EXPECT_LE(late.times.back(), 40.0);

  SpikeTrain a = constant_train(50, 5.0), b = a, c = a;
  perturb_spike_train(a, 0.0, 0.5, 40.0, 11);
  perturb_spike_train(b, 0.0, 0.5, 40.0, 11);
  perturb_spike_train(c, 0.0, 0.5, 40.0, 12);
  EXPECT_EQ(a.times, b.times);
  EXPECT_EQ(a.neurons, b.neurons);
  EXPECT_NE(a.times, c.times);
}

TEST(Encoding, DropRemovesSpikesWithTheGivenProbability) {
  const std::size_t n = 40000;
  SpikeTrain s = constant_train(n, 3.0);
  perturb_spike_train(s, 0.25, 0.0, 40.0, 5);
  // Binomial: 30000 kept on average, standard deviation 87.
  EXPECT_NEAR(static_cast<double>(s.size()), 30000.0, 400.0);
  EXPECT_TRUE(std::all_of(s.times.begin(), s.times.end(), [](double t) { return t == 3.0; }));
  EXPECT_TRUE(std::is_sorted(s.neurons.begin(), s.neurons.end()));
  SpikeTrain none = constant_train(100, 3.0);
  perturb_spike_train(none, 1.0, 0.0, 40.0, 5);
  EXPECT_EQ(none.size(), 0u);
}

TEST(ImageTransform, MovesAndMirrorsEveryPixelAsTheClosedFormSays) {
  // A 5 x 7 image of distinct values. The reference scatters each source
  // pixel (r, c) to (r + dy, m(c) + dx), m mirroring, and leaves the rest 0;
  // transform_image gathers, so the two are written independently.
  const int rows = 5, cols = 7;
  std::vector<float> image(rows * cols);
  for (int k = 0; k < rows * cols; ++k) image[static_cast<std::size_t>(k)] = 1.0f + static_cast<float>(k);
  int moved_out = 0;
  for (int dy = -5; dy <= 5; ++dy) {
    for (int dx = -7; dx <= 7; ++dx) {
      for (const bool mirror : {false, true}) {
        std::vector<float> expected(image.size(), 0.0f), out(image.size(), -1.0f);
        for (int r = 0; r < rows; ++r) {
          for (int c = 0; c < cols; ++c) {
            const int to_r = r + dy, to_c = (mirror ? cols - 1 - c : c) + dx;
            if (to_r < 0 || to_r >= rows || to_c < 0 || to_c >= cols) {
              ++moved_out;
              continue;
            }
            expected[static_cast<std::size_t>(to_r * cols + to_c)] = image[static_cast<std::size_t>(r * cols + c)];
          }
        }
        transform_image(image.data(), rows, cols, {dx, dy, mirror}, out.data());
        EXPECT_EQ(out, expected) << "dx " << dx << " dy " << dy << " mirror " << mirror;
      }
    }
  }
  EXPECT_GT(moved_out, 0);
  // The identity, and a mirror's mirror.
  std::vector<float> once(image.size()), twice(image.size());
  transform_image(image.data(), rows, cols, {}, once.data());
  EXPECT_EQ(once, image);
  EXPECT_TRUE(ImageTransform{}.identity());
  transform_image(image.data(), rows, cols, {0, 0, true}, once.data());
  EXPECT_NE(once, image);
  transform_image(once.data(), rows, cols, {0, 0, true}, twice.data());
  EXPECT_EQ(twice, image);
}

TEST(ImageTransform, DrawsAreUniformIndependentAndAFunctionOfTheSeed) {
  // 50,000 draws with shifts up to 2 and mirroring at 0.3: each shift value
  // 1/5 (standard error 0.0018), each (dx, dy) pair 1/25 (0.0009), the
  // mirror 0.3 (0.002).
  const int n = 50000;
  std::vector<int> dx_count(5), pair_count(25);
  int mirrored = 0;
  for (int k = 0; k < n; ++k) {
    const ImageTransform t = draw_image_transform(2, 0.3, static_cast<uint64_t>(k) * 7919u);
    ASSERT_GE(t.dx, -2);
    ASSERT_LE(t.dx, 2);
    ASSERT_GE(t.dy, -2);
    ASSERT_LE(t.dy, 2);
    ++dx_count[static_cast<std::size_t>(t.dx + 2)];
    ++pair_count[static_cast<std::size_t>((t.dx + 2) * 5 + t.dy + 2)];
    mirrored += t.mirror;
  }
  for (int c : dx_count) EXPECT_NEAR(static_cast<double>(c) / n, 0.2, 0.01);
  for (int c : pair_count) EXPECT_NEAR(static_cast<double>(c) / n, 0.04, 0.005);
  EXPECT_NEAR(static_cast<double>(mirrored) / n, 0.3, 0.01);
  for (uint64_t seed : {0u, 1u, 99u}) {
    const ImageTransform a = draw_image_transform(3, 0.5, seed), b = draw_image_transform(3, 0.5, seed);
    EXPECT_EQ(a.dx, b.dx);
    EXPECT_EQ(a.dy, b.dy);
    EXPECT_EQ(a.mirror, b.mirror);
    EXPECT_TRUE(draw_image_transform(0, 0.0, seed).identity());
    EXPECT_TRUE(draw_image_transform(0, 1.0, seed).mirror);
  }
}

}  // namespace
}  // namespace spiketime
