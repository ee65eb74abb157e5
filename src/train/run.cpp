#include "spiketime/run.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "io/container.hpp"
#include "io/model_file.hpp"
#include "spiketime/error.hpp"
#include "spiketime/simd.hpp"

namespace spiketime {

namespace fs = std::filesystem;
using nlohmann::json;

TrainConfig resolve_config(const json& object, const std::string& source, const std::vector<std::string>& settings,
                           const std::string& dataset, int epochs) {
  if (!object.is_object()) throw InputError(source + ": a config must be a JSON object");
  std::string name = object.value("dataset", std::string("mnist"));
  for (const auto& s : settings) {
    if (s.rfind("dataset=", 0) == 0) name = s.substr(8);
  }
  if (!dataset.empty()) name = dataset;
  TrainConfig c = default_config(name);
  apply_config(c, object, source);
  for (const auto& s : settings) apply_setting(c, s);
  c.dataset = name;
  if (epochs > 0) c.epochs = epochs;
  validate_config(c);
  return c;
}

json evaluation_report(const Model& model, const std::string& dataset, const std::string& split,
                       const std::string& data_dir, int threads, const std::string& model_name) {
  if (split != "train" && split != "validation" && split != "test") {
    throw InputError("split: '" + split + "' is not one of train, validation, test");
  }
  std::int64_t validation_size = default_config(dataset).validation_size;
  if (model.provenance.contains("config") && model.provenance["config"].is_object()) {
    validation_size = model.provenance["config"].value("validation_size", validation_size);
  }
  const DataSplits splits =
      load_splits(dataset, data_dir.empty() ? default_data_dir() : data_dir, static_cast<std::size_t>(validation_size));
  const Dataset& data = split == "train" ? splits.train : split == "validation" ? splits.validation : splits.test;
  if (data.n_features != model.n_features || data.n_classes != model.n_classes) {
    throw InputError(model_name + ": expects " + std::to_string(model.n_features) + " features and " +
                     std::to_string(model.n_classes) + " classes, " + dataset + " has " +
                     std::to_string(data.n_features) + " and " + std::to_string(data.n_classes));
  }
  ThreadPool pool(thread_count(threads));
  const PassStats s = evaluate(model, data, pool);
  const auto classes = static_cast<std::size_t>(model.n_classes);
  std::vector<std::vector<int64_t>> confusion(classes);
  for (std::size_t y = 0; y < classes; ++y) {
    confusion[y].assign(s.confusion.begin() + static_cast<long>(y * (classes + 1)),
                        s.confusion.begin() + static_cast<long>((y + 1) * (classes + 1)));
  }
  return {{"dataset", dataset},
          {"split", split},
          {"n", s.n},
          {"accuracy", s.accuracy()},
          {"loss", s.loss()},
          {"spikes_per_neuron", s.spikes_per_neuron()},
          {"silent_fraction", s.silent_fraction()},
          {"spike_count_histogram", s.count_histogram},
          {"ties", s.ties},
          {"all_silent", s.all_silent},
          {"confusion", confusion}};
}

namespace {

// The checkpoint file: the container of io/container.hpp with the magic
// below, a header {model, config, epochs_done, best_epoch, best_score,
// steps}, and the arrays: each layer's weights (unpadded, as in model files),
// then the optimizer state as Trainer::optimizer_state() gives it (one array
// per layer for the first moment, then one per layer for the second, empty
// under SGD).
const std::string kCheckpointMagic = "SPIKETIME-CHECKPOINT\n";
constexpr int kCheckpointVersion = 1;

struct Progress {
  int epochs_done = 0;
  int best_epoch = 0;
  double best_score = -1.0;
};

struct Checkpoint {
  TrainConfig config;
  Progress progress;
  int64_t steps = 0;
  Model model;
  std::vector<std::vector<double>> optimizer_state;
};

void write_checkpoint(const std::string& path, const Trainer& trainer, const TrainConfig& config, const Progress& p) {
  const json header = {{"model", io::model_header(trainer.model())},
                       {"config", config_to_json(config)},
                       {"epochs_done", p.epochs_done},
                       {"best_epoch", p.best_epoch},
                       {"best_score", p.best_score},
                       {"steps", trainer.steps()}};
  std::vector<std::vector<double>> packed;
  for (const Layer& l : trainer.model().net.layers) packed.push_back(l.packed(l.weights));
  for (auto& a : trainer.optimizer_state()) packed.push_back(std::move(a));
  std::vector<const std::vector<double>*> arrays;
  for (const auto& a : packed) arrays.push_back(&a);
  io::write_container(path, kCheckpointMagic, kCheckpointVersion, header, arrays);
}

Checkpoint read_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path + ": not found (nothing to resume)");
  io::Container c = io::read_container(path, kCheckpointMagic, kCheckpointVersion);
  Checkpoint k;
  json model_header;
  try {
    k.config = default_config(c.header.at("config").at("dataset").get<std::string>());
    apply_config(k.config, c.header.at("config"), path);
    k.progress.epochs_done = c.header.at("epochs_done").get<int>();
    k.progress.best_epoch = c.header.at("best_epoch").get<int>();
    k.progress.best_score = c.header.at("best_score").get<double>();
    k.steps = c.header.at("steps").get<int64_t>();
    model_header = c.header.at("model");
  } catch (const json::exception& e) {
    throw InputError(path + ": invalid checkpoint header (" + std::string(e.what()) + ")");
  }
  const std::size_t n_layers = k.config.hidden.size() + 1;
  if (c.arrays.size() != 3 * n_layers) throw InputError(path + ": holds the wrong number of arrays");
  for (std::size_t l = 0; l < n_layers; ++l) {
    const std::size_t size = c.arrays[l].size();
    const std::size_t second = k.config.optimizer == "adam" ? size : 0;
    if (c.arrays[n_layers + l].size() != size || c.arrays[2 * n_layers + l].size() != second) {
      throw InputError(path + ": optimizer state of layer " + std::to_string(l) + " does not fit its weights");
    }
  }
  std::vector<std::vector<double>> weights(std::make_move_iterator(c.arrays.begin()),
                                           std::make_move_iterator(c.arrays.begin() + static_cast<long>(n_layers)));
  k.model = io::model_from(model_header, std::move(weights), path);
  k.optimizer_state.assign(std::make_move_iterator(c.arrays.begin() + static_cast<long>(n_layers)),
                           std::make_move_iterator(c.arrays.end()));
  return k;
}

