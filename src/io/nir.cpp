// NIR export and import (docs/NIR.md). Our neuron is NIR's CubaLIF:
//   NIR:  tau_syn dI/dt = -I + w_in S,  tau_mem dv/dt = (v_leak - v) + r I,
//         spike when v > v_threshold, then v = v_reset;
//   ours: I += w per input spike,      tau_m dV/dt = -V + I,
//         spike when V reaches theta, then V -= theta.
// A spike through weight W raises NIR's I by W w_in / tau_syn, so with
// w_in = tau_syn, r = 1, v_leak = 0 and v_reset = 0 the two agree (in
// continuous time V equals theta at the crossing, so subtracting theta and
// resetting to 0 are the same). On import, r and w_in may be anything: each
// neuron's row of weights is scaled by r w_in / tau_syn, which is exactly 1
// for the files written here.
#include "spiketime/json_text.hpp"
#include "spiketime/nir.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "io/child_process.hpp"
#include "io/container.hpp"
#include "io/hdf5.hpp"
#include "io/model_file.hpp"
#include "io/nir_read.hpp"
#include "spiketime/error.hpp"
#include "spiketime/version.hpp"

namespace spiketime {
namespace {

using io::h5::Group;
using io::h5::MemoryReader;
using io::h5::MemoryWriter;
using io::h5::OwnedGroup;

// The NIR release whose reference reader the tests load every export with.
constexpr const char* kNirVersion = "1.0.7";
// Far above any network this engine trains (a 784-800-10 export is 5 MB).
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{4} << 30;
constexpr double kMaxWidth = static_cast<double>(kMaxNeurons);  // network.hpp, as every reader

void check_time_unit(double time_unit, const std::string& what) {
  if (!(std::isfinite(time_unit) && time_unit > 0.0)) {
    throw InputError(what + ": the time unit must be a positive, finite number of seconds");
  }
}

std::string layer_name(const char* kind, std::size_t l) { return std::string(kind) + "_" + std::to_string(l); }

std::vector<double> seconds(const std::vector<double>& units, double time_unit) {
  std::vector<double> out;
  for (double t : units) out.push_back(t * time_unit);
  return out;
}

// Significant decimal digits needed to print x so that it reads back exactly.
int shortest_digits(double x) {
  char text[40];
  for (int digits = 1; digits < 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, x);
    if (std::strtod(text, nullptr) == x) return digits;
  }
  return 17;
}

}  // namespace

double nir_seconds_to_units(double seconds_value, double time_unit) {
  const double guess = seconds_value / time_unit;
  if (!std::isfinite(guess)) return guess;
  // The doubles that scale to seconds_value lie within a few ulps of the
  // quotient; look at four on each side.
  double best = guess;
  int best_digits = 18, best_distance = 0;
  double below = guess, above = guess;
  for (int k = 0; k <= 4; ++k) {
    for (double x : {below, above}) {
      if (x * time_unit != seconds_value) continue;
      const int digits = shortest_digits(x);
      if (digits < best_digits || (digits == best_digits && k < best_distance)) {
        best = x;
        best_digits = digits;
        best_distance = k;
      }
    }
    below = std::nextafter(below, -INFINITY);
    above = std::nextafter(above, INFINITY);
  }
  return best;
}

