#include "io/model_file.hpp"

#include <cmath>

#include "io/container.hpp"
#include "spiketime/error.hpp"
#include "spiketime/names.hpp"

namespace spiketime {

namespace {
constexpr Named<Readout> kReadoutNames[] = {{Readout::FirstSpike, "first_spike"}, {Readout::AllSpikes, "all_spikes"}};
}  // namespace

const char* readout_name(Readout r) { return name_in(kReadoutNames, r); }
Readout parse_readout(const std::string& name) { return value_in(kReadoutNames, name, "readout"); }

namespace io {

using nlohmann::json;

json model_header(const Model& model) {
  json layers = json::array();
  for (const Layer& l : model.net.layers) {
    layers.push_back({{"inputs", l.n_in},
                      {"neurons", l.n_out},
                      {"tau_m", l.neuron.tau_m},
                      {"tau_s", l.neuron.tau_s},
                      {"theta", l.neuron.theta},
                      {"max_spikes", l.neuron.max_spikes}});
  }
  json header = {{"format", "spiketime model"},
          {"version", kModelFormatVersion},
          {"dataset", model.dataset},
          {"features", model.n_features},
          {"classes", model.n_classes},
          {"t_end", model.net.t_end},
          {"encoding", {{"kind", "latency"}, {"t_in_max", model.encoding.t_in_max}, {"bias_times", model.encoding.bias_times}}},
          {"readout", {{"kind", readout_name(model.readout)}, {"tau_out", model.tau_out}}},
          {"layers", layers},
          {"provenance", model.provenance}};
  // Only when not the default, so that float64 models keep their bytes.
  if (!model.net.layers.empty() && model.net.layers[0].precision() == Precision::Float32) {
    header["precision"] = precision_name(Precision::Float32);
  }
  return header;
}

[[noreturn]] void HeaderReader::fail(const std::string& field, const std::string& problem) const {
  throw InputError(path + ": " + kind + " '" + field + "' " + problem);
}

const json& HeaderReader::at(const json& j, const char* key, const std::string& field) const {
  if (!j.is_object()) fail(field, "is not an object");
  const auto it = j.find(key);
  if (it == j.end()) fail(field.empty() ? key : field + "." + key, "is missing");
  return *it;
}

long long HeaderReader::integer(const json& j, const std::string& field, long long lo, long long hi) const {
  if (!j.is_number_integer()) fail(field, "must be an integer");
  const long long x = j.is_number_unsigned() && j.get<unsigned long long>() > static_cast<unsigned long long>(hi)
                          ? hi + 1
                          : j.get<long long>();
  if (x < lo || x > hi) fail(field, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  return x;
}

double HeaderReader::number(const json& j, const std::string& field) const {
  if (!j.is_number()) fail(field, "must be a number");
  const double x = j.get<double>();
  if (!std::isfinite(x)) fail(field, "must be finite");
  return x;
}

double HeaderReader::positive(const json& j, const std::string& field) const {
  const double x = number(j, field);
  if (!(x > 0.0)) fail(field, "must be positive");
  return x;
}

std::string HeaderReader::text(const json& j, const std::string& field) const {
  if (!j.is_string()) fail(field, "must be a string");
  return j.get<std::string>();
}

namespace {

// No count in a header passes kMaxNeurons (network.hpp).
constexpr long long kMaxWidth = kMaxNeurons;

}  // namespace

Model model_from(const json& header, std::vector<std::vector<double>> weights, const std::string& path) {
  const HeaderReader r{path};
  Model model;
  model.dataset = r.text(r.at(header, "dataset", ""), "dataset");
  model.n_features = static_cast<int>(r.integer(r.at(header, "features", ""), "features", 1, kMaxWidth));
  model.n_classes = static_cast<int>(r.integer(r.at(header, "classes", ""), "classes", 1, kMaxWidth));
  model.net.t_end = r.positive(r.at(header, "t_end", ""), "t_end");
  const json& encoding = r.at(header, "encoding", "");
  model.encoding.t_in_max = r.positive(r.at(encoding, "t_in_max", "encoding"), "encoding.t_in_max");
  const json& bias = r.at(encoding, "bias_times", "encoding");
  if (!bias.is_array() || bias.size() > static_cast<std::size_t>(kMaxWidth)) {
    r.fail("encoding.bias_times", "must be an array of times");
  }
  for (std::size_t k = 0; k < bias.size(); ++k) {
    model.encoding.bias_times.push_back(r.number(bias[k], "encoding.bias_times[" + std::to_string(k) + "]"));
  }
  const json& readout = r.at(header, "readout", "");
  const std::string readout_kind = r.text(r.at(readout, "kind", "readout"), "readout.kind");
  try {
    model.readout = parse_readout(readout_kind);
  } catch (const InputError& e) {
    r.fail("readout.kind", e.what());
  }
  model.tau_out = r.positive(r.at(readout, "tau_out", "readout"), "readout.tau_out");
  model.provenance = header.value("provenance", json::object());
  if (!model.provenance.is_object()) r.fail("provenance", "must be an object");
  const json& layers = r.at(header, "layers", "");
  if (!layers.is_array()) r.fail("layers", "must be an array");
  if (layers.size() != weights.size()) {
    throw InputError(path + ": header describes " + std::to_string(layers.size()) + " layers but the file holds " +
                     std::to_string(weights.size()) + " weight arrays");
  }
  long long total_weights = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::string where = "layers[" + std::to_string(l) + "]";
    NeuronParams p;
    p.tau_m = r.positive(r.at(layers[l], "tau_m", where), where + ".tau_m");
    p.tau_s = r.positive(r.at(layers[l], "tau_s", where), where + ".tau_s");
    p.theta = r.positive(r.at(layers[l], "theta", where), where + ".theta");
    p.max_spikes = static_cast<int>(r.integer(r.at(layers[l], "max_spikes", where), where + ".max_spikes", 0, 1 << 30));
    const long long n_in = r.integer(r.at(layers[l], "inputs", where), where + ".inputs", 1, kMaxWidth);
    const long long n_out = r.integer(r.at(layers[l], "neurons", where), where + ".neurons", 1, kMaxWidth);
    check_layer_size(n_in, n_out, total_weights, path + ": " + where);
    total_weights += n_in * n_out;
    if (weights[l].size() != static_cast<std::size_t>(n_in * n_out)) {
      throw InputError(path + ": layer " + std::to_string(l) + " weights do not match its shape");
    }
    for (double w : weights[l]) {
      if (!std::isfinite(w)) throw InputError(path + ": layer " + std::to_string(l) + " has a weight that is not finite");
    }
    Layer layer(p, static_cast<int>(n_in), static_cast<int>(n_out));
    layer.weights = layer.padded(weights[l]);
    model.net.layers.push_back(std::move(layer));
  }
  try {
    model.net.validate();
  } catch (const std::invalid_argument& e) {
    throw InputError(path + ": " + e.what());
  }
  if (header.contains("precision")) {
    const std::string name = r.text(header["precision"], "precision");
    try {
      model.net.set_precision(parse_precision(name));
    } catch (const InputError& e) {
      r.fail("precision", e.what());
    }
  }
  if (model.net.n_inputs() != model.encoding.n_inputs(model.n_features) || model.net.n_outputs() != model.n_classes) {
    throw InputError(path + ": the layers do not fit the encoding or the number of classes");
  }
  return model;
}

std::string model_bytes(const Model& model) {
  std::vector<std::vector<double>> packed;
  for (const Layer& l : model.net.layers) packed.push_back(l.packed(l.weights));
  std::vector<const std::vector<double>*> arrays;
  for (const auto& a : packed) arrays.push_back(&a);
  return container_bytes(kModelMagic, kModelFormatVersion, model_header(model), arrays);
}

Model model_from_bytes(const std::string& bytes, const std::string& path) {
  Container c = parse_container(bytes, path, kModelMagic, kModelFormatVersion);
  return model_from(c.header, std::move(c.arrays), path);
}

}  // namespace io

void save_model(const Model& model, const std::string& path) { io::write_text_atomically(path, io::model_bytes(model)); }

Model load_model(const std::string& path) {
  io::Container c = io::read_container(path, io::kModelMagic, kModelFormatVersion);
  return io::model_from(c.header, std::move(c.arrays), path);
}

}  // namespace spiketime