// Keeps the first `lines` lines of the metrics log (those of finished epochs).
std::string metrics_prefix(const std::string& path, int lines) {
  std::ifstream in(path);
  std::string line, out;
  for (int k = 0; k < lines && std::getline(in, line); ++k) out += line + "\n";
  return out;
}

}  // namespace

struct TrainingRun::State {
  std::string dir, checkpoint_path, metrics_path, model_path;
  TrainConfig config;
  Progress progress;
  DataSplits data;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Trainer> trainer;
  std::string metrics;  // the metrics log so far

  State(const std::string& d, const TrainConfig& c)
      : dir(d),
        checkpoint_path(d + "/checkpoint.bin"),
        metrics_path(d + "/metrics.jsonl"),
        model_path(d + "/model.bin"),
        config(c) {
    const std::string data_dir = config.data_dir.empty() ? default_data_dir() : config.data_dir;
    data = load_splits(config.dataset, data_dir, static_cast<std::size_t>(config.validation_size));
    pool = std::make_unique<ThreadPool>(thread_count(config.threads));
  }
  void make_trainer(Model model) {
    model.provenance = {{"config", config_to_json(config)}};
    trainer = std::make_unique<Trainer>(config, std::move(model), *pool);
  }
};

TrainingRun::TrainingRun(std::unique_ptr<State> state) : state_(std::move(state)) {}
TrainingRun::TrainingRun(TrainingRun&&) noexcept = default;
TrainingRun::~TrainingRun() = default;

TrainingRun TrainingRun::start(const TrainConfig& config, const std::string& dir) {
  if (dir.empty()) throw InputError("the run directory: required");
  validate_config(config);
  if (fs::exists(dir + "/checkpoint.bin")) {
    throw InputError(dir + ": already holds a run; continue it (resume) or choose another directory");
  }
  auto state = std::make_unique<State>(dir, config);
  Model initial = build_model(config, state->data.train);
  // Only now that config and data are good does the run directory appear.
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw InputError(dir + ": cannot create (" + error.message() + ")");
  io::write_text_atomically(dir + "/config.json", config_to_json(config).dump(2) + "\n");
  state->make_trainer(std::move(initial));
  return TrainingRun(std::move(state));
}

