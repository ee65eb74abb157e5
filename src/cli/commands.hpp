// The subcommands of the `spiketime` executable. Each returns the process
// exit status; bad input is reported as one line on stderr with status 2.
#pragma once

#include <string>

namespace spiketime::cli {

inline constexpr int kExitBadInput = 2;

struct SimulateOptions {
  std::string case_path;
  bool grad = false;
  double min_vdot = 1e-12;
};
int simulate(const SimulateOptions& options);

// Reads a whole file; throws InputError naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace spiketime::cli
