#include <iostream>

#include "cli/commands.hpp"
#include "io/container.hpp"
#include "spiketime/error.hpp"
#include "spiketime/simulate.hpp"

namespace spiketime::cli {

std::string read_file(const std::string& path) {
  return io::read_regular_file(path, std::uintmax_t{1} << 30);  // cases and configs: at most 1 GiB of JSON
}

int simulate(const SimulateOptions& options) {
  std::string output;
  try {
    const SimulateCase c = parse_simulate_case(read_file(options.case_path));
    output = run_simulate_case(c, options.grad, GradientGuard{options.min_vdot});
  } catch (const InputError& e) {
    const std::string what = e.what();
    const bool names_path = what.rfind(options.case_path + ":", 0) == 0;
    std::cerr << "spiketime simulate: " << (names_path ? "" : options.case_path + ": ") << what << '\n';
    return kExitBadInput;
  }
  std::cout << output << '\n';
  return 0;
}

}  // namespace spiketime::cli
