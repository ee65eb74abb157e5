// The JSON contract of `spiketime simulate` (shared/docs/SIMULATE.md).
#pragma once

#include <string>
#include <vector>

#include "spiketime/network.hpp"

namespace spiketime {

struct SimulateCase {
  Network net;
  std::vector<std::vector<double>> input_spikes;  // one ascending list per input neuron
};

// Parses and validates a case; throws InputError naming the offending field.
SimulateCase parse_simulate_case(const std::string& json_text);

// Runs the case and renders the output object; with_grad adds the gradient of
// the sum of every last-layer spike time.
std::string run_simulate_case(const SimulateCase& c, bool with_grad, GradientGuard guard);

}  // namespace spiketime
