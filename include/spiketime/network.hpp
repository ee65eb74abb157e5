// A feed-forward stack of LIF layers: forward simulation of one sample and
// the exact reverse pass through every layer.
#pragma once

#include <cstdint>
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
//
// The weight gradient is summed in float64 (weights), or in float32
// (weights32, the other left empty) when reset asks for it, which needs a
// float32 network: the trainer's float32 path, where the gradient's memory
// traffic was most of the reverse pass's time.
struct NetworkGradient {
  std::vector<std::vector<double>> weights;
  std::vector<std::vector<float>> weights32;
  std::vector<double> input_times;
  bool with_input_times = true;

  // Shaped like net, all zero, summed in the precision `sums`.
  void reset(const Network& net, Precision sums = Precision::Float64);
  Precision precision() const { return weights32.empty() ? Precision::Float64 : Precision::Float32; }
};

// Dropout of hidden neurons, a training noise (config key hidden_dropout):
// in one sample, each neuron of every layer but the last is dropped with
// probability p, drawn from (seed, layer, neuron) alone, and its spikes do
// not reach the layer above. The dropped neuron still fires in its own
// layer (its spikes count and its trace is whole); it just carries nothing
// up, so it gets no gradient from above. Nothing here rescales the
// survivors: the trainer does that (Trainer::train_batch).
struct HiddenDropout {
  double p = 0.0;
  uint64_t seed = 0;
  bool dropped(std::size_t layer, int32_t neuron) const;
};

// Per-thread scratch memory and the traces of the last forward pass.
struct NetworkWorkspace {
  std::vector<LayerTrace> traces;
  LayerWorkspace layer;
  std::vector<double> grad_times, grad_times_below;
  // With hidden dropout in the last forward pass: the spikes of layer l
  // that reached layer l + 1 (passed[l]), and where each is in
  // traces[l].spikes (passed_from[l]). Empty without dropout.
  std::vector<SpikeTrain> passed;
  std::vector<std::vector<uint32_t>> passed_from;
  std::vector<uint8_t> dropped;  // forward scratch: per neuron of a layer, dropped or not (2: not drawn yet)

  // The spikes layer l received in the last forward pass, input being the
  // network's input then.
  const SpikeTrain& input_of(std::size_t l, const SpikeTrain& input) const {
    if (l == 0) return input;
    return passed.empty() ? traces[l - 1].spikes : passed[l - 1];
  }
};

// Simulates every layer; the spikes of layer l are ws.traces[l].spikes, and
// those that reached layer l + 1 ws.input_of(l + 1, input).
void network_forward(const Network& net, const SpikeTrain& input, NetworkWorkspace& ws,
                     CrossingSolver solver = CrossingSolver::Automatic, HiddenDropout dropout = {});

// Reverse pass after network_forward on the same input (and the same
// dropout, which the workspace remembers): grad_last_layer holds
// dL/dt for each spike of the last layer. Adds dL/dw into grad.weights and
// writes dL/dt of every input spike into grad.input_times (left empty without
// grad.with_input_times).
void network_backward(const Network& net, const SpikeTrain& input, const std::vector<double>& grad_last_layer,
                      GradientGuard guard, NetworkGradient& grad, NetworkWorkspace& ws);

}  // namespace spiketime
