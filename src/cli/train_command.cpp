#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "io/container.hpp"
#include "io/model_file.hpp"
#include "spiketime/simd.hpp"
#include "spiketime/error.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kCheckpointMagic = "SPIKETIME-CHECKPOINT\n";
constexpr int kCheckpointVersion = 1;

struct RunState {
  int epochs_done = 0;
  int best_epoch = 0;  // 1-based; 0: none yet
  double best_score = -1.0;
};

TrainConfig resolve_config(const TrainOptions& o) {
  json file = json::object();
  if (!o.config_path.empty()) {
    try {
      file = json::parse(read_file(o.config_path));
    } catch (const json::exception& e) {
      throw InputError(o.config_path + ": malformed JSON (" + std::string(e.what()) + ")");
    }
    if (!file.is_object()) throw InputError(o.config_path + ": a config must be a JSON object");
  }
  // The data set picks the defaults, so find it first: flag, then --set, then file.
  std::string dataset = file.value("dataset", std::string("mnist"));
  for (const auto& s : o.sets)
    if (s.rfind("dataset=", 0) == 0) dataset = s.substr(8);
  if (!o.dataset.empty()) dataset = o.dataset;
  TrainConfig c = default_config(dataset);
  apply_config(c, file, o.config_path.empty() ? "config" : o.config_path);
  for (const auto& s : o.sets) apply_setting(c, s);
  c.dataset = dataset;
  if (o.epochs > 0) c.epochs = o.epochs;
  validate_config(c);
  return c;
}

void save_checkpoint(const std::string& path, const Trainer& trainer, const TrainConfig& config, const RunState& run) {
  json header = {{"model", io::model_header(trainer.model())},
                 {"config", config_to_json(config)},
                 {"epochs_done", run.epochs_done},
                 {"best_epoch", run.best_epoch},
                 {"best_score", run.best_score},
                 {"steps", trainer.steps()}};
  std::vector<std::vector<double>> packed;  // the file layout: no row padding
  for (const Layer& l : trainer.model().net.layers) packed.push_back(l.packed(l.weights));
  for (auto& a : trainer.optimizer_state()) packed.push_back(std::move(a));
  std::vector<const std::vector<double>*> arrays;
  for (const auto& a : packed) arrays.push_back(&a);
  io::write_container(path, kCheckpointMagic, kCheckpointVersion, header, arrays);
}

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

// Keeps the first `lines` lines of the metrics log (those of finished epochs).
std::string metrics_prefix(const std::string& path, int lines) {
  std::ifstream in(path);
  std::string line, out;
  for (int k = 0; k < lines && std::getline(in, line); ++k) out += line + "\n";
  return out;
}

}  // namespace

