// Exact gradients against central finite differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>

#include "reference.hpp"
#include "spiketime/init.hpp"
#include "spiketime/layer.hpp"
#include "spiketime/network.hpp"

namespace spiketime {
namespace {

using testing::params_with_ratio;
using testing::random_inputs;
using testing::random_layer;
using testing::for_each_weight;

// L = sum over last-layer spikes of coef(neuron, k) * t_k: a loss that weighs
// every spike differently, so each dL/dt entry of the reverse pass matters.
struct Objective {
  std::vector<std::vector<double>> coef;  // [neuron][k], zero beyond the list

  double operator()(const SpikeTrain& spikes, std::vector<double>* grad) const {
    std::vector<std::size_t> seen(coef.size(), 0);
    double loss = 0.0;
    if (grad) grad->assign(spikes.size(), 0.0);
    for (std::size_t e = 0; e < spikes.size(); ++e) {
      const auto n = static_cast<std::size_t>(spikes.neurons[e]);
      const std::size_t k = seen[n]++;
      const double c = k < coef[n].size() ? coef[n][k] : 0.5;
      loss += c * spikes.times[e];
      if (grad) (*grad)[e] = c;
    }
    return loss;
  }
};

struct Evaluation {
  double loss;
  std::vector<int> counts;  // spike counts of every neuron of every layer
};

Evaluation evaluate(const Network& net, const std::vector<std::vector<double>>& inputs, const Objective& obj) {
  NetworkWorkspace ws;
  network_forward(net, merge_spike_lists(inputs), ws);
  Evaluation ev{obj(ws.traces.back().spikes, nullptr), {}};
  for (const auto& trace : ws.traces) ev.counts.insert(ev.counts.end(), trace.spike_counts.begin(), trace.spike_counts.end());
  return ev;
}

// Counts pairs of consecutive spikes of one neuron with no input spike between them.
int intervals_with_two_spikes(const SpikeTrain& input, const LayerTrace& trace) {
  int found = 0;
  std::vector<double> last(trace.spike_counts.size(), -1.0);
  for (std::size_t e = 0; e < trace.spikes.size(); ++e) {
    const int n = trace.spikes.neurons[e];
    const double t = trace.spikes.times[e];
    if (last[n] >= 0.0) {
      const auto a = std::upper_bound(input.times.begin(), input.times.end(), last[n]);
      const auto b = std::lower_bound(input.times.begin(), input.times.end(), t);
      if (a >= b) ++found;
    }
    last[n] = t;
  }
  return found;
}

struct FdReport {
  double max_rel_error = 0.0;
  int compared = 0, skipped = 0;
};

// Relative error with a floor at 1e-3 of the largest gradient of the group,
// so that entries that are zero up to rounding do not divide by zero.
void compare(double analytic, double numeric, double scale, FdReport& report, const std::string& what) {
  const double diff = std::abs(analytic - numeric);
  const double rel = diff == 0.0 ? 0.0 : diff / std::max(std::abs(analytic), 1e-3 * scale);
  report.max_rel_error = std::max(report.max_rel_error, rel);
  ++report.compared;
  EXPECT_LE(rel, 1e-5) << what << ": analytic " << analytic << " numeric " << numeric;
}

// The numerical reference: central differences at steps eps and eps/2,
// combined by Richardson extrapolation (error O(eps^4) instead of O(eps^2)).
// `loss_at(x)` evaluates the network with the parameter set to x; returns
// false when a spike appears or vanishes within the steps.
template <typename LossAt>
bool richardson_derivative(LossAt&& loss_at, double x0, const std::vector<int>& base_counts, double& out) {
  const double eps = 1e-5;
  double d[2];
  for (int r = 0; r < 2; ++r) {
    const double h = r == 0 ? eps : eps / 2;
    const Evaluation plus = loss_at(x0 + h), minus = loss_at(x0 - h);
    if (plus.counts != base_counts || minus.counts != base_counts) return false;
    d[r] = (plus.loss - minus.loss) / (2 * h);
  }
  loss_at(x0);
  out = (4.0 * d[1] - d[0]) / 3.0;
  return true;
}

FdReport check_network(Network net, const std::vector<std::vector<double>>& inputs, const Objective& obj) {
  const SpikeTrain train = merge_spike_lists(inputs);
  NetworkWorkspace ws;
  network_forward(net, train, ws);
  std::vector<double> grad_last;
  obj(ws.traces.back().spikes, &grad_last);
  NetworkGradient grad;
  grad.reset(net);
  network_backward(net, train, grad_last, GradientGuard{0.0}, grad, ws);
  const Evaluation base = evaluate(net, inputs, obj);

  FdReport report;
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    double scale = 0.0;
    for (double g : grad.weights[l]) scale = std::max(scale, std::abs(g));
    for (std::size_t w = 0; w < net.layers[l].weights.size(); ++w) {
      if (w % net.layers[l].stride() >= static_cast<std::size_t>(net.layers[l].n_out)) continue;  // row padding
      double& weight = net.layers[l].weights[w];
      auto loss_at = [&](double x) {
        weight = x;
        return evaluate(net, inputs, obj);
      };
      double numeric = 0.0;
      if (!richardson_derivative(loss_at, weight, base.counts, numeric)) {
        ++report.skipped;
        continue;
      }
      compare(grad.weights[l][w], numeric, scale, report, "layer " + std::to_string(l) + " weight " + std::to_string(w));
    }
  }
  double scale = 0.0;
  for (double g : grad.input_times) scale = std::max(scale, std::abs(g));
  auto perturbed = inputs;
  for (std::size_t e = 0; e < train.size(); ++e) {
    // The e-th train entry is the k-th spike of its neuron.
    const int j = train.neurons[e];
    const auto k = static_cast<std::size_t>(std::count(train.neurons.begin(), train.neurons.begin() + e, j));
    auto loss_at = [&](double t) {
      perturbed[j][k] = t;
      return evaluate(net, perturbed, obj);
    };
    double numeric = 0.0;
    if (!richardson_derivative(loss_at, inputs[j][k], base.counts, numeric)) {
      ++report.skipped;
      continue;
    }
    compare(grad.input_times[e], numeric, scale, report, "input spike " + std::to_string(e));
  }
  return report;
}

Objective random_objective(std::mt19937_64& rng, int n_out) {
  std::uniform_real_distribution<double> c(-1.0, 1.0);
  Objective obj;
  obj.coef.resize(static_cast<std::size_t>(n_out));
  for (auto& row : obj.coef)
    for (int k = 0; k < 40; ++k) row.push_back(c(rng));
  return obj;
}

class GradientsVsFiniteDifferences : public ::testing::TestWithParam<std::tuple<double, int>> {};

TEST_P(GradientsVsFiniteDifferences, MultiSpikeNetworks) {
  const auto [ratio, depth] = GetParam();
  std::mt19937_64 rng(static_cast<uint64_t>(ratio * 100 + depth));
  const NeuronParams p = params_with_ratio(ratio);
  const std::vector<int> widths = depth == 2 ? std::vector<int>{6, 7, 3} : std::vector<int>{6, 7, 5, 3};
  Network net;
  std::vector<std::vector<double>> inputs;
  NetworkWorkspace ws;
  ASSERT_TRUE(testing::well_conditioned_network(rng, p, widths, psp_peak(p), net, inputs, ws))
      << "no well-conditioned network found";
  const SpikeTrain train = merge_spike_lists(inputs);
  const Objective obj = random_objective(rng, widths.back());

  int multi_spike_neurons = 0, two_spike_intervals = 0;
  for (std::size_t l = 0; l < ws.traces.size(); ++l) {
    for (int c : ws.traces[l].spike_counts) multi_spike_neurons += c >= 3;
    two_spike_intervals += intervals_with_two_spikes(l == 0 ? train : ws.traces[l - 1].spikes, ws.traces[l]);
  }
  EXPECT_GE(multi_spike_neurons, 3) << "the networks must fire several spikes per neuron";
  EXPECT_GE(two_spike_intervals, 1) << "some interval between input events must hold two spikes";

  const FdReport r = check_network(net, inputs, obj);
  EXPECT_GT(r.compared, 4 * r.skipped + 20);
  std::cout << "[ fd ] ratio " << ratio << " depth " << depth << ": " << r.compared << " compared, " << r.skipped
            << " skipped (unstable counts), max relative error " << r.max_rel_error << ", " << multi_spike_neurons
            << " neurons with >= 3 spikes, " << two_spike_intervals << " intervals with two spikes\n";
}

INSTANTIATE_TEST_SUITE_P(RatiosAndDepths, GradientsVsFiniteDifferences,
                         ::testing::Combine(::testing::Values(0.5, 1.0, 2.0, 3.7), ::testing::Values(2, 3)));

TEST(SharedInputTimes, GradientsMatchFiniteDifferences) {
  // Inputs on a grid of 1.5 time units, so that most share their time with
  // others, as the pixels of a latency-coded image do: the reverse pass
  // skips the shift between inputs of one time (there is none) and must
  // still give every input's row and time its own gradient.
  for (const double ratio : {1.0, 2.0}) {
    std::mt19937_64 rng(static_cast<uint64_t>(ratio * 10 + 7));
    const NeuronParams p = params_with_ratio(ratio);
    const std::vector<int> widths{8, 7, 3};
    Network net;
    std::vector<std::vector<double>> inputs;
    NetworkWorkspace ws;
    ASSERT_TRUE(testing::well_conditioned_network(rng, p, widths, psp_peak(p), net, inputs, ws, 1.5))
        << "no well-conditioned network found";
    const SpikeTrain train = merge_spike_lists(inputs);
    std::size_t shared = 0;
    for (std::size_t e = 1; e < train.size(); ++e) shared += train.times[e] == train.times[e - 1];
    EXPECT_GE(shared, train.size() / 3) << "a third or more of the inputs should share the time of the one before";
    const FdReport r = check_network(net, inputs, random_objective(rng, widths.back()));
    EXPECT_GT(r.compared, 4 * r.skipped + 20);
    std::cout << "[ fd ] shared input times, ratio " << ratio << ": " << shared << " of " << train.size()
              << " inputs at the time of the one before, " << r.compared << " compared, max relative error "
              << r.max_rel_error << "\n";
  }
}

// Hidden dropout cuts the dropped neurons off from the layers above. The
// reference is the plain engine (checked against finite differences above)
// on a copy of the network whose rows from the dropped neurons are zero: the
// same spikes, the same input-time gradients, and the same weight gradients
// except on those rows, which dropout leaves at exactly zero (no gradient
// reaches a weight whose input never arrives).
TEST(HiddenDropout, GivesTheGradientsOfTheNetworkWithTheDroppedNeuronsCutOff) {
  std::mt19937_64 rng(77);
  for (double ratio : {0.5, 2.0}) {
    const NeuronParams p = params_with_ratio(ratio);
    const std::vector<int> widths{6, 12, 10, 3};
    Network net;
    std::vector<std::vector<double>> inputs;
    NetworkWorkspace ws;
    ASSERT_TRUE(testing::well_conditioned_network(rng, p, widths, psp_peak(p), net, inputs, ws));
    const SpikeTrain train = merge_spike_lists(inputs);
    // A mask that drops some firing neurons and keeps others in both hidden layers.
    HiddenDropout dropout{0.3, 0};
    const auto splits_firing = [&](const HiddenDropout& d) {
      for (std::size_t l = 0; l + 1 < net.layers.size(); ++l) {
        int dropped = 0, kept = 0;
        for (int i = 0; i < net.layers[l].n_out; ++i) {
          if (ws.traces[l].spike_counts[static_cast<std::size_t>(i)] == 0) continue;
          (d.dropped(l, i) ? dropped : kept) += 1;
        }
        if (dropped == 0 || kept == 0) return false;
      }
      return true;
    };
    while (!splits_firing(dropout)) ++dropout.seed;
    Network cut = net;
    for (std::size_t l = 1; l < cut.layers.size(); ++l) {
      for (int j = 0; j < cut.layers[l].n_in; ++j) {
        if (!dropout.dropped(l - 1, j)) continue;
        for (int i = 0; i < cut.layers[l].n_out; ++i) cut.layers[l].weight(i, j) = 0.0;
      }
    }
    const Objective obj = random_objective(rng, widths.back());
    NetworkWorkspace ws_drop, ws_cut;
    network_forward(net, train, ws_drop, CrossingSolver::Automatic, dropout);
    network_forward(cut, train, ws_cut);
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
      const SpikeTrain &a = ws_drop.traces[l].spikes, &b = ws_cut.traces[l].spikes;
      ASSERT_EQ(a.neurons, b.neurons) << "layer " << l;
      for (std::size_t e = 0; e < a.size(); ++e) EXPECT_NEAR(a.times[e], b.times[e], 1e-12) << "layer " << l;
    }
    std::vector<double> grad_last;
    obj(ws_drop.traces.back().spikes, &grad_last);
    NetworkGradient g_drop, g_cut;
    g_drop.reset(net);
    g_cut.reset(cut);
    network_backward(net, train, grad_last, GradientGuard{0.0}, g_drop, ws_drop);
    network_backward(cut, train, grad_last, GradientGuard{0.0}, g_cut, ws_cut);
    const auto close = [](double a, double b, double scale) {
      return std::abs(a - b) <= 1e-9 * std::max(std::abs(b), 1e-3 * scale);
    };
    int cut_rows = 0;
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
      const Layer& layer = net.layers[l];
      double scale = 0.0;
      for (double g : g_cut.weights[l]) scale = std::max(scale, std::abs(g));
      for (int j = 0; j < layer.n_in; ++j) {
        const bool is_cut = l > 0 && dropout.dropped(l - 1, j);
        cut_rows += is_cut;
        for (int i = 0; i < layer.n_out; ++i) {
          const std::size_t k = static_cast<std::size_t>(j) * layer.stride() + static_cast<std::size_t>(i);
          if (is_cut) {
            EXPECT_EQ(g_drop.weights[l][k], 0.0) << "layer " << l << ", row of dropped neuron " << j;
          } else {
            EXPECT_PRED3(close, g_drop.weights[l][k], g_cut.weights[l][k], scale) << "layer " << l << " w " << k;
          }
        }
      }
    }
    EXPECT_GT(cut_rows, 2);
    double scale = 0.0;
    for (double g : g_cut.input_times) scale = std::max(scale, std::abs(g));
    ASSERT_EQ(g_drop.input_times.size(), g_cut.input_times.size());
    EXPECT_GT(scale, 0.0);
    for (std::size_t e = 0; e < g_cut.input_times.size(); ++e) {
      EXPECT_PRED3(close, g_drop.input_times[e], g_cut.input_times[e], scale) << "input spike " << e;
    }
  }
}

