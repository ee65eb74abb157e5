#include "spiketime/init.hpp"

#include <cmath>

namespace spiketime {

double psp_peak(const NeuronParams& p) {
  const NeuronState unit{0.0, 1.0};
  return evolve(unit, extremum_time(unit, p), p).v;
}

void initialize_weights(Layer& layer, std::mt19937_64& rng, double n_spikes, double mean_drive, double std_drive) {
  const double unit = layer.neuron.theta / psp_peak(layer.neuron);
  std::normal_distribution<double> dist(unit * mean_drive / n_spikes, unit * std_drive / std::sqrt(n_spikes));
  for (int j = 0; j < layer.n_in; ++j) {  // input-major, the padding left at zero
    for (int i = 0; i < layer.n_out; ++i) layer.weight(i, j) = dist(rng);
  }
}

}  // namespace spiketime
