// The float32 passes (Precision::Float32) against the float64 reference.
//
// Spike times. The float32 state carries rounding errors of relative size
// u = 2^-24 per operation: a weight rounded once, each step's decay (two
// products and a sum) and each input's addition. Before the k-th spike of a
// neuron, with E_k input spikes and earlier spikes of its own, the error of
// V is at most about c u (E_k + 2) S_k, where S_k = theta + the sum of |w|
// over the inputs so far bounds every term that entered V and I; an error
// dt_{k-1} in the previous spike (the reset by theta) adds theta/tau_m
// dt_{k-1}. A potential off by dV crosses later or earlier by dV over the
// slope Vdot_k = (I_k - theta)/tau_m, so
//   |t32_k - t64_k| <= (c u (E_k + 2) S_k + theta/tau_m bound_{k-1}) / Vdot_k,
// with c = 8 (four roundings an operation, twice over). The spike counts
// agree except where a crossing grazes threshold, which the well-conditioned
// networks below exclude.
//
// Gradients. On the random multi-spike networks of the finite-difference
// tests (every tau ratio, 2 and 3 layers), each weight's float32 gradient is
// within 1e-3 of the largest float64 gradient of its layer (measured: below
// 1e-4), summed in float64 or in float32, and the input-time gradients
// likewise.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>
#include <stdexcept>

#include "reference.hpp"
#include "spiketime/init.hpp"
#include "spiketime/network.hpp"

