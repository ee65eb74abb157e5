// The spiketime command line: one subcommand per job.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <limits>
#include <string>

#include "cli/commands.hpp"
#include "spiketime/config.hpp"
#include "spiketime/error.hpp"
#include "spiketime/simd.hpp"
#include "spiketime/version.hpp"

namespace {

// The checks of the numeric flags. CLI11's own PositiveNumber answered
// `--epochs 0` with "Value 0 not in range 0.000000 to 1797693134862315708...
// (309 digits)"; these say what the value must be. A number above `low`
// (or at least `low`), at most `high`, whole if `whole`.
CLI::Validator number_check(double low, bool low_allowed, double high, bool whole, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double x = 0.0;
        const bool number = CLI::detail::lexical_cast(text, x) && std::isfinite(x);
        if (!number || (low_allowed ? !(x >= low) : !(x > low)) || x > high || (whole && x != std::floor(x))) {
          return "must be " + what + ", got '" + text + "'";
        }
        return {};
      },
      what);
}
constexpr double kHuge = std::numeric_limits<double>::max();
const CLI::Validator kPositive = number_check(0.0, false, kHuge, false, "a positive number");
const CLI::Validator kNonNegative = number_check(0.0, true, kHuge, false, "a number of at least 0");
const CLI::Validator kCount = number_check(1.0, true, std::numeric_limits<int>::max(), true,
                                           "a whole number from 1 to " + std::to_string(std::numeric_limits<int>::max()));

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spiketime: exact event-driven training of multi-spike spiking neural networks"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print the version, the SIMD targets of this CPU and the one in use");

  spiketime::cli::SimulateOptions sim;
  CLI::App* simulate = app.add_subcommand("simulate", "Run one sample through a network given as JSON (docs/SIMULATE.md)");
  simulate->add_option("case", sim.case_path, "The case file (JSON)")->required();
  simulate->add_flag("--grad", sim.grad, "Also print the exact gradient of the sum of the last layer's spike times");
  simulate->add_option("--min-vdot", sim.min_vdot,
                       "Grazing-crossing guard: dV/dt at threshold is floored at this times theta/tau_m")
      ->capture_default_str()
      ->check(kNonNegative);

  spiketime::cli::TrainOptions train;
  CLI::App* train_cmd = app.add_subcommand("train", "Train a classifier (docs/TRAINING.md)");
  train_cmd->add_option("--config", train.config_path, "JSON config file");
  train_cmd->add_option("--set", train.sets, "Override a config key: key=value (repeatable)");
  train_cmd->add_option("--dataset", train.dataset, "mnist, fashion-mnist or yinyang")
      ->check(CLI::IsMember({"mnist", "fashion-mnist", "yinyang"}));
  train_cmd->add_option("--epochs", train.epochs, "Number of epochs (overrides the config)")->check(kCount);
  train_cmd->add_option("--out", train.out_dir, "Run directory for metrics, config, model and checkpoints");
  train_cmd->add_option("--resume", train.resume_dir, "Continue the run in this directory where it stopped");
  train_cmd->add_flag("--force", train.force, "Start over in a directory that holds another run's files (they are removed)");
  train_cmd->add_option("--stop-after", train.stop_after, "Stop after this many epochs (resume later)")
      ->check(kCount);

  spiketime::cli::EvalOptions eval;
  CLI::App* eval_cmd = app.add_subcommand("eval", "Evaluate a model file on a data set");
  eval_cmd->add_option("--model", eval.model_path, "Model file (model.bin of a run)")->required();
  eval_cmd->add_option("--dataset", eval.dataset, "mnist, fashion-mnist or yinyang")
      ->required()
      ->check(CLI::IsMember({"mnist", "fashion-mnist", "yinyang"}));
  eval_cmd->add_option("--split", eval.split, "train, validation or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "validation", "test"}));
  eval_cmd->add_option("--data-dir", eval.data_dir, "Data directory (default: $SPIKETIME_DATA or ./data)");
  eval_cmd->add_option("--threads", eval.threads, "Threads (default: all cores)")
      ->check(CLI::Range(0, spiketime::kMaxThreads));
  eval_cmd->add_flag("--json", eval.json, "Print one JSON object");

  spiketime::cli::ExportNirOptions export_nir;
  CLI::App* export_cmd = app.add_subcommand("export-nir", "Write a model as a NIR graph (docs/NIR.md)");
  export_cmd->add_option("--model", export_nir.model_path, "Model file (model.bin of a run)")->required();
  export_cmd->add_option("--out", export_nir.out_path, "The NIR file to write (HDF5)")->required();
  export_cmd->add_option("--time-unit", export_nir.time_unit, "Seconds per model time unit")
      ->capture_default_str()
      ->check(kPositive);

  spiketime::cli::ImportNirOptions import_nir;
  CLI::App* import_cmd = app.add_subcommand("import-nir", "Read a NIR graph into a model file (docs/NIR.md)");
  import_cmd->add_option("--in", import_nir.in_path, "The NIR file (HDF5)")->required();
  import_cmd->add_option("--out", import_nir.out_path, "The model file to write")->required();
  import_cmd->add_option("--time-unit", import_nir.time_unit,
                         "Seconds per model time unit (default: the file's metadata, else 0.001)")
      ->check(kPositive);
  import_cmd->add_option("--t-end", import_nir.t_end, "Simulation window in model time units, if the file has none")
      ->check(kPositive);
  import_cmd->add_option("--t-in-max", import_nir.t_in_max,
                         "Latest input spike of the latency code in model time units, if the file has none")
      ->check(kPositive);

  try {
    spiketime::select_target_from_environment();
  } catch (const spiketime::InputError& e) {
    std::cerr << "spiketime: " << e.what() << "\n";
    return spiketime::cli::kExitBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spiketime: " << e.what() << " (see spiketime --help)\n";
    return spiketime::cli::kExitBadInput;
  }
  if (version) {
    std::cout << "spiketime " << spiketime::kVersion << "\nSIMD targets of this CPU:";
    for (const std::string& t : spiketime::available_targets()) std::cout << ' ' << t;
    std::cout << "\nSIMD target in use: " << spiketime::active_target() << '\n';
    return 0;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << "spiketime: a subcommand is required (see spiketime --help)\n";
    return spiketime::cli::kExitBadInput;
  }
  if (simulate->parsed()) return spiketime::cli::simulate(sim);
  if (train_cmd->parsed()) return spiketime::cli::train(train);
  if (eval_cmd->parsed()) return spiketime::cli::eval(eval);
  if (export_cmd->parsed()) return spiketime::cli::export_nir(export_nir);
  if (import_cmd->parsed()) return spiketime::cli::import_nir(import_nir);
  return 0;
}
