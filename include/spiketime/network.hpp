// A feed-forward stack of LIF layers: forward simulation of one sample and
// the exact reverse pass through every layer.
#pragma once

#include <string>
#include <vector>

#include "spiketime/layer.hpp"

namespace spiketime {

// Sizes and ranges every network keeps, checked before memory is taken for
// it (docs/LIMITS.md): far above any network that trains on one machine, far
// below what would exhaust one.
inline constexpr long long kMaxNeurons = 1LL << 24;  // per layer, and inputs
inline constexpr long long kMaxWeights = 1LL << 28;  // per network: 2 GiB of doubles
// t_end over the shorter time constant: a stretch without input is stepped
// in pieces of 64 time constants (layer_forward), so a window of 10^7 takes
// about 1.6 x 10^5 steps; a time constant of 1e-300 asked for 10^302.
inline constexpr double kMaxWindow = 1e7;

// Throws InputError "<where>: ..." when a layer of n_in inputs and n_out
// neurons, after layers holding weights_before weights, passes kMaxNeurons
// or kMaxWeights. Call it before allocating the layer.
void check_layer_size(long long n_in, long long n_out, long long weights_before, const std::string& where);

struct Network {
  double t_end = 100.0;  // every sample is simulated on [0, t_end]
  std::vector<Layer> layers;
  SpikeLimits limits;  // per sample, over all layers (not saved with a model)

  // Every layer's (Layer::set_precision).
  void set_precision(Precision p) {
    for (Layer& layer : layers) layer.set_precision(p);
  }
  int n_inputs() const { return layers.empty() ? 0 : layers.front().n_in; }
  int n_outputs() const { return layers.empty() ? 0 : layers.back().n_out; }
  // Throws std::invalid_argument when the layer shapes or parameters do not
  // fit, or pass the limits above.
  void validate() const;
};

// dL/dw for every layer (layout of Layer::weights) and dL/dt for every input
// spike (unless with_input_times is off, as in training, where the data's
// spike times have no parameters: that saves a third of the first layer's
// reverse pass).
struct NetworkGradient {
  std::vector<std::vector<double>> weights;
  std::vector<double> input_times;
  bool with_input_times = true;

  void reset(const Network& net);  // shaped like net, all zero
};

// Per-thread scratch memory and the traces of the last forward pass.
struct NetworkWorkspace {
  std::vector<LayerTrace> traces;
  LayerWorkspace layer;
  std::vector<double> grad_times, grad_times_below;
};

// Simulates every layer; the spikes of layer l are ws.traces[l].spikes.
void network_forward(const Network& net, const SpikeTrain& input, NetworkWorkspace& ws,
                     CrossingSolver solver = CrossingSolver::Automatic);

// Reverse pass after network_forward on the same input: grad_last_layer holds
// dL/dt for each spike of the last layer. Adds dL/dw into grad.weights and
// writes dL/dt of every input spike into grad.input_times (left empty without
// grad.with_input_times).
void network_backward(const Network& net, const SpikeTrain& input, const std::vector<double>& grad_last_layer,
                      GradientGuard guard, NetworkGradient& grad, NetworkWorkspace& ws);

}  // namespace spiketime
