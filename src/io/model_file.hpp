// The header of a model, shared by model files and checkpoints.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spiketime/model.hpp"

namespace spiketime::io {

inline const std::string kModelMagic = "SPIKETIME-MODEL\n";

// Fields of a file's JSON header, each checked for type and range before
// anything is built from it; a failure is one InputError naming the file and
// the field: "<path>: <kind> '<field>' <problem>". Model files and
// checkpoints read their headers with it.
struct HeaderReader {
  const std::string& path;
  const char* kind = "header field";

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const;
  // j[key], which must exist (j an object); `field` names j ("" at the top).
  const nlohmann::json& at(const nlohmann::json& j, const char* key, const std::string& field) const;
  long long integer(const nlohmann::json& j, const std::string& field, long long lo, long long hi) const;  // in [lo, hi]
  double number(const nlohmann::json& j, const std::string& field) const;  // finite
  double positive(const nlohmann::json& j, const std::string& field) const;
  std::string text(const nlohmann::json& j, const std::string& field) const;
};

nlohmann::json model_header(const Model& model);
// Rebuilds a model from its header and its weight arrays (one per layer);
// throws InputError naming `path` when they do not fit together.
Model model_from(const nlohmann::json& header, std::vector<std::vector<double>> weights, const std::string& path);

// A model file's bytes, and the model in such bytes (`path` names them in
// errors): save_model and load_model without the file.
std::string model_bytes(const Model& model);
Model model_from_bytes(const std::string& bytes, const std::string& path);

}  // namespace spiketime::io