TrainingRun TrainingRun::resume(const std::string& dir, int epochs) {
  Checkpoint k = read_checkpoint(dir + "/checkpoint.bin");
  if (epochs > 0) k.config.epochs = epochs;
  validate_config(k.config);
  auto state = std::make_unique<State>(dir, k.config);
  state->progress = k.progress;
  state->make_trainer(std::move(k.model));
  state->trainer->restore_optimizer_state(k.optimizer_state, k.steps);
  state->metrics = metrics_prefix(state->metrics_path, k.progress.epochs_done);
  return TrainingRun(std::move(state));
}

const TrainConfig& TrainingRun::config() const { return state_->config; }
const DataSplits& TrainingRun::data() const { return state_->data; }
int TrainingRun::threads() const { return state_->pool->size(); }
int TrainingRun::epochs_done() const { return state_->progress.epochs_done; }
const std::string& TrainingRun::dir() const { return state_->dir; }

RunResult TrainingRun::run(int stop_after, const Callbacks& callbacks) {
  State& s = *state_;
  Trainer& trainer = *s.trainer;
  RunResult result;
  int ran = 0;
  for (int epoch = s.progress.epochs_done; epoch < s.config.epochs; ++epoch) {
    if (stop_after > 0 && ran == stop_after) break;
    const auto started = std::chrono::steady_clock::now();
    EpochReport report;
    report.epoch = epoch + 1;
    report.epochs = s.config.epochs;
    report.train = trainer.train_epoch(s.data.train, epoch, [&](std::size_t done, std::size_t total, const PassStats& so_far) {
      if (callbacks.progress) callbacks.progress(epoch + 1, done, total, so_far);
    });
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.validation = evaluate(trainer.model(), s.data.validation, *s.pool);
    report.test = evaluate(trainer.model(), s.data.test, *s.pool);
    // The model is chosen on validation (train accuracy when there is no
    // validation split); the test split is only reported.
    const double score = s.data.validation.size() ? report.validation.accuracy() : report.train.accuracy();
    if (score > s.progress.best_score) {
      s.progress.best_score = score;
      s.progress.best_epoch = epoch + 1;
      report.new_best = true;
      Model best = trainer.model();
      best.provenance["epoch"] = epoch + 1;
      save_model(best, s.model_path);
    }
    report.metrics = {{"epoch", epoch + 1},
                      {"lr", trainer.learning_rate(epoch)},
                      {"loss", report.train.loss()},
                      {"train_accuracy", report.train.accuracy()},
                      {"validation_loss", report.validation.loss()},
                      {"validation_accuracy", report.validation.accuracy()},
                      {"test_accuracy", report.test.accuracy()},
                      {"spikes_per_neuron", report.train.spikes_per_neuron()},
                      {"silent_fraction", report.train.silent_fraction()},
                      {"ties", report.train.ties},
                      {"all_silent", report.train.all_silent},
                      {"seconds", report.seconds},
                      {"simd_target", active_target()},
                      {"samples_per_second", static_cast<double>(report.train.n) / report.seconds}};
    s.metrics += report.metrics.dump() + "\n";
    io::write_text_atomically(s.metrics_path, s.metrics);
    s.progress.epochs_done = epoch + 1;
    write_checkpoint(s.checkpoint_path, trainer, s.config, s.progress);
    ++ran;
    result.last_metrics = report.metrics;
    if (callbacks.epoch_done) callbacks.epoch_done(report);
  }
  result.epochs_done = s.progress.epochs_done;
  result.epochs = s.config.epochs;
  result.best_epoch = s.progress.best_epoch;
  result.best_score = s.progress.best_score;
  result.model_path = s.model_path;
  result.finished = s.progress.epochs_done >= s.config.epochs;
  if (result.last_metrics.is_null() && !s.metrics.empty()) {
    const std::string last = s.metrics.substr(s.metrics.rfind('\n', s.metrics.size() - 2) + 1);
    result.last_metrics = json::parse(last, nullptr, false);
  }
  if (result.finished && result.best_epoch > 0) {
    result.test_accuracy = evaluate(load_model(s.model_path), s.data.test, *s.pool).accuracy();
  }
  return result;
}

}  // namespace spiketime
