// The SIMD targets: choosing one, and the same bits from every one of them
// (kernels.hpp): spikes, currents and gradients of random multi-spike
// networks whose layers span full and partial blocks on every target, and
// the weights after training, compared bit for bit with the scalar target.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "reference.hpp"
#include "spiketime/error.hpp"
#include "spiketime/init.hpp"
#include "spiketime/simd.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime {
namespace {

using testing::for_each_weight;
using testing::random_inputs;
using testing::random_layer;

// Restores the target chosen for the whole run (SPIKETIME_TARGET) at the end
// of a test that switches targets.
struct KeepTarget {
  std::string target = active_target();
  ~KeepTarget() { select_target(target); }
};

TEST(Targets, ChoosingOne) {
  KeepTarget keep;
  const std::vector<std::string> targets = available_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(targets.back(), "scalar") << "the scalar fallback runs everywhere";
  for (const std::string& t : targets) {
    select_target(t);
    EXPECT_EQ(active_target(), t);
  }
  select_target("best");
  EXPECT_EQ(active_target(), targets.front());
  try {
    select_target("avx1024");
    FAIL() << "an unknown target must be refused";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'avx1024'"), std::string::npos) << what;
    EXPECT_NE(what.find("scalar"), std::string::npos) << "the message lists what is available: " << what;
  }
  EXPECT_EQ(active_target(), targets.front()) << "a refused choice changes nothing";
}

// Every double the engine computes for one sample: spike times and currents
// of every layer, the weight gradients and the input-time gradients.
std::vector<double> everything(const Network& net, const SpikeTrain& train, const std::vector<double>& coef) {
  NetworkWorkspace ws;
  network_forward(net, train, ws);
  std::vector<double> out;
  for (const LayerTrace& t : ws.traces) {
    out.insert(out.end(), t.spikes.times.begin(), t.spikes.times.end());
    out.insert(out.end(), t.current_at_spike.begin(), t.current_at_spike.end());
    out.push_back(static_cast<double>(t.spikes.size()));
  }
  std::vector<double> grad_last(ws.traces.back().spikes.size());
  for (std::size_t e = 0; e < grad_last.size(); ++e) grad_last[e] = coef[e % coef.size()];
  NetworkGradient grad;
  grad.reset(net);
  network_backward(net, train, grad_last, GradientGuard{1e-12}, grad, ws);
  for (const auto& g : grad.weights) out.insert(out.end(), g.begin(), g.end());
  out.insert(out.end(), grad.input_times.begin(), grad.input_times.end());
  return out;
}

// The index of the first double whose bits differ, or -1.
long first_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (std::bit_cast<uint64_t>(a[k]) != std::bit_cast<uint64_t>(b[k])) return static_cast<long>(k);
  }
  return -1;
}

