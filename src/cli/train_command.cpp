#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "spiketime/json_text.hpp"
#include "spiketime/error.hpp"
#include "spiketime/run.hpp"

namespace spiketime::cli {

namespace {

std::string fixed(double x, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << x;
  return s.str();
}

std::string list(const std::vector<double>& xs, int digits) {
  std::string out;
  for (double x : xs) {
    if (!out.empty()) out += '/';
    out += fixed(x, digits);
  }
  return out;
}

TrainingRun open_run(const TrainOptions& o) {
  if (!o.resume_dir.empty()) {
    if (!o.config_path.empty() || !o.sets.empty() || !o.dataset.empty() || !o.out_dir.empty() || o.force) {
      throw InputError("--resume: takes the run's own config; only --epochs may change");
    }
    return TrainingRun::resume(o.resume_dir, o.epochs);
  }
  if (o.out_dir.empty()) throw InputError("--out: required (the run directory)");
  nlohmann::json file = nlohmann::json::object();
  if (!o.config_path.empty()) {
    file = parse_json(read_file(o.config_path), o.config_path);
  }
  const TrainConfig config =
      resolve_config(file, o.config_path.empty() ? "config" : o.config_path, o.sets, o.dataset, o.epochs);
  return TrainingRun::start(config, o.out_dir, o.force);
}

}  // namespace

int train(const TrainOptions& o) {
  try {
    TrainingRun run = open_run(o);
    const TrainConfig& config = run.config();
    const DataSplits& data = run.data();
    std::cout << "training " << config.dataset << " (" << data.train.size() << " train, " << data.validation.size()
              << " validation, " << data.test.size() << " test) on " << run.threads() << " thread(s), epochs "
              << run.epochs_done() + 1 << ".." << config.epochs << ", writing " << run.dir() << "\n"
              << std::flush;
    std::unique_ptr<ProgressBar> bar;
    TrainingRun::Callbacks callbacks;
    callbacks.progress = [&](int epoch, std::size_t done, std::size_t total, const PassStats& s) {
      if (!bar) bar = std::make_unique<ProgressBar>(epoch, config.epochs);
      bar->update(done, total, s.loss(), s.accuracy());
    };
    callbacks.epoch_done = [&](const EpochReport& r) {
      if (bar) bar->finish();
      bar.reset();
      std::cout << "epoch " << r.epoch << "/" << r.epochs << "  loss " << fixed(r.train.loss(), 4) << "  train "
                << fixed(100 * r.train.accuracy(), 2) << "%  validation " << fixed(100 * r.validation.accuracy(), 2)
                << "%  test " << fixed(100 * r.test.accuracy(), 2) << "%  spikes/neuron "
                << list(r.train.spikes_per_neuron(), 2) << "  silent " << list(r.train.silent_fraction(), 2) << "  "
                << fixed(r.seconds, 1) << " s (" << fixed(static_cast<double>(r.train.n) / r.seconds, 0)
                << " samples/s)\n"
                << std::flush;
    };
    const RunResult result = run.run(o.stop_after, callbacks);
    if (!result.finished) {
      std::cout << "stopped after epoch " << result.epochs_done << "; continue with: spiketime train --resume "
                << run.dir() << "\n";
      return 0;
    }
    std::cout << "best epoch " << result.best_epoch << " (validation " << fixed(100 * result.best_score, 2)
              << "%): test accuracy " << fixed(100 * result.test_accuracy, 2) << "% -> " << result.model_path << "\n";
    return 0;
  } catch (const InputError& e) {
    std::cerr << "spiketime train: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace spiketime::cli
