// Readouts: loss gradients with respect to output spike times against finite
// differences, and the handling of ties and silent outputs.
#include <gtest/gtest.h>

#include <cmath>

#include "spiketime/loss.hpp"

namespace spiketime {
namespace {

LayerTrace trace_of(const std::vector<std::vector<double>>& per_neuron) {
  LayerTrace t;
  t.spikes = merge_spike_lists(per_neuron);
  return t;
}

void check_gradient(Readout readout, std::vector<std::vector<double>> spikes, int label) {
  const double t_end = 30.0, tau = 2.5;
  std::vector<double> grad, scratch;
  const LayerTrace base = trace_of(spikes);
  readout_loss(readout, base, static_cast<int>(spikes.size()), label, t_end, tau, grad);
  std::size_t e = 0;
  for (std::size_t n = 0; n < spikes.size(); ++n) {
    for (std::size_t k = 0; k < spikes[n].size(); ++k) {
      const double h = 1e-6, t0 = spikes[n][k];
      spikes[n][k] = t0 + h;
      const double plus = readout_loss(readout, trace_of(spikes), static_cast<int>(spikes.size()), label, t_end, tau, scratch).loss;
      spikes[n][k] = t0 - h;
      const double minus = readout_loss(readout, trace_of(spikes), static_cast<int>(spikes.size()), label, t_end, tau, scratch).loss;
      spikes[n][k] = t0;
      // Find this spike in time order.
      for (e = 0; e < base.spikes.size(); ++e)
        if (base.spikes.neurons[e] == static_cast<int>(n) && base.spikes.times[e] == t0) break;
      EXPECT_NEAR(grad[e], (plus - minus) / (2 * h), 1e-8) << readout_name(readout) << " neuron " << n << " spike " << k;
    }
  }
}

TEST(Readout, GradientsMatchFiniteDifferences) {
  const std::vector<std::vector<double>> spikes = {{3.0, 7.5, 9.0}, {}, {4.2}, {2.9, 12.0}};
  for (Readout r : {Readout::FirstSpike, Readout::AllSpikes})
    for (int label : {0, 1, 2}) check_gradient(r, spikes, label);
}

TEST(Readout, FirstSpikeMatchesItsFormula) {
  std::vector<double> grad;
  const auto r = first_spike_cross_entropy(trace_of({{3.0}, {5.0}, {}}), 3, 1, 20.0, 2.0, grad);
  const double z0 = -1.5, z1 = -2.5, z2 = -10.0;
  EXPECT_NEAR(r.loss, -z1 + std::log(std::exp(z0) + std::exp(z1) + std::exp(z2)), 1e-12);
  EXPECT_EQ(r.predicted, 0);
  EXPECT_FALSE(r.tie);
  // With one spike per output the two readouts agree.
  const auto a = all_spike_cross_entropy(trace_of({{3.0}, {5.0}, {}}), 3, 1, 20.0, 2.0, grad);
  EXPECT_NEAR(a.loss, r.loss, 1e-12);
}

TEST(Readout, TiesAndSilenceAreReported) {
  std::vector<double> grad;
  const auto tie = first_spike_cross_entropy(trace_of({{4.0}, {4.0}, {6.0}}), 3, 2, 20.0, 2.0, grad);
  EXPECT_TRUE(tie.tie);
  EXPECT_EQ(tie.predicted, 0);
  const auto silent = first_spike_cross_entropy(trace_of({{}, {}, {}}), 3, 2, 20.0, 2.0, grad);
  EXPECT_TRUE(silent.all_silent);
  EXPECT_EQ(silent.predicted, -1);
  EXPECT_NEAR(silent.loss, std::log(3.0), 1e-12);
  EXPECT_TRUE(grad.empty());
  const auto all = all_spike_cross_entropy(trace_of({{}, {}, {}}), 3, 0, 20.0, 2.0, grad);
  EXPECT_TRUE(all.all_silent);
}

}  // namespace
}  // namespace spiketime
