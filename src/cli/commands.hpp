// The subcommands of the `spiketime` executable. Each returns the process
// exit status; bad input is reported as one line on stderr with status 2.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace spiketime::cli {

inline constexpr int kExitBadInput = 2;

struct SimulateOptions {
  std::string case_path;
  bool grad = false;
  double min_vdot = 1e-12;
};
int simulate(const SimulateOptions& options);

struct TrainOptions {
  std::string config_path;
  std::vector<std::string> sets;  // key=value
  std::string dataset;
  int epochs = 0;  // 0: from the config
  std::string out_dir, resume_dir;
  int stop_after = 0;  // stop after this many epochs of this invocation (0: run to the end)
  bool force = false;  // start over in a directory holding another run's files
};
int train(const TrainOptions& options);

struct EvalOptions {
  std::string model_path, dataset, split = "test", data_dir;
  bool json = false;
  int threads = 0;
};
int eval(const EvalOptions& options);

struct ExportNirOptions {
  std::string model_path, out_path;
  double time_unit = 1e-3;  // seconds per model time unit
};
int export_nir(const ExportNirOptions& options);

struct ImportNirOptions {
  std::string in_path, out_path;
  std::optional<double> time_unit, t_end, t_in_max;
};
int import_nir(const ImportNirOptions& options);

// Reads a whole file; throws InputError naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace spiketime::cli
