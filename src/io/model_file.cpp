#include "io/model_file.hpp"

#include "io/container.hpp"
#include "spiketime/error.hpp"

namespace spiketime {

const char* readout_name(Readout r) { return r == Readout::FirstSpike ? "first_spike" : "all_spikes"; }

Readout parse_readout(const std::string& name) {
  if (name == "first_spike") return Readout::FirstSpike;
  if (name == "all_spikes") return Readout::AllSpikes;
  throw InputError("readout: unknown readout '" + name + "' (first_spike or all_spikes)");
}

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
  return {{"format", "spiketime model"},
          {"version", kModelFormatVersion},
          {"dataset", model.dataset},
          {"features", model.n_features},
          {"classes", model.n_classes},
          {"t_end", model.net.t_end},
          {"encoding", {{"kind", "latency"}, {"t_in_max", model.encoding.t_in_max}, {"bias_times", model.encoding.bias_times}}},
          {"readout", {{"kind", readout_name(model.readout)}, {"tau_out", model.tau_out}}},
          {"layers", layers},
          {"provenance", model.provenance}};
}

Model model_from(const json& header, std::vector<std::vector<double>> weights, const std::string& path) {
  Model m;
  try {
    m.dataset = header.at("dataset").get<std::string>();
    m.n_features = header.at("features").get<int>();
    m.n_classes = header.at("classes").get<int>();
    m.net.t_end = header.at("t_end").get<double>();
    m.encoding.t_in_max = header.at("encoding").at("t_in_max").get<double>();
    m.encoding.bias_times = header.at("encoding").at("bias_times").get<std::vector<double>>();
    m.readout = parse_readout(header.at("readout").at("kind").get<std::string>());
    m.tau_out = header.at("readout").at("tau_out").get<double>();
    m.provenance = header.value("provenance", json::object());
    const json& layers = header.at("layers");
    if (layers.size() != weights.size()) throw InputError(path + ": header describes " + std::to_string(layers.size()) + " layers but the file holds " + std::to_string(weights.size()) + " weight arrays");
    for (std::size_t l = 0; l < layers.size(); ++l) {
      NeuronParams p;
      p.tau_m = layers[l].at("tau_m").get<double>();
      p.tau_s = layers[l].at("tau_s").get<double>();
      p.theta = layers[l].at("theta").get<double>();
      p.max_spikes = layers[l].at("max_spikes").get<int>();
      Layer layer(p, layers[l].at("inputs").get<int>(), layers[l].at("neurons").get<int>());
      if (weights[l].size() != static_cast<std::size_t>(layer.n_in) * layer.n_out) {
        throw InputError(path + ": layer " + std::to_string(l) + " weights do not match its shape");
      }
      layer.weights = layer.padded(weights[l]);
      m.net.layers.push_back(std::move(layer));
    }
  } catch (const json::exception& e) {
    throw InputError(path + ": invalid model header (" + std::string(e.what()) + ")");
  }
  try {
    m.net.validate();
  } catch (const std::invalid_argument& e) {
    throw InputError(path + ": " + e.what());
  }
  if (m.net.n_inputs() != m.encoding.n_inputs(m.n_features) || m.net.n_outputs() != m.n_classes) {
    throw InputError(path + ": the layers do not fit the encoding or the number of classes");
  }
  return m;
}

}  // namespace io

void save_model(const Model& model, const std::string& path) {
  std::vector<std::vector<double>> packed;
  for (const Layer& l : model.net.layers) packed.push_back(l.packed(l.weights));
  std::vector<const std::vector<double>*> arrays;
  for (const auto& a : packed) arrays.push_back(&a);
  io::write_container(path, io::kModelMagic, kModelFormatVersion, io::model_header(model), arrays);
}

Model load_model(const std::string& path) {
  io::Container c = io::read_container(path, io::kModelMagic, kModelFormatVersion);
  return io::model_from(c.header, std::move(c.arrays), path);
}

}  // namespace spiketime
