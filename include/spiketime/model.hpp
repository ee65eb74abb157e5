// A trained classifier: encoding, network and readout, and its file format.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spiketime/encoding.hpp"
#include "spiketime/network.hpp"

namespace spiketime {

enum class Readout {
  FirstSpike,  // the class fires first; softmax over -t_first / tau_out
  AllSpikes,   // score log sum_k exp(-t_k / tau_out) over every spike of an output
};
const char* readout_name(Readout r);
Readout parse_readout(const std::string& name);  // throws InputError

struct Model {
  std::string dataset;
  int n_features = 0;
  int n_classes = 0;
  Encoding encoding;
  Network net;
  Readout readout = Readout::FirstSpike;
  double tau_out = 5.0;
  nlohmann::json provenance = nlohmann::json::object();  // how it was made: resolved config, epoch, commit
};

// The model file: "SPIKETIME-MODEL\n", a format version, a JSON header that
// describes everything (architecture, neuron parameters, encoding, readout),
// the weights as little-endian doubles, and a CRC-32 of all of it. Written to
// a temporary file and renamed, so a reader sees the old file or the new one.
inline constexpr int kModelFormatVersion = 1;
void save_model(const Model& model, const std::string& path);
// Throws InputError naming the file for a truncated or corrupted file, a
// wrong magic number or version, or a header that does not fit the weights.
Model load_model(const std::string& path);

}  // namespace spiketime
