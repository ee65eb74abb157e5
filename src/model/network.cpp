#include "spiketime/network.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "spiketime/error.hpp"
#include "model/splitmix.hpp"

namespace spiketime {

void check_layer_size(long long n_in, long long n_out, long long weights_before, const std::string& where) {
  const auto fail = [&](const std::string& problem) { throw InputError(where + ": " + problem); };
  if (n_in > kMaxNeurons) fail(std::to_string(n_in) + " inputs, more than the limit of " + std::to_string(kMaxNeurons));
  if (n_out > kMaxNeurons) fail(std::to_string(n_out) + " neurons, more than the limit of " + std::to_string(kMaxNeurons));
  if (n_in > 0 && n_out > 0 && n_in * n_out > kMaxWeights - weights_before) {
    fail("takes the network past the limit of " + std::to_string(kMaxWeights) + " weights");
  }
}

void Network::validate() const {
  if (!(std::isfinite(t_end) && t_end > 0.0)) throw std::invalid_argument("t_end must be a positive number");
  if (layers.empty()) throw std::invalid_argument("the network has no layer");
  if (!(limits.per_neuron > 0 && limits.per_sample > 0)) throw std::invalid_argument("spike limits must be positive");
  long long weights = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const Layer& layer = layers[l];
    const std::string where = "layer " + std::to_string(l) + ": ";
    const NeuronParams& p = layer.neuron;
    if (!(std::isfinite(p.tau_m) && p.tau_m > 0.0)) throw std::invalid_argument(where + "tau_m must be positive");
    if (!(std::isfinite(p.tau_s) && p.tau_s > 0.0)) throw std::invalid_argument(where + "tau_s must be positive");
    if (!(std::isfinite(p.theta) && p.theta > 0.0)) throw std::invalid_argument(where + "theta must be positive");
    if (p.max_spikes < 0) throw std::invalid_argument(where + "max_spikes must be >= 0");
    const double window = t_end / std::min(p.tau_m, p.tau_s);
    if (!(window <= kMaxWindow)) {
      throw std::invalid_argument(where + "t_end " + format_number(t_end) + " spans " + format_number(window) +
                                  " of its shorter time constant, more than the limit of " + format_number(kMaxWindow));
    }
    if (layer.n_out <= 0 || layer.n_in <= 0) throw std::invalid_argument(where + "needs at least one input and one neuron");
    try {
      check_layer_size(layer.n_in, layer.n_out, weights, "layer " + std::to_string(l));
    } catch (const InputError& e) {
      throw std::invalid_argument(e.what());
    }
    weights += static_cast<long long>(layer.n_in) * layer.n_out;
    if (l > 0 && layer.n_in != layers[l - 1].n_out) {
      throw std::invalid_argument(where + "has " + std::to_string(layer.n_in) + " inputs but the layer below has " +
                                  std::to_string(layers[l - 1].n_out) + " neurons");
    }
    if (layer.weights.size() != static_cast<std::size_t>(layer.n_in) * layer.stride()) {
      throw std::invalid_argument(where + "weight array does not match its shape");
    }
  }
}

void NetworkGradient::reset(const Network& net, Precision sums) {
  const std::size_t n = net.layers.size();
  weights.assign(sums == Precision::Float64 ? n : 0, {});
  weights32.assign(sums == Precision::Float32 ? n : 0, {});
  for (std::size_t l = 0; l < n; ++l) {
    const std::size_t size = net.layers[l].weights.size();
    if (sums == Precision::Float64) {
      weights[l].assign(size, 0.0);
    } else {
      if (net.layers[l].precision() != Precision::Float32) {
        throw std::invalid_argument("NetworkGradient: float32 sums need a float32 network (layer " +
                                    std::to_string(l) + " is float64)");
      }
      weights32[l].assign(size, 0.0f);
    }
  }
  input_times.clear();
}

