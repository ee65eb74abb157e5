// The header of a model, shared by model files and checkpoints.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spiketime/model.hpp"

namespace spiketime::io {

inline const std::string kModelMagic = "SPIKETIME-MODEL\n";

nlohmann::json model_header(const Model& model);
// Rebuilds a model from its header and its weight arrays (one per layer);
// throws InputError naming `path` when they do not fit together.
Model model_from(const nlohmann::json& header, std::vector<std::vector<double>> weights, const std::string& path);

// A model file's bytes, and the model in such bytes (`path` names them in
// errors): save_model and load_model without the file.
std::string model_bytes(const Model& model);
Model model_from_bytes(const std::string& bytes, const std::string& path);

}  // namespace spiketime::io
