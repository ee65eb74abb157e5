// Weight initialization under which neurons fire from the first epoch.
#pragma once

#include <random>

#include "spiketime/layer.hpp"

namespace spiketime {

// Weights ~ Normal(mean, std) in units of theta / (peak of one PSP):
//   mean = mean_drive / n_spikes,  std = std_drive / sqrt(n_spikes),
// where n_spikes is the expected number of input spikes per sample. With
// mean_drive > 1 the average neuron receives more than a threshold's worth of
// summed PSP peaks and fires; std_drive spreads the neurons out.
void initialize_weights(Layer& layer, std::mt19937_64& rng, double n_spikes, double mean_drive, double std_drive);

// Height of the PSP that a unit weight causes from rest (the peak of kappa).
double psp_peak(const NeuronParams& p);

}  // namespace spiketime