void export_nir(const Model& model, const std::string& path, double time_unit) {
  check_time_unit(time_unit, path);
  MemoryWriter file;
  io::h5::write_string(file.root(), "version", kNirVersion);
  const OwnedGroup graph = io::h5::create_group(file.root(), "node");
  io::h5::write_string(graph, "type", "NIRGraph");
  const OwnedGroup nodes = io::h5::create_group(graph, "nodes");

  std::vector<std::string> chain{"input"};
  {
    const OwnedGroup input = io::h5::create_group(nodes, "input");
    io::h5::write_string(input, "type", "Input");
    io::h5::write_ints(input, "shape", {model.net.n_inputs()});
  }
  for (std::size_t l = 0; l < model.net.layers.size(); ++l) {
    const Layer& layer = model.net.layers[l];
    const auto n_out = static_cast<uint64_t>(layer.n_out), n_in = static_cast<uint64_t>(layer.n_in);
    chain.push_back(layer_name("linear", l));
    const OwnedGroup linear = io::h5::create_group(nodes, chain.back());
    io::h5::write_string(linear, "type", "Linear");
    std::vector<double> weight(n_out * n_in);  // NIR's (n_out, n_in), row-major
    layer.rows(weight.data());
    io::h5::write_doubles(linear, "weight", weight, {n_out, n_in});

    chain.push_back(layer_name("cubalif", l));
    const OwnedGroup lif = io::h5::create_group(nodes, chain.back());
    io::h5::write_string(lif, "type", "CubaLIF");
    const double tau_syn = layer.neuron.tau_s * time_unit;
    const auto per_neuron = [&](const char* name, double value) {
      io::h5::write_doubles(lif, name, std::vector<double>(n_out, value), {n_out});
    };
    per_neuron("tau_mem", layer.neuron.tau_m * time_unit);
    per_neuron("tau_syn", tau_syn);
    per_neuron("r", 1.0);
    per_neuron("v_leak", 0.0);
    per_neuron("v_threshold", layer.neuron.theta);
    per_neuron("v_reset", 0.0);
    per_neuron("w_in", tau_syn);
    const OwnedGroup meta = io::h5::create_group(lif, "metadata");
    io::h5::write_int(meta, "max_spikes", layer.neuron.max_spikes);
  }
  {
    const OwnedGroup output = io::h5::create_group(nodes, "output");
    io::h5::write_string(output, "type", "Output");
    io::h5::write_ints(output, "shape", {model.net.n_outputs()});
  }
  chain.push_back("output");
  std::vector<std::string> edges;
  for (std::size_t k = 0; k + 1 < chain.size(); ++k) {
    edges.push_back(chain[k]);
    edges.push_back(chain[k + 1]);
  }
  io::h5::write_strings(graph, "edges", edges, {chain.size() - 1, 2});

  const OwnedGroup meta = io::h5::create_group(graph, "metadata");
  io::h5::write_string(meta, "generator", std::string("spiketime ") + kVersion);
  io::h5::write_doubles(meta, "time_unit", {time_unit}, {});
  io::h5::write_string(meta, "dataset", model.dataset);
  io::h5::write_int(meta, "features", model.n_features);
  io::h5::write_int(meta, "classes", model.n_classes);
  io::h5::write_doubles(meta, "t_end", {model.net.t_end * time_unit}, {});
  io::h5::write_string(meta, "encoding", "latency");
  io::h5::write_doubles(meta, "t_in_max", {model.encoding.t_in_max * time_unit}, {});
  io::h5::write_doubles(meta, "bias_times", seconds(model.encoding.bias_times, time_unit),
                        {model.encoding.bias_times.size()});
  io::h5::write_string(meta, "readout", readout_name(model.readout));
  io::h5::write_doubles(meta, "tau_out", {model.tau_out * time_unit}, {});
  io::h5::write_string(meta, "provenance", model.provenance.dump());

  io::write_text_atomically(path, file.image());
}

namespace {

// Reads one NIR graph file; every message names the file, and the node and
// field where there is one.
class GraphReader {
 public:
  GraphReader(const std::string& bytes, const std::string& path) : file_(bytes, path), path_(path) {}

  [[noreturn]] void fail(const std::string& node, const std::string& field, const std::string& problem) const {
    throw InputError(path_ + ": node '" + node + "'" + (field.empty() ? "" : " field '" + field + "'") + ": " + problem);
  }
  [[noreturn]] void fail_graph(const std::string& problem) const { throw InputError(path_ + ": " + problem); }

  const MemoryReader& file() const { return file_; }

  // One value per neuron: an array of n or one scalar for all; `fallback`
  // when the field is absent and optional.
  std::vector<double> per_neuron(const Group& g, const std::string& node, const std::string& field, uint64_t n,
                                 std::optional<double> fallback = std::nullopt) const {
    if (!file_.has(g, field)) {
      if (fallback) return std::vector<double>(n, *fallback);
      fail(node, field, "is missing");
    }
    const MemoryReader::Numbers x = file_.numbers(g, field);
    for (double v : x.values) {
      if (!std::isfinite(v)) fail(node, field, "holds a value that is not finite");
    }
    if (x.dims.empty() || (x.dims.size() == 1 && x.dims[0] == 1)) return std::vector<double>(n, x.values[0]);
    if (x.dims.size() != 1 || x.dims[0] != n) {
      fail(node, field, "has " + std::to_string(x.values.size()) + " values; the layer has " + std::to_string(n) +
                            " neurons");
    }
    return x.values;
  }

