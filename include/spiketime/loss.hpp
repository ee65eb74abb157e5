// Readouts and losses on the output layer's spikes (MODEL.md section 5).
#pragma once

#include <vector>

#include "spiketime/layer.hpp"
#include "spiketime/model.hpp"

namespace spiketime {

struct ReadoutResult {
  double loss = 0.0;
  int predicted = -1;       // -1 when every output is silent
  bool tie = false;         // several outputs share the best score
  bool all_silent = false;
};

// First-spike readout: the class is the output that fires first, and
//   L = -log softmax(-t / tau_out)[label]
// over first-spike times, a silent output counting as t_end with no timing
// gradient. Writes dL/dt for every output spike (non-zero only for first
// spikes) into grad. Ties go to the lowest index and are reported.
ReadoutResult first_spike_cross_entropy(const LayerTrace& output, int n_outputs, int label, double t_end,
                                        double tau_out, std::vector<double>& grad);

// All-spike readout: output i scores z_i = log sum_k exp(-t_ik / tau_out) over
// every spike it fires (-t_end / tau_out when silent), the class is the
// highest score and L = -log softmax(z)[label]. With one spike per output
// this equals the first-spike readout.
ReadoutResult all_spike_cross_entropy(const LayerTrace& output, int n_outputs, int label, double t_end,
                                      double tau_out, std::vector<double>& grad);

inline ReadoutResult readout_loss(Readout readout, const LayerTrace& output, int n_outputs, int label, double t_end,
                                  double tau_out, std::vector<double>& grad) {
  return readout == Readout::FirstSpike ? first_spike_cross_entropy(output, n_outputs, label, t_end, tau_out, grad)
                                        : all_spike_cross_entropy(output, n_outputs, label, t_end, tau_out, grad);
}

}  // namespace spiketime
