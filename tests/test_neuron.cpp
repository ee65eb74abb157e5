// The neuron math against closed forms and against each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "reference.hpp"
#include "spiketime/neuron.hpp"

namespace spiketime {
namespace {

NeuronParams params(double tau_m, double tau_s, double theta = 1.0) {
  NeuronParams p;
  p.tau_m = tau_m;
  p.tau_s = tau_s;
  p.theta = theta;
  return p;
}

TEST(Neuron, ExprelAndLog1prelMatchTheirDefinitions) {
  for (double y : {-30.0, -1.0, -1e-3, 1e-3, 0.5, 4.0}) EXPECT_NEAR(exprel(y), (std::exp(y) - 1.0) / y, 1e-12);
  for (double x : {-0.9, -1e-2, 1e-2, 3.0}) EXPECT_NEAR(log1prel(x), std::log(1.0 + x) / x, 1e-12);
  EXPECT_EQ(exprel(0.0), 1.0);
  EXPECT_EQ(log1prel(0.0), 1.0);
  EXPECT_NEAR(exprel(1e-12), 1.0 + 5e-13, 1e-15);
}

TEST(Neuron, LambertW0SolvesItsDefiningEquation) {
  const double branch = -std::exp(-1.0);
  for (double x : {-1e-300, -1e-8, -0.01, -0.2, -0.3, -0.35, -0.367, branch * (1 - 1e-6), branch * (1 - 1e-12)}) {
    const double w = lambert_w0(x);
    EXPECT_GE(w, -1.0);
    EXPECT_LE(w, 0.0);
    EXPECT_NEAR(w * std::exp(w), x, 4e-16) << "x=" << x;
  }
  EXPECT_DOUBLE_EQ(lambert_w0(branch), -1.0);
  EXPECT_NEAR(lambert_w0(-0.25), -0.35740295618138890307, 1e-15);  // tabulated value
}

TEST(Neuron, KappaMatchesItsClosedForms) {
  for (auto [tm, ts] : {std::pair{10.0, 5.0}, {2.5, 5.0}, {3.7, 1.0}, {1.0, 1.0}, {7.0, 7.0 * (1 + 1e-9)}}) {
    const NeuronParams p = params(tm, ts);
    for (double s : {1e-6, 0.3, 2.0, 9.0, 40.0}) {
      // Within 1e-6 of tau_m == tau_s, compare with the equal-constant form,
      // which differs from kappa by O((s/tau) |tau_m - tau_s|/tau).
      const bool nearly_equal = std::abs(tm - ts) < 1e-6;
      const double expected = nearly_equal ? s / tm * std::exp(-s / tm)
                                           : ts / (tm - ts) * (std::exp(-s / tm) - std::exp(-s / ts));
      const double tolerance = 1e-14 + (nearly_equal ? 2.0 * s / tm * std::abs(tm - ts) / tm : 0.0);
      EXPECT_NEAR(kappa(s, p), expected, tolerance) << tm << " " << ts << " " << s;
      const double d = std::min(1e-6, s / 2);
      EXPECT_NEAR(kappa_prime(s, p), (kappa(s + d, p) - kappa(s - d, p)) / (2 * d), 1e-7);
    }
    EXPECT_EQ(kappa(0.0, p), 0.0);
    EXPECT_EQ(kappa(-1.0, p), 0.0);
  }
}

TEST(Neuron, KappaStaysFiniteOverLongWindows) {
  for (auto [tm, ts] : {std::pair{1.0, 3.0}, {3.0, 1.0}, {2.0, 2.0}}) {
    const double k = kappa(1000.0 * std::max(tm, ts), params(tm, ts));
    EXPECT_TRUE(std::isfinite(k));
    EXPECT_GE(k, 0.0);
  }
}

TEST(Neuron, EvolveIsTheSolutionOfTheOdes) {
  // V(s) = v e^{-s/tm} + i kappa(s), I(s) = i e^{-s/ts}: check the ODEs by differences.
  const NeuronParams p = params(4.0, 1.5);
  const NeuronState x{0.3, 2.0};
  for (double s : {0.5, 3.0, 12.0}) {
    const double d = 1e-6;
    const NeuronState a = evolve(x, s - d, p), b = evolve(x, s + d, p), c = evolve(x, s, p);
    EXPECT_NEAR((b.v - a.v) / (2 * d), (-c.v + c.i) / p.tau_m, 1e-8);
    EXPECT_NEAR((b.i - a.i) / (2 * d), -c.i / p.tau_s, 1e-8);
  }
  const NeuronState z = evolve(x, 0.0, p);
  EXPECT_EQ(z.v, x.v);
  EXPECT_EQ(z.i, x.i);
}

TEST(Neuron, ExtremumIsWhereVEqualsI) {
  for (auto [tm, ts] : {std::pair{10.0, 5.0}, {2.5, 5.0}, {3.0, 3.0}, {3.0, 3.0 * (1 + 1e-10)}}) {
    const NeuronParams p = params(tm, ts);
    const NeuronState x{-0.2, 1.7};
    const double s = extremum_time(x, p);
    ASSERT_TRUE(std::isfinite(s));
    const NeuronState at = evolve(x, s, p);
    EXPECT_NEAR(at.v, at.i, 1e-12);
  }
  // V already above a positive current: only a minimum in the past, none ahead.
  EXPECT_EQ(extremum_time({2.0, 1.0}, params(10, 5)), kNoCrossing);
}

// One crossing problem, solved by each path at its exact ratio.
class CrossingPaths : public ::testing::TestWithParam<int> {};

TEST_P(CrossingPaths, ClosedFormsAgreeWithTheBracketedSolver) {
  std::mt19937_64 rng(static_cast<uint64_t>(GetParam()));
  std::uniform_real_distribution<double> v0(-1.0, 0.9), i0(0.2, 8.0);
  for (double ratio : {1.0, 2.0}) {
    const NeuronParams p = params(4.0 * ratio, 4.0);
    const CrossingSolver closed = ratio == 1.0 ? CrossingSolver::LambertW : CrossingSolver::Quadratic;
    int found = 0;
    for (int trial = 0; trial < 200; ++trial) {
      const NeuronState x{v0(rng), i0(rng)};
      const double a = first_crossing(x, 50.0, p, closed);
      const double b = first_crossing(x, 50.0, p, CrossingSolver::Bracketed);
      ASSERT_EQ(std::isfinite(a), std::isfinite(b)) << "v=" << x.v << " i=" << x.i;
      if (!std::isfinite(a)) continue;
      ++found;
      EXPECT_NEAR(a, b, 1e-12 * (1 + a));
      EXPECT_NEAR(evolve(x, a, p).v, p.theta, 1e-13);
      EXPECT_GT(v_dot(evolve(x, a, p), p), 0.0) << "the first crossing goes upward";
    }
    EXPECT_GT(found, 50);
  }
}

TEST_P(CrossingPaths, PathsAgreeNearTheSpecialRatios) {
  // Moving tau_s off the special ratio by eps moves the crossing by O(eps):
  // the bracketed solver at the perturbed ratio must track the closed form.
  std::mt19937_64 rng(static_cast<uint64_t>(GetParam()) + 100);
  std::uniform_real_distribution<double> v0(-0.5, 0.5), i0(1.5, 6.0);
  for (double ratio : {1.0, 2.0}) {
    const NeuronParams exact = params(3.0 * ratio, 3.0);
    const CrossingSolver closed = ratio == 1.0 ? CrossingSolver::LambertW : CrossingSolver::Quadratic;
    for (double eps : {1e-13, 1e-10, 1e-7, -1e-10, -1e-7}) {
      const NeuronParams near = params(3.0 * ratio, 3.0 * (1.0 + eps));
      for (int trial = 0; trial < 30; ++trial) {
        const NeuronState x{v0(rng), i0(rng)};
        const double a = first_crossing(x, 100.0, exact, closed);
        const double b = first_crossing(x, 100.0, near, CrossingSolver::Automatic);
        if (!std::isfinite(a) || !std::isfinite(b)) {
          EXPECT_EQ(std::isfinite(a), std::isfinite(b));
          continue;
        }
        // dt/dtau_s is O(t) for these states; allow 100 t |eps| plus rounding.
        EXPECT_NEAR(a, b, 100.0 * (1 + a) * std::abs(eps) + 1e-12 * (1 + a)) << "ratio " << ratio << " eps " << eps;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, CrossingPaths, ::testing::Values(1, 2, 3));

TEST(Neuron, CrossingIsTheFirstUpwardOneNotTheLaterDownwardRoot) {
  // Quadratic case with both roots inside the window.
  const NeuronParams p = params(10.0, 5.0);
  const NeuronState x{0.0, 6.0};  // peak 1.5: both roots exist
  const double s = first_crossing(x, 100.0, p);
  ASSERT_TRUE(std::isfinite(s));
  EXPECT_LT(s, extremum_time(x, p));
  EXPECT_NEAR(evolve(x, s, p).v, 1.0, 1e-14);
}

TEST(Neuron, NoCrossingWhenPeakIsBelowThresholdOrOutsideWindow) {
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    const NeuronParams p = params(2.0 * ratio, 2.0);
    const NeuronState x{0.0, 1.0};
    const double peak = evolve(x, extremum_time(x, p), p).v;  // a unit jump from rest peaks below 1
    ASSERT_LT(peak, 1.0);
    EXPECT_EQ(first_crossing(x, 100.0, p), kNoCrossing);
    // Scale the current so the peak is just above threshold: one crossing before the peak.
    const NeuronState y{0.0, (1.0 + 1e-6) / peak};
    const double s = first_crossing(y, 100.0, p);
    ASSERT_TRUE(std::isfinite(s)) << ratio;
    EXPECT_LT(s, extremum_time(y, p));
    EXPECT_EQ(first_crossing(y, 0.5 * s, p), kNoCrossing) << "the window ends before the crossing";
    EXPECT_EQ(first_crossing({0.5, 0.4}, 100.0, p), kNoCrossing) << "falling potential";
  }
}

TEST(Neuron, GrazingCrossingIsFoundAtThePeak) {
  // Peak exceeds threshold by 1e-12: the crossing sits within sqrt(1e-12)
  // relative of the peak (a double root, so that is its conditioning).
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    const NeuronParams p = params(2.0 * ratio, 2.0);
    const NeuronState unit{0.0, 1.0};
    const double t_peak = extremum_time(unit, p);
    const double peak = evolve(unit, t_peak, p).v;
    const NeuronState x{0.0, (1.0 + 1e-12) / peak};
    const double s = first_crossing(x, 100.0, p);
    ASSERT_TRUE(std::isfinite(s)) << ratio;
    EXPECT_NEAR(s, t_peak, 1e-5 * t_peak);
    const NeuronState below{0.0, (1.0 - 1e-12) / peak};
    EXPECT_EQ(first_crossing(below, 100.0, p), kNoCrossing) << ratio;
  }
}

// potential_peak against a fine-step RK4 scan of V over the whole window:
// random excitatory and inhibitory inputs, three tau ratios (1 included,
// where extremum_time takes its log1prel form), peaks at an input, inside a
// stretch and at the window's end.
TEST(Neuron, PotentialPeakIsTheHighestPotentialOfAFineStepIntegration) {
  std::mt19937_64 rng(7);
  for (const auto& [tau_m, tau_s] : {std::pair{10.0, 5.0}, std::pair{8.0, 8.0}, std::pair{4.0, 9.0}}) {
    const NeuronParams p{tau_m, tau_s, 1.0, 0};
    for (int trial = 0; trial < 20; ++trial) {
      const int n = 1 + static_cast<int>(rng() % 12);
      std::vector<double> times(n), weights(n);
      std::uniform_real_distribution<double> when(0.0, 30.0), weight(-0.6, 1.0);
      for (int e = 0; e < n; ++e) times[e] = when(rng), weights[e] = weight(rng);
      std::sort(times.begin(), times.end());
      const double t_end = trial % 4 == 0 ? times.back() + 1.0 : 40.0;  // some end while V still rises
      const PotentialPeak peak = potential_peak(times.data(), weights.data(), times.size(), t_end, p);
      // RK4 in steps of at most h that end on every input and on t_end.
      double v = 0.0, cur = 0.0, best_v = 0.0, best_t = times[0], t = times[0];
      for (std::size_t e = 0; t < t_end;) {
        for (; e < times.size() && times[e] <= t; ++e) cur += weights[e];
        const double stop = e < times.size() ? std::min(times[e], t_end) : t_end;
        const int steps = static_cast<int>(std::ceil((stop - t) / 1e-3));
        const double h = (stop - t) / steps;
        for (int k = 1; k <= steps; ++k) {
          std::tie(v, cur) = testing::rk4_step(v, cur, h, tau_m, tau_s);
          if (v > best_v) best_v = v, best_t = t + k * h;
        }
        t = stop;
      }
      // The scan can only miss the top by |V''| h^2 / 8 (below 1e-8 here);
      // RK4's own error is far below 1e-10.
      ASSERT_GE(peak.v, best_v - 1e-10) << "tau_m " << tau_m << " tau_s " << tau_s << " trial " << trial;
      ASSERT_LE(peak.v, best_v + 1e-8) << "tau_m " << tau_m << " tau_s " << tau_s << " trial " << trial;
      // The peak's time is found to the scan's resolution (a flat peak moves
      // more than its height).
      if (best_v > 1e-3) {
        EXPECT_NEAR(peak.time, best_t, 0.05) << "trial " << trial;
      }
    }
  }
  EXPECT_EQ(potential_peak(nullptr, nullptr, 0, 40.0, {}).v, 0.0);
}

}  // namespace
}  // namespace spiketime
