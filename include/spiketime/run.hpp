// A training run and its directory, in one place for the CLI and Python:
//   config.json    the resolved config, written when the run starts
//   metrics.jsonl  one JSON line per finished epoch
//   model.bin      the model of the best epoch on validation so far
//   checkpoint.bin weights, optimizer state and run state after the last
//                  finished epoch: `resume` continues from it exactly
// Every file is written to a temporary file and renamed, so a run killed at
// any moment resumes and ends with the weights of a run never interrupted.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "spiketime/config.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime {

// The config from a JSON object (a config file's contents; `source` names it
// in errors), then `key=value` settings, then the data set and epoch count
// when given (empty, 0: not given). The data set picks the defaults, so it is
// found first: argument, then settings, then the object.
TrainConfig resolve_config(const nlohmann::json& object, const std::string& source,
                           const std::vector<std::string>& settings = {}, const std::string& dataset = "",
                           int epochs = 0);

// What `spiketime eval --json` reports of a model on a split of a data set
// ("train", "validation" or "test"; the validation split is the one the model
// was trained with): n, accuracy, loss, spikes_per_neuron, silent_fraction,
// spike_count_histogram, ties, all_silent, confusion, dataset, split.
// model_name names the model in errors (a model that does not fit the data).
nlohmann::json evaluation_report(const Model& model, const std::string& dataset, const std::string& split,
                                 const std::string& data_dir = "", int threads = 0,
                                 const std::string& model_name = "the model");

// What one finished epoch measured (also the metrics.jsonl line).
struct EpochReport {
  int epoch = 0, epochs = 0;  // 1-based
  PassStats train, validation, test;
  double seconds = 0.0;  // of the training pass
  bool new_best = false;
  nlohmann::json metrics;
};

struct RunResult {
  int epochs_done = 0, epochs = 0;
  int best_epoch = 0;        // 1-based; 0: none
  double best_score = -1.0;  // validation accuracy (train accuracy without a validation split)
  bool finished = false;     // all epochs done (else stopped early: resume later)
  double test_accuracy = 0.0;  // of model.bin, when finished
  nlohmann::json last_metrics;  // the last metrics.jsonl line, if any epoch is done
  std::string model_path;
};

class TrainingRun {
 public:
  // Starts a new run in `dir` (created once the config and the data check
  // out). Throws InputError when dir holds files of another run, unless
  // force (they are then removed), and when another run holds dir's lock.
  // The run holds an exclusive lock on dir (the file `lock`) while it lives.
  static TrainingRun start(const TrainConfig& config, const std::string& dir, bool force = false);
  // Continues the run in dir from its checkpoint, first moving model.bin and
  // metrics.jsonl back to it (a kill may have left them an epoch ahead); a
  // run stopped before its first checkpoint starts over from its
  // config.json. epochs > 0 changes the total number of epochs (not below
  // those done).
  static TrainingRun resume(const std::string& dir, int epochs = 0);

  TrainingRun(TrainingRun&&) noexcept;
  ~TrainingRun();

  const TrainConfig& config() const;
  const DataSplits& data() const;
  int threads() const;
  int epochs_done() const;
  const std::string& dir() const;

  struct Callbacks {
    // Called by the training pass as batches finish, with the epoch (1-based).
    std::function<void(int epoch, std::size_t done, std::size_t total, const PassStats& so_far)> progress;
    std::function<void(const EpochReport&)> epoch_done;
  };
  // Runs the remaining epochs, or stop_after of them (0: all). An exception
  // thrown by a callback (an interrupt) ends the run at once; the directory
  // then holds the last finished epoch, as after a kill.
  RunResult run(int stop_after = 0, const Callbacks& callbacks = {});

 private:
  struct State;
  explicit TrainingRun(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace spiketime
