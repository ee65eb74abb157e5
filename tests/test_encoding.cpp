// The latency code against its closed form, and the training noise on spike
// trains against the statistics of the Gaussian it draws from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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

}  // namespace
}  // namespace spiketime
