// The spiketime command line: one subcommand per job.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"spiketime: exact event-driven training of multi-spike spiking neural networks"};
  app.require_subcommand(1);

  spiketime::cli::SimulateOptions sim;
  CLI::App* simulate = app.add_subcommand("simulate", "Run one sample through a network given as JSON (docs/SIMULATE.md)");
  simulate->add_option("case", sim.case_path, "The case file (JSON)")->required();
  simulate->add_flag("--grad", sim.grad, "Also print the exact gradient of the sum of the last layer's spike times");
  simulate->add_option("--min-vdot", sim.min_vdot,
                       "Grazing-crossing guard: dV/dt at threshold is floored at this times theta/tau_m")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spiketime: " << e.what() << " (see spiketime --help)\n";
    return spiketime::cli::kExitBadInput;
  }
  if (simulate->parsed()) return spiketime::cli::simulate(sim);
  return 0;
}