TEST(HiddenDropout, DropsTheAskedFractionByTheSeedAlone) {
  const HiddenDropout a{0.3, 12345}, b{0.3, 12346};
  int dropped = 0, agree = 0, n = 0;
  for (std::size_t l = 0; l < 2; ++l) {
    for (int32_t i = 0; i < 5000; ++i, ++n) {
      dropped += a.dropped(l, i);
      agree += a.dropped(l, i) == b.dropped(l, i);
      EXPECT_EQ(a.dropped(l, i), (HiddenDropout{0.3, 12345}.dropped(l, i)));
    }
  }
  // 10,000 draws: the standard deviation of the fraction is 0.0046.
  EXPECT_NEAR(static_cast<double>(dropped) / n, 0.3, 0.015);
  // Independent masks agree on 0.3^2 + 0.7^2 = 58 % of the neurons.
  EXPECT_NEAR(static_cast<double>(agree) / n, 0.58, 0.02);
  EXPECT_FALSE((HiddenDropout{0.0, 1}.dropped(0, 0)));
}

// The engine runs a layer in blocks of neurons (32 in the forward pass, 64 in
// the reverse pass), and the finite-difference checks above only see layers
// of one partial block. The neurons of a layer do not interact, so a
// 75-neuron layer (two full forward blocks and a partial one; a full reverse
// block and a partial one) must give each neuron the spikes and weight
// gradients that a layer of that neuron alone gives (bit for bit: the same
// arithmetic per neuron), and as input-time gradient the sum of the single
// neurons' (to rounding: the sum runs in another order).
TEST(WideLayers, EqualTheirNeuronsOneByOne) {
  std::mt19937_64 rng(45);
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    const NeuronParams p = params_with_ratio(ratio);
    const int n_in = 12, n_out = 75;
    const Layer wide = random_layer(rng, p, n_in, n_out, 1.0 / (n_out * psp_peak(p)), 0.4);
    const SpikeTrain input = merge_spike_lists(random_inputs(rng, n_in, 4, 30.0));
    std::uniform_real_distribution<double> coef(-1.0, 1.0);
    LayerWorkspace ws;
    LayerTrace trace;
    layer_forward(wide, input, 40.0, trace, ws);
    std::vector<double> grad_out(trace.spikes.size());
    for (double& g : grad_out) g = coef(rng);
    std::vector<double> grad_w(wide.weights.size(), 0.0), grad_in(input.size());
    layer_backward(wide, input, trace, grad_out.data(), {}, grad_w.data(), grad_in.data(), ws);

    std::vector<double> sum_in(input.size(), 0.0);
    int multi_spike = 0;
    for (int n = 0; n < n_out; ++n) {
      Layer single(p, n_in, 1);
      for (int j = 0; j < n_in; ++j) single.weight(0, j) = wide.weight(n, j);
      LayerTrace one;
      layer_forward(single, input, 40.0, one, ws);
      std::vector<double> one_grad_out;
      std::size_t k = 0;
      for (std::size_t e = 0; e < trace.spikes.size(); ++e) {
        if (trace.spikes.neurons[e] != n) continue;
        ASSERT_LT(k, one.spikes.size()) << "neuron " << n;
        EXPECT_EQ(trace.spikes.times[e], one.spikes.times[k]) << "neuron " << n << " spike " << k;
        EXPECT_EQ(trace.current_at_spike[e], one.current_at_spike[k]) << "neuron " << n << " spike " << k;
        one_grad_out.push_back(grad_out[e]);
        ++k;
      }
      ASSERT_EQ(k, one.spikes.size()) << "neuron " << n;
      multi_spike += k >= 3;
      std::vector<double> one_grad_w(single.weights.size(), 0.0), one_grad_in(input.size());
      layer_backward(single, input, one, one_grad_out.data(), {}, one_grad_w.data(), one_grad_in.data(), ws);
      for (int j = 0; j < n_in; ++j) {
        EXPECT_EQ(grad_w[static_cast<std::size_t>(j) * wide.stride() + n], one_grad_w[static_cast<std::size_t>(j) * single.stride()])
            << "neuron " << n << " input " << j;
      }
      for (std::size_t m = 0; m < input.size(); ++m) sum_in[m] += one_grad_in[m];
    }
    double scale = 0.0;
    for (double g : sum_in) scale = std::max(scale, std::abs(g));
    for (std::size_t m = 0; m < input.size(); ++m) EXPECT_NEAR(grad_in[m], sum_in[m], 1e-12 * scale) << "input " << m;
    EXPECT_GE(multi_spike, 10) << "ratio " << ratio << ": most neurons should fire several times";
  }
}