int train(const TrainOptions& o) {
  try {
    const bool resuming = !o.resume_dir.empty();
    const std::string dir = resuming ? o.resume_dir : o.out_dir;
    const std::string checkpoint_path = dir + "/checkpoint.bin", config_path = dir + "/config.json",
                      metrics_path = dir + "/metrics.jsonl", model_path = dir + "/model.bin";
    TrainConfig config;
    RunState run;
    json checkpoint_header, model_header;
    int64_t steps = 0;
    std::vector<std::vector<double>> checkpoint_arrays;
    if (resuming) {
      if (!o.config_path.empty() || !o.sets.empty() || !o.dataset.empty() || !o.out_dir.empty()) {
        throw InputError("--resume: takes the run's own config; only --epochs may change");
      }
      if (!fs::exists(checkpoint_path)) throw InputError(checkpoint_path + ": not found (nothing to resume)");
      io::Container c = io::read_container(checkpoint_path, kCheckpointMagic, kCheckpointVersion);
      checkpoint_header = std::move(c.header);
      checkpoint_arrays = std::move(c.arrays);
      try {
        config = default_config(checkpoint_header.at("config").at("dataset").get<std::string>());
        apply_config(config, checkpoint_header.at("config"), checkpoint_path);
        run.epochs_done = checkpoint_header.at("epochs_done").get<int>();
        run.best_epoch = checkpoint_header.at("best_epoch").get<int>();
        run.best_score = checkpoint_header.at("best_score").get<double>();
        steps = checkpoint_header.at("steps").get<int64_t>();
        model_header = checkpoint_header.at("model");
      } catch (const json::exception& e) {
        throw InputError(checkpoint_path + ": invalid checkpoint header (" + std::string(e.what()) + ")");
      }
      if (o.epochs > 0) config.epochs = o.epochs;
      validate_config(config);
    } else {
      if (o.out_dir.empty()) throw InputError("--out: required (the run directory)");
      config = resolve_config(o);
      if (fs::exists(checkpoint_path)) {
        throw InputError(o.out_dir + ": already holds a run; continue it with --resume " + o.out_dir +
                         " or choose another --out");
      }
    }

    const std::string data_dir = config.data_dir.empty() ? default_data_dir() : config.data_dir;
    const DataSplits data = load_splits(config.dataset, data_dir, static_cast<std::size_t>(config.validation_size));
    const int threads = resolve_threads(config.threads);
    ThreadPool pool(threads);

    Model initial;
    // A checkpoint holds the weights of each layer, then the optimizer's two
    // moment arrays per layer.
    const auto n_layers = static_cast<long>(config.hidden.size() + 1);
    if (resuming) {
      if (checkpoint_arrays.size() != static_cast<std::size_t>(3 * n_layers)) {
        throw InputError(checkpoint_path + ": holds the wrong number of arrays");
      }
      for (long l = 0; l < n_layers; ++l) {
        const std::size_t size = checkpoint_arrays[static_cast<std::size_t>(l)].size();
        const std::size_t second = config.optimizer == "adam" ? size : 0;
        if (checkpoint_arrays[static_cast<std::size_t>(n_layers + l)].size() != size ||
            checkpoint_arrays[static_cast<std::size_t>(2 * n_layers + l)].size() != second) {
          throw InputError(checkpoint_path + ": optimizer state of layer " + std::to_string(l) + " does not fit its weights");
        }
      }
      std::vector<std::vector<double>> weights(checkpoint_arrays.begin(), checkpoint_arrays.begin() + n_layers);
      initial = io::model_from(model_header, std::move(weights), checkpoint_path);
    } else {
      initial = build_model(config, data.train);
      // Only now that config and data are good does the run directory appear.
      std::error_code error;
      fs::create_directories(o.out_dir, error);
      if (error) throw InputError(o.out_dir + ": cannot create (" + error.message() + ")");
      io::write_text_atomically(config_path, config_to_json(config).dump(2) + "\n");
    }
    initial.provenance = {{"config", config_to_json(config)}};
    Trainer trainer(config, std::move(initial), pool);
    if (resuming) {
      std::vector<std::vector<double>> state(checkpoint_arrays.begin() + n_layers, checkpoint_arrays.end());
      trainer.restore_optimizer_state(state, steps);
    }
    std::string metrics = resuming ? metrics_prefix(metrics_path, run.epochs_done) : "";

    std::cout << "training " << config.dataset << " (" << data.train.size() << " train, " << data.validation.size()
              << " validation, " << data.test.size() << " test) on " << threads << " thread(s), epochs "
              << run.epochs_done + 1 << ".." << config.epochs << ", writing " << dir << "\n"
              << std::flush;
    int ran = 0;
    for (int epoch = run.epochs_done; epoch < config.epochs; ++epoch) {
      if (o.stop_after > 0 && ran == o.stop_after) break;
      ProgressBar bar(epoch + 1, config.epochs);
      const PassStats tr = trainer.train_epoch(data.train, epoch, [&](std::size_t done, std::size_t total, const PassStats& s) {
        bar.update(done, total, s.loss(), s.accuracy());
      });
      const double seconds = bar.seconds();
      bar.finish();
      const PassStats va = evaluate(trainer.model(), data.validation, pool);
      const PassStats te = evaluate(trainer.model(), data.test, pool);
      // The model is chosen on validation (train accuracy when there is no
      // validation split); the test split is only reported.
      const double score = data.validation.size() ? va.accuracy() : tr.accuracy();
      if (score > run.best_score) {
        run.best_score = score;
        run.best_epoch = epoch + 1;
        Model best = trainer.model();
        best.provenance["epoch"] = epoch + 1;
        save_model(best, model_path);
      }
      const json line = {{"epoch", epoch + 1},
                         {"lr", trainer.learning_rate(epoch)},
                         {"loss", tr.loss()},
                         {"train_accuracy", tr.accuracy()},
                         {"validation_loss", va.loss()},
                         {"validation_accuracy", va.accuracy()},
                         {"test_accuracy", te.accuracy()},
                         {"spikes_per_neuron", tr.spikes_per_neuron()},
                         {"silent_fraction", tr.silent_fraction()},
                         {"ties", tr.ties},
                         {"all_silent", tr.all_silent},
                         {"seconds", seconds},
                         {"simd_target", active_target()},
                         {"samples_per_second", static_cast<double>(tr.n) / seconds}};
      metrics += line.dump() + "\n";
      io::write_text_atomically(metrics_path, metrics);
      run.epochs_done = epoch + 1;
      save_checkpoint(checkpoint_path, trainer, config, run);
      ++ran;
      std::cout << "epoch " << epoch + 1 << "/" << config.epochs << "  loss " << fixed(tr.loss(), 4) << "  train "
                << fixed(100 * tr.accuracy(), 2) << "%  validation " << fixed(100 * va.accuracy(), 2) << "%  test "
                << fixed(100 * te.accuracy(), 2) << "%  spikes/neuron " << list(tr.spikes_per_neuron(), 2)
                << "  silent " << list(tr.silent_fraction(), 2) << "  " << fixed(seconds, 1) << " s ("
                << fixed(static_cast<double>(tr.n) / seconds, 0) << " samples/s)\n"
                << std::flush;
    }
    if (run.epochs_done < config.epochs) {
      std::cout << "stopped after epoch " << run.epochs_done << "; continue with: spiketime train --resume " << dir << "\n";
      return 0;
    }
    const Model best = load_model(model_path);
    const PassStats te = evaluate(best, data.test, pool);
    std::cout << "best epoch " << run.best_epoch << " (validation " << fixed(100 * run.best_score, 2)
              << "%): test accuracy " << fixed(100 * te.accuracy(), 2) << "% -> " << model_path << "\n";
    return 0;
  } catch (const InputError& e) {
    std::cerr << "spiketime train: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace spiketime::cli
