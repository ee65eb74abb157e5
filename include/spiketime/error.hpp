#pragma once

#include <stdexcept>

namespace spiketime {

// Bad input from a user: a file, a flag, a config key, a case. The message is
// one line that names the thing and the problem; the CLI prints it and exits 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace spiketime