TEST(SingleSpike, MaxSpikesOneGivesTheFirstSpikeOfTheUnlimitedNetwork) {
  std::mt19937_64 rng(11);
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    const NeuronParams p = params_with_ratio(ratio);
    Layer layer = random_layer(rng, p, 10, 8, 0.3 / std::sqrt(ratio), 0.4);
    const SpikeTrain input = merge_spike_lists(random_inputs(rng, 10, 3, 20.0));
    LayerTrace unlimited, single;
    LayerWorkspace ws;
    layer_forward(layer, input, 40.0, unlimited, ws);
    layer.neuron.max_spikes = 1;
    layer_forward(layer, input, 40.0, single, ws);
    const auto all = split_spike_train(unlimited.spikes, layer.n_out);
    const auto first = split_spike_train(single.spikes, layer.n_out);
    int multi = 0;
    for (int n = 0; n < layer.n_out; ++n) {
      ASSERT_EQ(first[n].size(), all[n].empty() ? 0u : 1u);
      if (!all[n].empty()) {
        EXPECT_EQ(first[n][0], all[n][0]);  // the same computation: bit for bit
      }
      multi += all[n].size() > 1;
    }
    EXPECT_GT(multi, 0);
  }
}

TEST(SingleSpike, TtfsGradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(12);
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    NeuronParams p = params_with_ratio(ratio);
    p.max_spikes = 1;
    // Weights in units of one PSP's height: 16 input spikes reach each hidden
    // neuron and about 10 each output neuron.
    const double psp = psp_peak(p);
    Network net;
    net.t_end = 30.0;
    net.layers.push_back(random_layer(rng, p, 8, 10, 0.0, 0.1 / psp));
    for_each_weight(net.layers[0], [&](double& w) { w += 0.15 / psp; });
    net.layers.push_back(random_layer(rng, p, 10, 4, 0.0, 0.1 / psp));
    for_each_weight(net.layers[1], [&](double& w) { w += 0.25 / psp; });
    const auto inputs = random_inputs(rng, 8, 2, 10.0);
    NetworkWorkspace ws;
    network_forward(net, merge_spike_lists(inputs), ws);
    EXPECT_GE(ws.traces[0].spikes.size(), 5u) << ratio;
    EXPECT_GE(ws.traces[1].spikes.size(), 2u) << ratio << ": the gradients would all be zero";
    const FdReport r = check_network(net, inputs, random_objective(rng, 4));
    EXPECT_GT(r.compared, 50) << ratio;
    std::cout << "[ fd ] TTFS ratio " << ratio << ": " << r.compared << " compared, max relative error "
              << r.max_rel_error << "\n";
  }
}

}  // namespace
}  // namespace spiketime