namespace spiketime {
namespace {

constexpr double kUnit = 0x1p-24;  // float32's unit roundoff

class Float32 : public ::testing::TestWithParam<double> {};

TEST_P(Float32, LayerSpikeTimesWithinTheRoundingBound) {
  const double ratio = GetParam();
  std::mt19937_64 rng(static_cast<uint64_t>(ratio * 1000) + 7);
  const NeuronParams p = testing::params_with_ratio(ratio);
  const int n_in = 40, n_out = 150;
  const auto inputs = testing::random_inputs(rng, n_in, 3, 12.0);
  const SpikeTrain train = merge_spike_lists(inputs);
  // From neurons that never fire to ones that fire tens of times.
  const double psp = psp_peak(p);
  Layer layer64 = testing::random_layer(rng, p, n_in, n_out, 0.004 / psp, 0.3 / psp);
  Layer layer32 = layer64;
  layer32.set_precision(Precision::Float32);
  LayerTrace t64, t32;
  LayerWorkspace ws;
  layer_forward(layer64, train, 30.0, t64, ws);
  layer_forward(layer32, train, 30.0, t32, ws);
  ASSERT_EQ(t64.spike_counts, t32.spike_counts);
  const auto times64 = split_spike_train(t64.spikes, n_out), times32 = split_spike_train(t32.spikes, n_out);
  std::vector<std::vector<double>> current(static_cast<std::size_t>(n_out));
  for (std::size_t e = 0; e < t64.spikes.size(); ++e) current[t64.spikes.neurons[e]].push_back(t64.current_at_spike[e]);
  int spikes = 0, multi = 0;
  double worst = 0.0;  // the largest error over its bound
  for (int i = 0; i < n_out; ++i) {
    double bound_before = 0.0;
    multi += times64[i].size() >= 3;
    for (std::size_t k = 0; k < times64[i].size(); ++k) {
      const double t = times64[i][k];
      double drive = p.theta;
      int events = static_cast<int>(k);
      for (std::size_t e = 0; e < train.size() && train.times[e] < t; ++e) {
        drive += std::abs(layer64.weight(i, train.neurons[e]));
        ++events;
      }
      const double vdot = (current[i][k] - p.theta) / p.tau_m;
      const double bound = (8.0 * kUnit * (events + 2) * drive + p.theta / p.tau_m * bound_before) / vdot;
      const double error = std::abs(times32[i][k] - t);
      EXPECT_LE(error, bound) << "neuron " << i << " spike " << k << " at " << t << " (slope " << vdot << ")";
      worst = std::max(worst, error / bound);
      bound_before = bound;
      ++spikes;
    }
  }
  EXPECT_GE(multi, 20) << "the layer must fire several spikes per neuron";
  std::cout << "[ float32 ] ratio " << ratio << ": " << spikes << " spikes, same counts, largest error "
            << worst << " of its bound\n";
}

TEST_P(Float32, GradientsWithinTheRelativeBound) {
  const double ratio = GetParam();
  for (int depth : {2, 3}) {
    std::mt19937_64 rng(static_cast<uint64_t>(ratio * 100 + depth));
    const NeuronParams p = testing::params_with_ratio(ratio);
    const std::vector<int> widths = depth == 2 ? std::vector<int>{6, 7, 3} : std::vector<int>{6, 7, 5, 3};
    Network net64;
    std::vector<std::vector<double>> inputs;
    NetworkWorkspace ws64, ws32;
    ASSERT_TRUE(testing::well_conditioned_network(rng, p, widths, psp_peak(p), net64, inputs, ws64));
    const SpikeTrain train = merge_spike_lists(inputs);
    Network net32 = net64;
    net32.set_precision(Precision::Float32);
    network_forward(net32, train, ws32);
    for (std::size_t l = 0; l < net64.layers.size(); ++l) {
      ASSERT_EQ(ws64.traces[l].spike_counts, ws32.traces[l].spike_counts) << "layer " << l;
    }
    // dL/dt of every output spike: random, the same for both.
    std::uniform_real_distribution<double> coef(-1.0, 1.0);
    std::vector<double> grad_out(ws64.traces.back().spikes.size());
    for (double& g : grad_out) g = coef(rng);
    // g32 sums the float32 pass's gradient in float64, g32s in float32 (the trainer's float32 path).
    NetworkGradient g64, g32, g32s;
    g64.reset(net64);
    g32.reset(net32);
    g32s.reset(net32, Precision::Float32);
    network_backward(net64, train, grad_out, {}, g64, ws64);
    network_backward(net32, train, grad_out, {}, g32, ws32);
    network_backward(net32, train, grad_out, {}, g32s, ws32);
    ASSERT_TRUE(g32s.weights.empty());
    ASSERT_EQ(g32s.weights32.size(), net32.layers.size());
    const auto relative = [](const std::vector<double>& a, const std::vector<double>& b) {
      double scale = 0.0, diff = 0.0;
      for (std::size_t k = 0; k < a.size(); ++k) {
        scale = std::max(scale, std::abs(a[k]));
        diff = std::max(diff, std::abs(a[k] - b[k]));
      }
      return scale > 0.0 ? diff / scale : diff;
    };
    double worst = relative(g64.input_times, g32.input_times);
    EXPECT_LE(worst, 1e-3) << "input times, depth " << depth;
    EXPECT_EQ(g32.input_times, g32s.input_times) << "the sums' precision is that of the weight gradient only";
    for (std::size_t l = 0; l < net64.layers.size(); ++l) {
      const std::vector<double> sums32(g32s.weights32[l].begin(), g32s.weights32[l].end());
      for (const auto& g : {g32.weights[l], sums32}) {
        const double r = relative(g64.weights[l], g);
        EXPECT_LE(r, 1e-3) << "layer " << l << ", depth " << depth;
        worst = std::max(worst, r);
      }
    }
    std::cout << "[ float32 ] ratio " << ratio << " depth " << depth << ": gradients within " << worst
              << " of the largest\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Ratios, Float32, ::testing::Values(0.5, 1.0, 2.0, 3.7));

TEST(Float32Sums, NeedAFloat32Layer) {
  Network net;
  net.layers.emplace_back(NeuronParams{}, 3, 2);
  NetworkGradient grad;
  EXPECT_THROW(grad.reset(net, Precision::Float32), std::invalid_argument);
  std::vector<float> sums(net.layers[0].weights.size());
  LayerTrace trace;
  LayerWorkspace ws;
  layer_forward(net.layers[0], SpikeTrain{}, 10.0, trace, ws);
  EXPECT_THROW(layer_backward(net.layers[0], SpikeTrain{}, trace, nullptr, {}, sums.data(), nullptr, ws),
               std::invalid_argument);
  net.set_precision(Precision::Float32);
  EXPECT_NO_THROW(grad.reset(net, Precision::Float32));
  EXPECT_EQ(grad.precision(), Precision::Float32);
}

}  // namespace
}  // namespace spiketime