  // A field that spiketime holds once per layer: every neuron must agree.
  double uniform(const std::vector<double>& values, const std::string& node, const std::string& field) const {
    for (std::size_t k = 1; k < values.size(); ++k) {
      if (values[k] != values[0]) {
        fail(node, field,
             "differs across neurons (" + json_number(values[0]) + " for neuron 0, " + json_number(values[k]) +
                 " for neuron " + std::to_string(k) + "); a spiketime layer has one value for all its neurons");
      }
    }
    return values[0];
  }

  std::optional<double> meta_number(const std::optional<OwnedGroup>& meta, const std::string& key,
                                    const std::string& node) const {
    if (!meta || !file_.has(*meta, key)) return std::nullopt;
    const MemoryReader::Numbers x = file_.numbers(*meta, key);
    if (x.values.size() != 1 || !std::isfinite(x.values[0])) fail(node, "metadata/" + key, "must be one finite number");
    return x.values[0];
  }
  std::optional<std::string> meta_text(const std::optional<OwnedGroup>& meta, const std::string& key) const {
    if (!meta || !file_.has(*meta, key)) return std::nullopt;
    return file_.string(*meta, key);
  }

  static std::string json_number(double x) { return nlohmann::json(x).dump(); }

 private:
  MemoryReader file_;
  std::string path_;
};

std::optional<OwnedGroup> metadata_of(const MemoryReader& file, const Group& g) {
  if (!file.has(g, "metadata")) return std::nullopt;
  return file.open_group(g, "metadata");
}

// A count from the file: a whole number in [lo, kMaxWidth].
int whole(const GraphReader& r, double x, double lo, const std::string& node, const std::string& field) {
  if (!(x >= lo && x <= kMaxWidth && x == std::floor(x))) {
    r.fail(node, field, "must be a whole number from " + GraphReader::json_number(lo) + " to " +
                            GraphReader::json_number(kMaxWidth) + ", is " + GraphReader::json_number(x));
  }
  return static_cast<int>(x);
}

// The node names from input to output, checked to form one chain that
// covers every node and every edge.
std::vector<std::string> chain_of(const GraphReader& r, const Group& graph, const std::map<std::string, std::string>& types) {
  const MemoryReader::Strings edges = r.file().strings(graph, "edges");
  if (edges.dims.size() != 2 || edges.dims[1] != 2) {
    r.fail_graph("/node/edges must be a list of (source, target) pairs");
  }
  std::map<std::string, std::vector<std::string>> next;
  std::set<std::string> targets;
  for (std::size_t e = 0; e < edges.values.size(); e += 2) {
    const std::string& from = edges.values[e];
    const std::string& to = edges.values[e + 1];
    for (const std::string& end : {from, to}) {
      if (!types.count(end)) r.fail_graph("edge " + from + " -> " + to + " names '" + end + "', which is not a node");
    }
    next[from].push_back(to);
    targets.insert(to);
  }
  std::vector<std::string> inputs, outputs;
  for (const auto& [name, type] : types) {
    if (type == "Input") inputs.push_back(name);
    if (type == "Output") outputs.push_back(name);
  }
  if (inputs.size() != 1 || outputs.size() != 1) {
    r.fail_graph("the graph has " + std::to_string(inputs.size()) + " Input and " + std::to_string(outputs.size()) +
                 " Output nodes; spiketime reads graphs with one of each");
  }
  std::vector<std::string> chain{inputs[0]};
  std::set<std::string> seen{inputs[0]};
  while (chain.back() != outputs[0]) {
    const std::string& here = chain.back();
    const auto& after = next[here];
    for (const std::string& to : after) {
      if (seen.count(to)) {
        r.fail(to, "", "is reached again by the edge from '" + here +
                           "' (a recurrent edge); spiketime reads feed-forward networks only");
      }
    }
    if (after.empty()) r.fail(here, "", "has no outgoing edge: the chain from the input does not reach the output");
    if (after.size() > 1) {
      r.fail(here, "", "feeds " + std::to_string(after.size()) + " nodes; spiketime reads one chain of layers");
    }
    chain.push_back(after[0]);
    seen.insert(after[0]);
  }
  if (!next[outputs[0]].empty() || targets.count(inputs[0])) {
    r.fail_graph("an edge leaves the Output node or enters the Input node (a recurrent edge)");
  }
  for (const auto& [name, type] : types) {
    if (!seen.count(name)) r.fail(name, "", "is not on the chain from the input to the output");
  }
  return chain;
}

const char* unsupported_reason(const std::string& type) {
  if (type == "LIF") {
    return "is LIF, a neuron without a synaptic current; spiketime's neuron has one (tau_s > 0), so it reads CubaLIF";
  }
  if (type == "Conv1d" || type == "Conv2d") return "is a convolution; spiketime reads fully connected layers only";
  return nullptr;
}

}  // namespace

