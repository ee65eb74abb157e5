#include "spiketime/loss.hpp"

#include <algorithm>
#include <cmath>

namespace spiketime {

ReadoutResult first_spike_cross_entropy(const LayerTrace& output, int n_outputs, int label, double t_end,
                                        double tau_out, std::vector<double>& grad) {
  const auto n = static_cast<std::size_t>(n_outputs);
  // First spike of each output: the train is in time order, so the first
  // occurrence of each neuron.
  std::vector<double> first(n, t_end);
  std::vector<long> first_index(n, -1);
  for (std::size_t e = 0; e < output.spikes.size(); ++e) {
    const auto k = static_cast<std::size_t>(output.spikes.neurons[e]);
    if (first_index[k] < 0) {
      first_index[k] = static_cast<long>(e);
      first[k] = output.spikes.times[e];
    }
  }
  ReadoutResult r;
  const double t_min = *std::min_element(first.begin(), first.end());
  double denom = 0.0;
  for (double t : first) denom += std::exp(-(t - t_min) / tau_out);
  r.loss = (first[static_cast<std::size_t>(label)] - t_min) / tau_out + std::log(denom);

  grad.assign(output.spikes.size(), 0.0);
  for (std::size_t k = 0; k < n; ++k) {
    if (first_index[k] < 0) continue;
    const double p = std::exp(-(first[k] - t_min) / tau_out) / denom;
    grad[static_cast<std::size_t>(first_index[k])] = ((k == static_cast<std::size_t>(label) ? 1.0 : 0.0) - p) / tau_out;
  }

  r.all_silent = std::all_of(first_index.begin(), first_index.end(), [](long e) { return e < 0; });
  if (!r.all_silent) {
    r.predicted = static_cast<int>(std::min_element(first.begin(), first.end()) - first.begin());
    r.tie = std::count(first.begin(), first.end(), t_min) > 1;
  }
  return r;
}

}  // namespace spiketime
