// The binary container behind model files and checkpoints: magic, version,
// JSON header, arrays of doubles, CRC-32. Written atomically.
#pragma once

#include <cstdint>
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
// The same in memory: the bytes a write_container call would write, and the
// container in bytes (`path` names them in errors).
std::string container_bytes(const std::string& magic, int version, const nlohmann::json& header,
                            const std::vector<const std::vector<double>*>& arrays);
Container parse_container(const std::string& bytes, const std::string& path, const std::string& magic, int version);

// The whole of a regular file of at most max_bytes; anything else (missing,
// a directory, a device such as /dev/zero, too large) is one InputError
// naming the path, raised before the contents are read.
std::string read_regular_file(const std::string& path, std::uintmax_t max_bytes);

// Writes the bytes (text or binary) to path atomically: a temporary file of
// a name unique to the process and call, then a rename.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace spiketime::io
