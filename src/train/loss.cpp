#include "spiketime/loss.hpp"

#include <algorithm>
#include <cmath>

namespace spiketime {
namespace {

// Softmax cross-entropy over per-class scores z. Fills p with the softmax and
// the result's loss, prediction (argmax, lowest index on ties) and tie flag.
ReadoutResult cross_entropy(const std::vector<double>& z, int label, std::vector<double>& p) {
  ReadoutResult r;
  const double z_max = *std::max_element(z.begin(), z.end());
  double denom = 0.0;
  p.resize(z.size());
  for (std::size_t k = 0; k < z.size(); ++k) denom += p[k] = std::exp(z[k] - z_max);
  for (double& x : p) x /= denom;
  r.loss = z_max + std::log(denom) - z[static_cast<std::size_t>(label)];
  r.predicted = static_cast<int>(std::max_element(z.begin(), z.end()) - z.begin());
  r.tie = std::count(z.begin(), z.end(), z_max) > 1;
  return r;
}

}  // namespace

ReadoutResult first_spike_cross_entropy(const LayerTrace& output, int n_outputs, int label, double t_end,
                                        double tau_out, std::vector<double>& grad) {
  const auto n = static_cast<std::size_t>(n_outputs);
  // The train is in time order: the first occurrence of a neuron is its first spike.
  std::vector<long> first(n, -1);
  std::vector<double> z(n, -t_end / tau_out), p;
  for (std::size_t e = 0; e < output.spikes.size(); ++e) {
    const auto k = static_cast<std::size_t>(output.spikes.neurons[e]);
    if (first[k] < 0) {
      first[k] = static_cast<long>(e);
      z[k] = -output.spikes.times[e] / tau_out;
    }
  }
  ReadoutResult r = cross_entropy(z, label, p);
  grad.assign(output.spikes.size(), 0.0);
  for (std::size_t k = 0; k < n; ++k) {
    if (first[k] < 0) continue;  // a silent output has no spike time to move
    // dL/dz_k = p_k - [k == label] and dz_k/dt = -1/tau_out.
    grad[static_cast<std::size_t>(first[k])] = ((k == static_cast<std::size_t>(label) ? 1.0 : 0.0) - p[k]) / tau_out;
  }
  r.all_silent = std::all_of(first.begin(), first.end(), [](long e) { return e < 0; });
  if (r.all_silent) r.predicted = -1;
  return r;
}

ReadoutResult all_spike_cross_entropy(const LayerTrace& output, int n_outputs, int label, double t_end,
                                      double tau_out, std::vector<double>& grad) {
  const auto n = static_cast<std::size_t>(n_outputs);
  // z_k = log sum exp(-t/tau_out), accumulated relative to each output's first
  // (largest) term so that nothing overflows.
  std::vector<double> first_term(n, 0.0), sum(n, 0.0), z(n, -t_end / tau_out), p;
  for (std::size_t e = 0; e < output.spikes.size(); ++e) {
    const auto k = static_cast<std::size_t>(output.spikes.neurons[e]);
    const double a = -output.spikes.times[e] / tau_out;
    if (sum[k] == 0.0) first_term[k] = a;
    sum[k] += std::exp(a - first_term[k]);
  }
  bool any = false;
  for (std::size_t k = 0; k < n; ++k) {
    if (sum[k] > 0.0) {
      z[k] = first_term[k] + std::log(sum[k]);
      any = true;
    }
  }
  ReadoutResult r = cross_entropy(z, label, p);
  grad.assign(output.spikes.size(), 0.0);
  for (std::size_t e = 0; e < output.spikes.size(); ++e) {
    const auto k = static_cast<std::size_t>(output.spikes.neurons[e]);
    // dz_k/dt_e = -(1/tau_out) exp(-t_e/tau_out) / sum_k'.
    const double share = std::exp(-output.spikes.times[e] / tau_out - z[k]);
    grad[e] = ((k == static_cast<std::size_t>(label) ? 1.0 : 0.0) - p[k]) * share / tau_out;
  }
  r.all_silent = !any;
  if (r.all_silent) r.predicted = -1;
  return r;
}

}  // namespace spiketime
