// Layer spike times against an independent fine-step RK4 integration.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include "reference.hpp"
#include "spiketime/init.hpp"
#include "spiketime/layer.hpp"

namespace spiketime {
namespace {

using testing::params_with_ratio;
using testing::random_inputs;
using testing::random_layer;
using testing::reference_layer;

// (tau_m / tau_s, neurons): 10 neurons make one partial block of the engine;
// 60 make a full forward block of 48 and a partial one of 12.
class LayerVsReference : public ::testing::TestWithParam<std::tuple<double, int>> {};

TEST_P(LayerVsReference, SpikeTimesMatchFineStepIntegration) {
  const auto [ratio, n_out] = GetParam();
  NeuronParams p = params_with_ratio(ratio);
  p.theta = 1.0;
  const double t_end = 40.0;
  const double tau_min = std::min(p.tau_m, p.tau_s);
  // RK4 on this linear system: local error about (h/tau)^5/120 of the state
  // per step, t_end/h steps, so the state error is at most
  // (t_end/tau)(h/tau)^4 |state| / 120; a spike time moves by that over dV/dt.
  const double h = tau_min / 400.0;
  const double state_error = (t_end / tau_min) * std::pow(h / tau_min, 4) / 120.0;

  std::mt19937_64 rng(static_cast<uint64_t>(ratio * 1000 + n_out));
  const double psp = psp_peak(p);
  int max_count = 0, min_count = 1 << 30, compared = 0;
  double max_error = 0.0, max_error_over_tolerance = 0.0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto inputs = random_inputs(rng, 12, 4, 30.0);
    // Neuron n gets weights around n/n_out times a PSP height: from silent to
    // > 20 spikes.
    const Layer layer = random_layer(rng, p, 12, n_out, 1.0 / (n_out * psp), 0.4);
    LayerTrace trace;
    LayerWorkspace ws;
    layer_forward(layer, merge_spike_lists(inputs), t_end, trace, ws);
    const auto engine = split_spike_train(trace.spikes, layer.n_out);
    const auto reference = reference_layer(inputs, layer, t_end, h);
    double state_scale = p.theta;  // largest |V| or |I| reached, as seen at the spikes
    for (double current : trace.current_at_spike) state_scale = std::max(state_scale, std::abs(current));
    for (int n = 0; n < layer.n_out; ++n) {
      ASSERT_EQ(engine[n].size(), reference[n].size()) << "neuron " << n << " trial " << trial;
      max_count = std::max(max_count, static_cast<int>(engine[n].size()));
      min_count = std::min(min_count, static_cast<int>(engine[n].size()));
      for (std::size_t k = 0; k < engine[n].size(); ++k) {
        // Locate spike k in the trace for its dV/dt = (I - theta)/tau_m.
        double vdot = 0.0;
        for (std::size_t e = 0, seen = 0; e < trace.spikes.size(); ++e) {
          if (trace.spikes.neurons[e] == n && seen++ == k) vdot = (trace.current_at_spike[e] - p.theta) / p.tau_m;
        }
        const double tolerance = 10.0 * state_error * state_scale / std::max(vdot, 1e-3) + 1e-12 * t_end;
        EXPECT_NEAR(engine[n][k], reference[n][k], tolerance) << "neuron " << n << " spike " << k;
        const double error = std::abs(engine[n][k] - reference[n][k]);
        max_error = std::max(max_error, error);
        max_error_over_tolerance = std::max(max_error_over_tolerance, error / tolerance);
        ++compared;
      }
    }
  }
  std::cout << "[ ref ] ratio " << ratio << ", " << n_out << " neurons: " << compared << " spikes, up to " << max_count
            << " per neuron, max |engine - RK4| " << max_error << " (" << max_error_over_tolerance
            << " of the tolerance)\n";
  EXPECT_EQ(min_count, 0) << "some neuron should stay silent";
  EXPECT_GT(max_count, 20) << "some neuron should fire more than 20 times";
  EXPECT_GT(compared, 100);
}

INSTANTIATE_TEST_SUITE_P(TauRatiosAndWidths, LayerVsReference,
                         ::testing::Combine(::testing::Values(0.5, 1.0, 2.0, 3.7), ::testing::Values(10, 60)));

TEST(LayerVsReference, MaxSpikesStopsANeuronAfterItsBudget) {
  std::mt19937_64 rng(7);
  NeuronParams p;
  p.tau_m = 6.0;
  p.tau_s = 2.0;
  const auto inputs = random_inputs(rng, 8, 5, 30.0);
  for (int budget : {1, 3}) {
    p.max_spikes = budget;
    const Layer layer = random_layer(rng, p, 8, 6, 0.4, 0.3);
    LayerTrace trace;
    LayerWorkspace ws;
    layer_forward(layer, merge_spike_lists(inputs), 40.0, trace, ws);
    const auto engine = split_spike_train(trace.spikes, layer.n_out);
    const auto reference = reference_layer(inputs, layer, 40.0, 2.0 / 400);
    for (int n = 0; n < layer.n_out; ++n) {
      ASSERT_EQ(engine[n].size(), reference[n].size());
      EXPECT_LE(static_cast<int>(engine[n].size()), budget);
      for (std::size_t k = 0; k < engine[n].size(); ++k) EXPECT_NEAR(engine[n][k], reference[n][k], 1e-7);
    }
  }
}

}  // namespace
}  // namespace spiketime
