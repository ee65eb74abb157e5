#pragma once

#include <charconv>
#include <stdexcept>
#include <string>

namespace spiketime {

// Bad input from a user: a file, a flag, a config key, a case. The message is
// one line that names the thing and the problem; the CLI prints it and exits 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A number for an error message: the shortest text that reads back as x
// (std::to_string prints 1e-300 as 0.000000).
inline std::string format_number(double x) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, x).ptr;
  return std::string(text, end);
}

// A sample that needs more work than the limits allow (SpikeLimits), or that
// the engine cannot resolve (a neuron firing again at the same instant). The
// message names the layer, the neuron and the limit.
class SpikeLimitError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace spiketime
