// The training config reader: a JSON config on the first line, `--set`
// assignments on the lines after it; any input resolves to a valid config
// or one InputError.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "spiketime/error.hpp"
#include "spiketime/json_text.hpp"
#include "spiketime/run.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string config;
  std::getline(in, config);
  std::vector<std::string> settings;
  for (std::string line; std::getline(in, line);) settings.push_back(line);
  try {
    const spiketime::TrainConfig c = spiketime::resolve_config(spiketime::parse_json(config, "fuzz"), "fuzz", settings);
    spiketime::validate_config(c);  // resolve_config validated it: doing so again must agree
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
