// Edge cases of the engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "reference.hpp"
#include "spiketime/network.hpp"

namespace spiketime {
namespace {

NeuronParams standard() {
  NeuronParams p;
  p.tau_m = 10.0;
  p.tau_s = 5.0;
  return p;
}

Network two_layers(std::mt19937_64& rng, double mean) {
  Network net;
  net.t_end = 60.0;
  net.layers.push_back(testing::random_layer(rng, standard(), 4, 5, 0.0, 0.3));
  net.layers.push_back(testing::random_layer(rng, standard(), 5, 2, 0.0, 0.3));
  for (auto& layer : net.layers)
    testing::for_each_weight(layer, [&](double& w) { w += mean; });
  return net;
}

NetworkGradient gradient_of_sum(const Network& net, const SpikeTrain& input, NetworkWorkspace& ws) {
  network_forward(net, input, ws);
  NetworkGradient grad;
  grad.reset(net);
  network_backward(net, input, std::vector<double>(ws.traces.back().spikes.size(), 1.0), {}, grad, ws);
  return grad;
}

TEST(EdgeCases, NoInputSpikes) {
  std::mt19937_64 rng(1);
  const Network net = two_layers(rng, 3.0);
  NetworkWorkspace ws;
  const NetworkGradient grad = gradient_of_sum(net, SpikeTrain{}, ws);
  for (const auto& trace : ws.traces) EXPECT_EQ(trace.spikes.size(), 0u);
  for (const auto& g : grad.weights)
    for (double x : g) EXPECT_EQ(x, 0.0);
  EXPECT_TRUE(grad.input_times.empty());
}

TEST(EdgeCases, OnlyNegativeWeights) {
  std::mt19937_64 rng(2);
  Network net = two_layers(rng, 0.0);
  for (auto& layer : net.layers)
    testing::for_each_weight(layer, [](double& w) { w = -std::abs(w) - 0.1; });
  const SpikeTrain input = merge_spike_lists(testing::random_inputs(rng, 4, 5, 50.0));
  NetworkWorkspace ws;
  const NetworkGradient grad = gradient_of_sum(net, input, ws);
  EXPECT_EQ(ws.traces[0].spikes.size(), 0u);
  for (double g : grad.input_times) EXPECT_EQ(g, 0.0);
}

TEST(EdgeCases, InputExactlyAtTheEndChangesNothing) {
  std::mt19937_64 rng(3);
  const Network net = two_layers(rng, 2.0);
  auto lists = testing::random_inputs(rng, 4, 3, 30.0);
  NetworkWorkspace without, with;
  network_forward(net, merge_spike_lists(lists), without);
  lists[1].push_back(net.t_end);
  lists[2].push_back(net.t_end + 5.0);  // after the window: ignored
  const SpikeTrain input = merge_spike_lists(lists);
  const NetworkGradient grad = gradient_of_sum(net, input, with);
  ASSERT_GT(without.traces[1].spikes.size(), 0u);
  EXPECT_EQ(with.traces[1].spikes.times, without.traces[1].spikes.times);
  for (std::size_t e = 0; e < input.size(); ++e) {
    if (input.times[e] >= net.t_end) {
      EXPECT_EQ(grad.input_times[e], 0.0);
    }
  }
}

TEST(EdgeCases, IdenticalInputTimes) {
  // Two spikes of one input at the same instant act as one of twice the weight,
  // and the order of simultaneous spikes of different inputs does not matter.
  Layer layer(standard(), 3, 1);
  layer.weight(0, 0) = 12.5;
  layer.weight(0, 1) = 25.0;
  layer.weight(0, 2) = 12.5;
  LayerWorkspace ws;
  LayerTrace twice, once, swapped;
  layer_forward(layer, merge_spike_lists({{4.0, 4.0}, {}, {}}), 80.0, twice, ws);
  layer_forward(layer, merge_spike_lists({{}, {4.0}, {}}), 80.0, once, ws);
  layer_forward(layer, merge_spike_lists({{4.0}, {}, {4.0}}), 80.0, swapped, ws);
  ASSERT_GT(once.spikes.size(), 1u);
  EXPECT_EQ(twice.spikes.times, once.spikes.times);
  EXPECT_EQ(swapped.spikes.times, once.spikes.times);
}

TEST(EdgeCases, ManySpikesInOneStepComeInTimeOrderTiesByNeuron) {
  // After its last input a wide layer fires in one stretch, so the engine
  // orders many spikes within one step. Neurons 2k and 2k + 1 have equal
  // weights and fire at equal times: the lower index must come first.
  const int n_out = 300;
  Layer layer(standard(), 2, n_out);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> weight(2.0, 8.0);
  for (int n = 0; n < n_out; n += 2) {
    for (int j = 0; j < 2; ++j) layer.weight(n, j) = layer.weight(n + 1, j) = weight(rng);
  }
  LayerWorkspace ws;
  LayerTrace trace;
  layer_forward(layer, merge_spike_lists({{1.0}, {2.0}}), 60.0, trace, ws);
  const SpikeTrain ordered = merge_spike_lists(split_spike_train(trace.spikes, n_out));
  EXPECT_EQ(trace.spikes.times, ordered.times);
  EXPECT_EQ(trace.spikes.neurons, ordered.neurons);
  const auto after_inputs = std::count_if(trace.spikes.times.begin(), trace.spikes.times.end(),
                                          [](double t) { return t > 2.0; });
  EXPECT_GE(after_inputs, 100) << "most spikes should fall in the last step";
}

TEST(EdgeCases, GrazingCrossingIsGuarded) {
  // One input whose PSP peaks 1e-12 above threshold: one spike, at the peak,
  // where dV/dt is almost zero. The guard bounds the gradient there.
  NeuronParams p = standard();
  const double peak_time = extremum_time({0.0, 1.0}, p);
  const double unit_peak = evolve({0.0, 1.0}, peak_time, p).v;
  Network net;
  net.t_end = 100.0;
  net.layers.emplace_back(p, 1, 1);
  net.layers[0].weight(0, 0) = (1.0 + 1e-12) / unit_peak;
  const SpikeTrain input = merge_spike_lists({{2.0}});
  NetworkWorkspace ws;
  network_forward(net, input, ws);
  ASSERT_EQ(ws.traces[0].spikes.size(), 1u);
  EXPECT_NEAR(ws.traces[0].spikes.times[0], 2.0 + peak_time, 1e-4);

  NetworkGradient guarded;
  guarded.reset(net);
  network_backward(net, input, {1.0}, GradientGuard{1e-3}, guarded, ws);
  // |dt/dw| <= kappa(peak) / (1e-3 theta / tau_m).
  EXPECT_TRUE(std::isfinite(guarded.weights[0][0]));
  EXPECT_LE(std::abs(guarded.weights[0][0]), unit_peak / (1e-3 / p.tau_m) * (1 + 1e-9));
  EXPECT_GT(std::abs(guarded.weights[0][0]), 1.0);

  net.layers[0].weight(0, 0) = (1.0 - 1e-12) / unit_peak;
  network_forward(net, input, ws);
  EXPECT_EQ(ws.traces[0].spikes.size(), 0u);
}

TEST(EdgeCases, LongWindowsDoNotOverflow) {
  // A window 1000 time constants long: the same inputs late in the window give
  // the same spikes, shifted, as early in it.
  std::mt19937_64 rng(5);
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    NeuronParams p;
    p.tau_s = 1.0;
    p.tau_m = ratio;
    Layer layer = testing::random_layer(rng, p, 5, 4, 0.0, 0.3);
    testing::for_each_weight(layer, [](double& w) { w += 1.5; });
    const auto early = testing::random_inputs(rng, 5, 3, 5.0);
    auto late = early;
    const double shift = 990.0 * std::max(ratio, 1.0);
    for (auto& list : late)
      for (double& t : list) t += shift;
    LayerWorkspace ws;
    LayerTrace a, b;
    layer_forward(layer, merge_spike_lists(early), 1000.0 * std::max(ratio, 1.0) - shift, a, ws);
    layer_forward(layer, merge_spike_lists(late), 1000.0 * std::max(ratio, 1.0), b, ws);
    ASSERT_EQ(a.spikes.size(), b.spikes.size());
    ASSERT_GT(a.spikes.size(), 0u);
    for (std::size_t e = 0; e < a.spikes.size(); ++e) {
      EXPECT_NEAR(b.spikes.times[e] - shift, a.spikes.times[e], 1e-9 * shift);
    }
    std::vector<double> grad_w(layer.weights.size(), 0.0), grad_in(merge_spike_lists(late).size());
    layer_backward(layer, merge_spike_lists(late), b, std::vector<double>(b.spikes.size(), 1.0).data(), {},
                   grad_w.data(), grad_in.data(), ws);
    for (double g : grad_w) EXPECT_TRUE(std::isfinite(g));
    for (double g : grad_in) EXPECT_TRUE(std::isfinite(g));
  }
}

TEST(EdgeCases, LongGapsLoseNoSpikes) {
  // A window of 10^4 membrane time constants with bursts of input separated
  // by gaps of thousands of them, the last burst followed by a gap to t_end:
  // every spike, the ones in the step that ends the window included, against
  // the fine-step RK4 reference. (A step's decay factors underflow to zero
  // past about 745 time constants; the engine must not let that hide its
  // crossings.)
  std::mt19937_64 rng(11);
  for (double ratio : {0.5, 2.0, 3.7}) {
    NeuronParams p;
    p.tau_m = 1.0;
    p.tau_s = 1.0 / ratio;
    const double t_end = 1e4 * p.tau_m;
    Layer layer = testing::random_layer(rng, p, 4, 3, 0.0, 0.3);
    testing::for_each_weight(layer, [](double& w) { w += 2.0; });
    auto inputs = testing::random_inputs(rng, 4, 2, 3.0);
    for (auto& list : inputs) {
      const std::vector<double> early = list;
      for (double t : early) list.push_back(t + 4000.0 * p.tau_m);  // after a gap of 4000 tau_m
      for (double t : early) list.push_back(t + 7000.0 * p.tau_m);  // then 3000 tau_m to t_end
    }
    const SpikeTrain train = merge_spike_lists(inputs);
    LayerWorkspace ws;
    LayerTrace trace;
    layer_forward(layer, train, t_end, trace, ws);
    const auto engine = split_spike_train(trace.spikes, layer.n_out);
    const auto reference = testing::reference_layer(inputs, layer, t_end, 0.01 * p.tau_m);
    int late = 0;
    for (int n = 0; n < layer.n_out; ++n) {
      ASSERT_EQ(engine[n].size(), reference[n].size()) << "ratio " << ratio << ", neuron " << n;
      for (std::size_t k = 0; k < engine[n].size(); ++k) {
        EXPECT_NEAR(engine[n][k], reference[n][k], 1e-6) << "ratio " << ratio << ", neuron " << n << ", spike " << k;
        late += engine[n][k] > 7000.0 * p.tau_m;
      }
    }
    EXPECT_GT(late, 0) << "the last burst must drive spikes in the window's last step";
    std::vector<double> grad_w(layer.weights.size(), 0.0), grad_in(train.size());
    layer_backward(layer, train, trace, std::vector<double>(trace.spikes.size(), 1.0).data(), {}, grad_w.data(),
                   grad_in.data(), ws);
    for (double g : grad_w) EXPECT_TRUE(std::isfinite(g));
    for (double g : grad_in) EXPECT_TRUE(std::isfinite(g));
  }
}

}  // namespace
}  // namespace spiketime