namespace io {

Model read_nir(const std::string& bytes, const std::string& path, const NirImportOptions& options) {
  if (options.time_unit) check_time_unit(*options.time_unit, "--time-unit");
  const GraphReader r(bytes, path);
  const MemoryReader& file = r.file();
  const OwnedGroup graph = file.open_group(file.root(), "node");
  const std::string graph_type = file.string(graph, "type");
  if (graph_type != "NIRGraph") r.fail_graph("/node/type is '" + graph_type + "', not 'NIRGraph'");
  const OwnedGroup nodes = file.open_group(graph, "nodes");
  std::map<std::string, std::string> types;
  for (const std::string& name : file.children(nodes)) {
    const OwnedGroup g = file.open_group(nodes, name);
    types[name] = file.string(g, "type");
  }
  const std::vector<std::string> chain = chain_of(r, graph, types);
  const std::optional<OwnedGroup> meta = metadata_of(file, graph);

  const double time_unit = options.time_unit ? *options.time_unit
                                             : r.meta_number(meta, "time_unit", "node").value_or(kDefaultNirTimeUnit);
  check_time_unit(time_unit, path + ": metadata time_unit");
  const auto units = [&](double s) { return nir_seconds_to_units(s, time_unit); };

  Model model;
  {
    const OwnedGroup input = file.open_group(nodes, chain[0]);
    const MemoryReader::Numbers shape = file.numbers(input, "shape");
    if (shape.values.size() != 1) {
      r.fail(chain[0], "shape", "has " + std::to_string(shape.values.size()) +
                                    " dimensions; spiketime reads a flat vector of input neurons (add no Flatten: give "
                                    "the Input shape [n])");
    }
    model.net.layers.reserve(chain.size() / 2);
    int width = whole(r, shape.values[0], 1, chain[0], "shape");
    if (chain.size() < 4 || chain.size() % 2 != 0) {
      r.fail_graph("the chain input -> " + std::to_string(chain.size() - 2) +
                   " nodes -> output is not a sequence of (Linear or Affine, CubaLIF) pairs");
    }
    for (std::size_t k = 1; k + 1 < chain.size(); k += 2) {
      const std::string &lin_name = chain[k], &lif_name = chain[k + 1];
      for (const std::string* name : {&lin_name, &lif_name}) {
        if (const char* why = unsupported_reason(types[*name])) r.fail(*name, "", why);
      }
      const std::string& lin_type = types[lin_name];
      if (lin_type != "Linear" && lin_type != "Affine") {
        r.fail(lin_name, "type", "is " + lin_type + " where a Linear or Affine node (the weights) must come");
      }
      if (types[lif_name] != "CubaLIF") {
        r.fail(lif_name, "type", "is " + types[lif_name] + " where a CubaLIF node (the neurons) must come");
      }
      const OwnedGroup lin = file.open_group(nodes, lin_name);
      const MemoryReader::Numbers w = file.numbers(lin, "weight");
      if (w.dims.size() != 2 || w.dims[1] != static_cast<uint64_t>(width) || w.dims[0] == 0) {
        std::string shape_text = "[";
        for (std::size_t d = 0; d < w.dims.size(); ++d) shape_text += (d ? ", " : "") + std::to_string(w.dims[d]);
        r.fail(lin_name, "weight", "has shape " + shape_text + "]; expected (n_out, " + std::to_string(width) + ")");
      }
      const int n_out = whole(r, static_cast<double>(w.dims[0]), 1, lin_name, "weight");
      const auto n = static_cast<uint64_t>(n_out);
      if (lin_type == "Affine") {
        const std::vector<double> bias = r.per_neuron(lin, lin_name, "bias", n);
        for (std::size_t i = 0; i < bias.size(); ++i) {
          if (bias[i] != 0.0) {
            r.fail(lin_name, "bias", "is " + GraphReader::json_number(bias[i]) + " for neuron " + std::to_string(i) +
                                         "; spiketime neurons have no bias (it must be zero)");
          }
        }
      }
      for (double x : w.values) {
        if (!std::isfinite(x)) r.fail(lin_name, "weight", "holds a value that is not finite");
      }

      const OwnedGroup lif = file.open_group(nodes, lif_name);
      const auto field = [&](const char* name, std::optional<double> fallback = std::nullopt) {
        return r.per_neuron(lif, lif_name, name, n, fallback);
      };
      const std::vector<double> tau_mem = field("tau_mem"), tau_syn = field("tau_syn"), res = field("r"),
                                v_leak = field("v_leak"), v_threshold = field("v_threshold"),
                                v_reset = field("v_reset", 0.0), w_in = field("w_in", 1.0);
      for (const auto& [name, values] : {std::pair{"v_leak", &v_leak}, std::pair{"v_reset", &v_reset}}) {
        for (std::size_t i = 0; i < values->size(); ++i) {
          if ((*values)[i] != 0.0) {
            r.fail(lif_name, name, "is " + GraphReader::json_number((*values)[i]) + " for neuron " +
                                       std::to_string(i) + "; spiketime's neuron rests and resets at 0");
          }
        }
      }
      NeuronParams p;
      const double tau_mem_s = r.uniform(tau_mem, lif_name, "tau_mem");
      const double tau_syn_s = r.uniform(tau_syn, lif_name, "tau_syn");
      p.theta = r.uniform(v_threshold, lif_name, "v_threshold");
      if (!(tau_mem_s > 0.0)) r.fail(lif_name, "tau_mem", "must be positive");
      if (!(tau_syn_s > 0.0)) r.fail(lif_name, "tau_syn", "must be positive");
      if (!(p.theta > 0.0)) r.fail(lif_name, "v_threshold", "must be positive (above the resting potential 0)");
      p.tau_m = units(tau_mem_s);
      p.tau_s = units(tau_syn_s);
      if (!(std::isfinite(p.tau_m) && p.tau_m > 0.0 && std::isfinite(p.tau_s) && p.tau_s > 0.0)) {
        r.fail(lif_name, "tau_mem", "does not give a positive, finite time constant in units of " +
                                        GraphReader::json_number(time_unit) + " s");
      }
      if (const auto lif_meta = metadata_of(file, lif); lif_meta && file.has(*lif_meta, "max_spikes")) {
        p.max_spikes = whole(r, *r.meta_number(lif_meta, "max_spikes", lif_name), 0, lif_name, "metadata/max_spikes");
      }
      std::vector<double> rows = w.values;
      for (std::size_t i = 0; i < n; ++i) {
        // r w_in / tau_syn, exactly 1 for the files export_nir writes.
        const double scale = res[i] * w_in[i] / tau_syn_s;
        for (std::size_t j = 0; j < static_cast<std::size_t>(width); ++j) {
          double& x = rows[i * static_cast<std::size_t>(width) + j];
          x *= scale;
          if (!std::isfinite(x)) r.fail(lif_name, "w_in", "scales a weight beyond double range");
        }
      }
      Layer layer(p, width, n_out);
      layer.set_from_rows(rows.data());
      model.net.layers.push_back(std::move(layer));
      width = n_out;
    }
    const OwnedGroup output = file.open_group(nodes, chain.back());
    const MemoryReader::Numbers out_shape = file.numbers(output, "shape");
    if (out_shape.values.size() != 1 || out_shape.values[0] != width) {
      r.fail(chain.back(), "shape", "does not match the " + std::to_string(width) + " neurons of the last layer");
    }
  }

  // What NIR has no field for: from the metadata written by export_nir, or
  // from the options.
  const auto time_from = [&](const char* key, const std::optional<double>& option, const char* flag) {
    if (const auto s = r.meta_number(meta, key, "node")) return units(*s);
    if (option) return *option;
    r.fail_graph(std::string("the graph's metadata has no ") + key + " (not written by spiketime?): give " + flag +
                 " in model time units");
  };
  model.net.t_end = time_from("t_end", options.t_end, "--t-end");
  model.encoding.t_in_max = time_from("t_in_max", options.t_in_max, "--t-in-max");
  if (!(model.net.t_end > 0.0 && std::isfinite(model.net.t_end))) r.fail("node", "metadata/t_end", "must be positive");
  if (!(model.encoding.t_in_max > 0.0 && std::isfinite(model.encoding.t_in_max))) {
    r.fail("node", "metadata/t_in_max", "must be positive");
  }
  if (meta && file.has(*meta, "bias_times")) {
    for (double s : file.numbers(*meta, "bias_times").values) {
      if (!std::isfinite(s)) r.fail("node", "metadata/bias_times", "holds a value that is not finite");
      model.encoding.bias_times.push_back(units(s));
    }
  }
  if (const auto readout = r.meta_text(meta, "readout")) {
    try {
      model.readout = parse_readout(*readout);
    } catch (const InputError& e) {
      r.fail("node", "metadata/readout", e.what());
    }
  }
  if (const auto tau_out = r.meta_number(meta, "tau_out", "node")) model.tau_out = units(*tau_out);
  if (!(model.tau_out > 0.0 && std::isfinite(model.tau_out))) r.fail("node", "metadata/tau_out", "must be positive");
  model.dataset = r.meta_text(meta, "dataset").value_or("");
  model.n_classes = model.net.n_outputs();
  model.n_features = model.net.n_inputs() - static_cast<int>(model.encoding.bias_times.size());
  if (model.n_features < 1) r.fail("node", "metadata/bias_times", "leaves no input neuron for the features");
  if (const auto features = r.meta_number(meta, "features", "node"); features && *features != model.n_features) {
    r.fail("node", "metadata/features", "does not match the input size less the bias inputs");
  }
  if (const auto classes = r.meta_number(meta, "classes", "node"); classes && *classes != model.n_classes) {
    r.fail("node", "metadata/classes", "does not match the output size");
  }
  if (const auto provenance = r.meta_text(meta, "provenance")) {
    try {
      model.provenance = parse_json(*provenance, "");
    } catch (const InputError&) {
      model.provenance = nullptr;
    }
    if (!model.provenance.is_object()) r.fail("node", "metadata/provenance", "is not a JSON object");
  } else {
    model.provenance = {{"imported_from_nir", path}};
  }
  try {
    model.net.validate();
  } catch (const std::invalid_argument& e) {
    r.fail_graph(e.what());
  }
  return model;
}

}  // namespace io

Model import_nir(const std::string& path, const NirImportOptions& options) {
  if (options.time_unit) check_time_unit(*options.time_unit, "--time-unit");
  const std::string bytes = io::read_regular_file(path, kMaxFileBytes);
  // HDF5 parses the bytes before any check of ours sees them, and has faults
  // of its own on damaged files (io/child_process.hpp), so the reading runs
  // in a child process that sends back the model file's bytes. The limits
  // are far above what a real file needs: `spiketime import-nir` of a
  // 784-800-10 export (5 MB) took 0.5 s and 39 MB at most, whole process,
  // on a busy 2-core Xeon.
  io::ChildLimits limits;
  limits.seconds = 60.0 + std::ceil(static_cast<double>(bytes.size()) / (4 << 20));  // and 1 s per 4 MiB
  limits.memory_bytes = (std::uint64_t{1} << 30) + 16 * static_cast<std::uint64_t>(bytes.size());
  const std::string model = io::run_in_child([&] { return io::model_bytes(io::read_nir(bytes, path, options)); },
                                             limits, path + ": not a readable NIR file, the HDF5 library failed on it");
  return io::model_from_bytes(model, path);
}

}  // namespace spiketime
