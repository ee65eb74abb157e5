// The binary container behind model files and checkpoints: magic, version,
// JSON header, arrays of doubles, CRC-32. Written atomically.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace spiketime::io {

struct Container {
  nlohmann::json header;
  std::vector<std::vector<double>> arrays;
};

void write_container(const std::string& path, const std::string& magic, int version, const nlohmann::json& header,
                     const std::vector<const std::vector<double>*>& arrays);
Container read_container(const std::string& path, const std::string& magic, int version);

// Writes text to path atomically (temporary file, then rename).
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace spiketime::io
