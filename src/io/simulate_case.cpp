#include "spiketime/simulate.hpp"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "spiketime/json_text.hpp"
#include "spiketime/error.hpp"

namespace spiketime {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw InputError(field + ": " + problem);
}

const json& member(const json& object, const std::string& key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) fail(where + key, "missing");
  return *it;
}

double finite_number(const json& value, const std::string& field) {
  if (!value.is_number()) fail(field, "not a number");
  const double x = value.get<double>();
  if (!std::isfinite(x)) fail(field, "not a finite number");
  return x;
}

double positive_number(const json& value, const std::string& field) {
  const double x = finite_number(value, field);
  if (!(x > 0.0)) fail(field, "must be positive");
  return x;
}

const json& array(const json& value, const std::string& field) {
  if (!value.is_array()) fail(field, "not an array");
  return value;
}

Layer parse_layer(const json& spec, std::size_t index, int n_in, long long weights_before) {
  const std::string where = "layers[" + std::to_string(index) + "].";
  if (!spec.is_object()) fail("layers[" + std::to_string(index) + "]", "not an object");
  NeuronParams p;
  p.tau_m = positive_number(member(spec, "tau_m", where), where + "tau_m");
  p.tau_s = positive_number(member(spec, "tau_s", where), where + "tau_s");
  p.theta = positive_number(member(spec, "theta", where), where + "theta");
  if (const auto it = spec.find("max_spikes"); it != spec.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > 1'000'000'000) {
      fail(where + "max_spikes", "must be a non-negative integer");
    }
    p.max_spikes = it->get<int>();
  }
  const json& rows = array(member(spec, "weights", where), where + "weights");
  if (rows.empty()) fail(where + "weights", "has no rows (a layer needs at least one neuron)");
  // Every row's shape before the layer takes memory: the rows of the
  // document bound the work (a short file declaring 10^6 inputs and 10^5
  // rows asked for 800 GB).
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string row_field = where + "weights[" + std::to_string(i) + "]";
    const json& row = array(rows[i], row_field);
    if (row.size() != static_cast<std::size_t>(n_in)) {
      fail(row_field, "has " + std::to_string(row.size()) + " columns, expected " + std::to_string(n_in) +
                          (index == 0 ? " (one per input neuron)" : " (one per neuron of the layer below)"));
    }
  }
  check_layer_size(n_in, static_cast<long long>(rows.size()), weights_before, where + "weights");
  Layer layer(p, n_in, static_cast<int>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string row_field = where + "weights[" + std::to_string(i) + "]";
    const json& row = rows[i];
    for (int j = 0; j < n_in; ++j) {
      layer.weight(static_cast<int>(i), j) = finite_number(row[j], row_field + "[" + std::to_string(j) + "]");
    }
  }
  return layer;
}

// One row per neuron, one column per input, from the input-major layout.
std::vector<std::vector<double>> neuron_major(const Layer& layer, const std::vector<double>& input_major) {
  std::vector<std::vector<double>> rows(static_cast<std::size_t>(layer.n_out), std::vector<double>(layer.n_in));
  for (int i = 0; i < layer.n_out; ++i) {
    for (int j = 0; j < layer.n_in; ++j) rows[i][j] = input_major[static_cast<std::size_t>(j) * layer.stride() + i];
  }
  return rows;
}

}  // namespace

SimulateCase parse_simulate_case(const std::string& json_text) {
  const json doc = parse_json(json_text, "");
  if (!doc.is_object()) fail("case", "the top level must be a JSON object");
  SimulateCase c;
  c.net.t_end = positive_number(member(doc, "t_end", ""), "t_end");

  const json& inputs = array(member(doc, "input_spikes", ""), "input_spikes");
  if (inputs.empty()) fail("input_spikes", "has no input neuron");
  check_layer_size(static_cast<long long>(inputs.size()), 1, 0, "input_spikes");
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    const std::string field = "input_spikes[" + std::to_string(j) + "]";
    std::vector<double> times;
    for (std::size_t m = 0; m < array(inputs[j], field).size(); ++m) {
      times.push_back(finite_number(inputs[j][m], field + "[" + std::to_string(m) + "]"));
      if (m > 0 && times[m] < times[m - 1]) fail(field, "spike times are not in ascending order");
    }
    c.input_spikes.push_back(std::move(times));
  }

  const json& layers = array(member(doc, "layers", ""), "layers");
  if (layers.empty()) fail("layers", "is empty");
  int n_in = static_cast<int>(inputs.size());
  long long weights = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    c.net.layers.push_back(parse_layer(layers[l], l, n_in, weights));
    n_in = c.net.layers.back().n_out;
    weights += static_cast<long long>(c.net.layers.back().n_in) * n_in;
  }
  if (const auto it = doc.find("spike_limits"); it != doc.end()) {
    if (!it->is_object()) fail("spike_limits", "not an object");
    for (const auto& [key, value] : it->items()) {
      const std::string field = "spike_limits." + key;
      int64_t* limit = key == "per_neuron" ? &c.net.limits.per_neuron
                       : key == "per_sample" ? &c.net.limits.per_sample
                                             : nullptr;
      if (!limit) fail(field, "unknown key (per_neuron or per_sample)");
      if (!value.is_number_integer() || value.get<long long>() < 1) fail(field, "must be a positive integer");
      *limit = value.get<int64_t>();
    }
  }
  try {
    c.net.validate();
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  return c;
}

std::string run_simulate_case(const SimulateCase& c, bool with_grad, GradientGuard guard) {
  const SpikeTrain input = merge_spike_lists(c.input_spikes);
  NetworkWorkspace ws;
  network_forward(c.net, input, ws);

  nlohmann::ordered_json out;
  out["layers"] = nlohmann::ordered_json::array();
  for (std::size_t l = 0; l < c.net.layers.size(); ++l) {
    out["layers"].push_back({{"spikes", split_spike_train(ws.traces[l].spikes, c.net.layers[l].n_out)}});
  }
  if (with_grad) {
    // S = sum of the last layer's spike times: dS/dt = 1 for each of them.
    const std::vector<double> ones(ws.traces.back().spikes.size(), 1.0);
    NetworkGradient grad;
    grad.reset(c.net);
    network_backward(c.net, input, ones, guard, grad, ws);
    std::vector<std::vector<std::vector<double>>> weights;
    for (std::size_t l = 0; l < c.net.layers.size(); ++l) weights.push_back(neuron_major(c.net.layers[l], grad.weights[l]));
    // Train order is time order, stable in neuron index, so the k-th occurrence
    // of neuron j in the train is its k-th listed spike.
    std::vector<std::vector<double>> input_grad(c.input_spikes.size());
    for (std::size_t e = 0; e < input.size(); ++e) input_grad[input.neurons[e]].push_back(grad.input_times[e]);
    out["grad"]["objective"] = "sum_last_layer_spike_times";
    out["grad"]["weights"] = weights;
    out["grad"]["input_spikes"] = input_grad;
  }
  return out.dump();
}

}  // namespace spiketime