TEST(Targets, SameBitsForRandomNetworks) {
  KeepTarget keep;
  const std::vector<std::string> targets = available_targets();
  // Widths: a partial vector on every target (75, 13), several full and
  // partial blocks in both passes (130), one neuron.
  const std::vector<std::vector<int>> shapes = {{20, 75, 13}, {30, 130, 1}, {9, 13, 75, 10}};
  int cases = 0;
  for (double ratio : {0.5, 1.0, 2.0, 3.7}) {
    for (int max_spikes : {0, 1, 3}) {
      for (const auto& widths : shapes) {
        std::mt19937_64 rng(static_cast<uint64_t>(ratio * 1000) + 17u * static_cast<uint64_t>(max_spikes) + widths.size());
        NeuronParams p;
        p.tau_s = 2.0;
        p.tau_m = ratio * p.tau_s;
        p.max_spikes = max_spikes;
        const double psp = psp_peak(p);
        Network net;
        net.t_end = 40.0;
        const SpikeTrain train = merge_spike_lists(random_inputs(rng, widths[0], 3, 15.0));
        std::size_t arriving = train.size();
        for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
          const double mean = 0.4 / psp * 18.0 / static_cast<double>(std::max<std::size_t>(arriving, 1));
          net.layers.push_back(random_layer(rng, p, widths[l], widths[l + 1], 0.0, 0.8 * mean));
          for_each_weight(net.layers.back(), [&](double& w) { w += mean; });
          NetworkWorkspace ws;
          network_forward(net, train, ws);
          arriving = ws.traces.back().spikes.size();
        }
        std::uniform_real_distribution<double> coef_dist(-1.0, 1.0);
        std::vector<double> coef(37);
        for (double& c : coef) c = coef_dist(rng);
        for (Precision precision : {Precision::Float64, Precision::Float32}) {
          net.set_precision(precision);
          select_target("scalar");
          const std::vector<double> reference = everything(net, train, coef);
          for (const std::string& t : targets) {
            select_target(t);
            const long k = first_difference(everything(net, train, coef), reference);
            EXPECT_EQ(k, -1) << t << " differs from scalar at value " << k << " (ratio " << ratio << ", max_spikes "
                             << max_spikes << ", " << widths.size() - 1 << " layers, " << precision_name(precision)
                             << ")";
          }
          ++cases;
        }
      }
    }
  }
  std::cout << "[ targets ] " << cases << " networks and precisions, the same bits on:";
  for (const std::string& t : targets) std::cout << ' ' << t;
  std::cout << "\n";
}

TEST(Targets, SameWeightsAfterTraining) {
  // Two epochs of Yin-Yang, both optimizers: the whole trainer (encoding,
  // both passes, pushes, the optimizer kernels) on every target. One thread:
  // the thread count does not meet the target anywhere, and this test also
  // runs under qemu (scripts/test-aarch64.sh), where threads hang.
  KeepTarget keep;
  const Dataset data = make_yinyang(400, 5);
  for (const auto& [optimizer, precision] :
       {std::pair{Optimizer::Adam, Precision::Float64}, std::pair{Optimizer::Sgd, Precision::Float64},
        std::pair{Optimizer::Adam, Precision::Float32}}) {
    TrainConfig c = default_config("yinyang");
    c.optimizer = optimizer;
    c.precision = precision;
    c.lr = optimizer == Optimizer::Sgd ? 0.01 : 3e-3;
    c.hidden = {45};
    std::vector<std::vector<double>> reference;
    for (const std::string& t : [] {
           std::vector<std::string> ts = available_targets();
           std::rotate(ts.begin(), ts.end() - 1, ts.end());  // scalar first: the reference
           return ts;
         }()) {
      select_target(t);
      ThreadPool pool(1);
      Trainer trainer(c, build_model(c, data), pool);
      for (int epoch = 0; epoch < 2; ++epoch) trainer.train_epoch(data, epoch, nullptr);
      std::vector<std::vector<double>> weights;
      for (const Layer& l : trainer.model().net.layers) {
        weights.push_back(l.weights);
        // The optimizer writes the float32 copy in its own pass: it must
        // still be the float64 weights rounded, every row stepped or not.
        if (precision == Precision::Float32) {
          ASSERT_EQ(l.weights32.size(), l.weights.size());
          long bad = -1;
          for (std::size_t k = 0; k < l.weights.size() && bad < 0; ++k) {
            if (l.weights32[k] != static_cast<float>(l.weights[k])) bad = static_cast<long>(k);
          }
          EXPECT_EQ(bad, -1) << "float32 copy stale on " << t;
        }
      }
      if (reference.empty()) {
        reference = weights;
        continue;
      }
      for (std::size_t l = 0; l < weights.size(); ++l) {
        EXPECT_EQ(first_difference(weights[l], reference[l]), -1)
            << optimizer_name(optimizer) << " in " << precision_name(precision) << " on " << t << ", layer " << l;
      }
    }
  }
}

}  // namespace
}  // namespace spiketime