bool HiddenDropout::dropped(std::size_t layer, int32_t neuron) const {
  // splitmix64 over (seed, layer, neuron), as a uniform in [0, 1).
  const uint64_t key = (static_cast<uint64_t>(layer) << 32) | static_cast<uint32_t>(neuron);
  return unit_interval(splitmix64(splitmix64(seed) ^ key)) < p;
}

// The spikes of `from` whose neuron the dropout keeps, and their indices in it.
static void pass_survivors(const SpikeTrain& from, std::size_t layer, const HiddenDropout& dropout,
                           std::vector<uint8_t>& dropped, SpikeTrain& to, std::vector<uint32_t>& index) {
  to.clear();
  index.clear();
  for (std::size_t k = 0; k < from.size(); ++k) {
    const auto neuron = static_cast<std::size_t>(from.neurons[k]);
    if (dropped[neuron] == 2) dropped[neuron] = dropout.dropped(layer, from.neurons[k]);  // drawn once per neuron
    if (dropped[neuron]) continue;
    to.push(from.times[k], from.neurons[k]);
    index.push_back(static_cast<uint32_t>(k));
  }
}

void network_forward(const Network& net, const SpikeTrain& input, NetworkWorkspace& ws, CrossingSolver solver,
                     HiddenDropout dropout) {
  const std::size_t n_layers = net.layers.size();
  ws.traces.resize(n_layers);
  const bool dropping = dropout.p > 0.0 && n_layers > 1;
  ws.passed.resize(dropping ? n_layers - 1 : 0);
  ws.passed_from.resize(ws.passed.size());
  int64_t spikes = 0;
  for (std::size_t l = 0; l < n_layers; ++l) {
    if (dropping && l > 0) {
      ws.dropped.assign(static_cast<std::size_t>(net.layers[l - 1].n_out), 2);
      pass_survivors(ws.traces[l - 1].spikes, l - 1, dropout, ws.dropped, ws.passed[l - 1], ws.passed_from[l - 1]);
    }
    const SpikeTrain& below = ws.input_of(l, input);
    try {
      layer_forward(net.layers[l], below, net.t_end, ws.traces[l], ws.layer, solver,
                    {net.limits.per_neuron, net.limits.per_sample, spikes});
    } catch (const SpikeLimitError& e) {
      throw SpikeLimitError("layer " + std::to_string(l) + ", " + e.what());
    }
    spikes += static_cast<int64_t>(ws.traces[l].spikes.size());
  }
}

void network_backward(const Network& net, const SpikeTrain& input, const std::vector<double>& grad_last_layer,
                      GradientGuard guard, NetworkGradient& grad, NetworkWorkspace& ws) {
  ws.grad_times.assign(grad_last_layer.begin(), grad_last_layer.end());
  for (std::size_t l = net.layers.size(); l-- > 0;) {
    const SpikeTrain& below = ws.input_of(l, input);
    const bool wanted = l > 0 || grad.with_input_times;
    ws.grad_times_below.resize(wanted ? below.size() : 0);
    double* grad_below = wanted ? ws.grad_times_below.data() : nullptr;
    if (grad.precision() == Precision::Float32) {
      layer_backward(net.layers[l], below, ws.traces[l], ws.grad_times.data(), guard, grad.weights32[l].data(),
                     grad_below, ws.layer);
    } else {
      layer_backward(net.layers[l], below, ws.traces[l], ws.grad_times.data(), guard, grad.weights[l].data(),
                     grad_below, ws.layer);
    }
    if (l > 0 && !ws.passed.empty()) {  // back to every spike of layer l - 1: a dropped one's loss does not depend on it
      ws.grad_times.assign(ws.traces[l - 1].spikes.size(), 0.0);
      const auto& from = ws.passed_from[l - 1];
      for (std::size_t k = 0; k < from.size(); ++k) ws.grad_times[from[k]] = ws.grad_times_below[k];
      continue;
    }
    ws.grad_times.swap(ws.grad_times_below);
  }
  grad.input_times.assign(ws.grad_times.begin(), ws.grad_times.end());
}

}  // namespace spiketime
