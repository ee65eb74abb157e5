// The simulate case reader and the engine behind it: any text is a case
// (simulated forward and back, with the spike limits lowered) or one
// InputError.
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "spiketime/error.hpp"
#include "spiketime/simulate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    spiketime::SimulateCase c = spiketime::parse_simulate_case(text);
    c.net.limits = spiketime::fuzz::kFuzzLimits;
    spiketime::run_simulate_case(c, true, spiketime::GradientGuard{1e-12});
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
