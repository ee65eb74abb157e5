#include "spiketime/run.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/container.hpp"
#include "io/model_file.hpp"
#include "spiketime/error.hpp"
#include "spiketime/json_text.hpp"
#include "spiketime/simd.hpp"
#include "train/checkpoint.hpp"

namespace spiketime {

namespace fs = std::filesystem;
using nlohmann::json;

TrainConfig resolve_config(const json& object, const std::string& source, const std::vector<std::string>& settings,
                           const std::string& dataset, int epochs) {
  if (!object.is_object()) throw InputError(source + ": a config must be a JSON object");
  std::string name = "mnist";
  if (const auto it = object.find("dataset"); it != object.end()) {
    if (!it->is_string()) throw InputError(source + ": config key 'dataset': expected a string");  // found by fuzz_config
    name = it->get<std::string>();
  }
  for (const auto& setting : settings) {
    if (setting.rfind("dataset=", 0) == 0) name = setting.substr(8);
  }
  if (!dataset.empty()) name = dataset;
  TrainConfig c = default_config(name);
  apply_config(c, object, source);
  for (const auto& setting : settings) apply_setting(c, setting);
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
  // The split the model was trained with, when its provenance says (a value
  // of another type, or out of range, is ignored: provenance is a record).
  if (const auto config = model.provenance.find("config"); config != model.provenance.end() && config->is_object()) {
    const auto size = config->find("validation_size");
    if (size != config->end() && size->is_number_integer() && size->get<int64_t>() >= 0 &&
        size->get<int64_t>() <= 10'000'000) {
      validation_size = size->get<int64_t>();
    }
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
  const PassStats stats = evaluate(model, data, pool);
  const auto classes = static_cast<std::size_t>(model.n_classes);
  std::vector<std::vector<int64_t>> confusion(classes);
  for (std::size_t y = 0; y < classes; ++y) {
    confusion[y].assign(stats.confusion.begin() + static_cast<long>(y * (classes + 1)),
                        stats.confusion.begin() + static_cast<long>((y + 1) * (classes + 1)));
  }
  return {{"dataset", dataset},
          {"split", split},
          {"n", stats.n},
          {"accuracy", stats.accuracy()},
          {"loss", stats.loss()},
          {"spikes_per_neuron", stats.spikes_per_neuron()},
          {"silent_fraction", stats.silent_fraction()},
          {"spike_count_histogram", stats.count_histogram},
          {"ties", stats.ties},
          {"all_silent", stats.all_silent},
          {"confusion", confusion}};
}

namespace {

// Keeps the first `lines` lines of the metrics log (those of finished epochs).
std::string metrics_prefix(const std::string& path, int lines) {
  std::ifstream in(path);
  std::string line, out;
  for (int k = 0; k < lines && std::getline(in, line); ++k) out += line + "\n";
  return out;
}

// An exclusive lock (flock) on <dir>/lock for as long as a run is open on
// dir: a second run on it, in this process or another, is refused with a
// line naming the holder. The kernel drops the lock when the holder exits,
// killed or not; the file stays.
class RunLock {
 public:
  explicit RunLock(const std::string& dir) {
    const std::string path = dir + "/lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char text[256] = {};
      const ssize_t n = ::pread(fd_, text, sizeof text - 1, 0);
      std::string holder(text, n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      ::close(fd_);
      throw InputError(dir + ": in use by another run (" + (holder.empty() ? "holder unknown" : holder) +
                       "); wait for it to end or choose another directory");
    }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string me = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
    // The note only names the holder in a refusal; the lock holds without it.
    if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
  }
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Fault injection for the tests of resume: with SPIKETIME_KILL_AFTER set to
// "<write>:<epoch>" (write: metrics, checkpoint or model), the process ends
// at once after that write of that epoch, as kill -9 would end it there.
void exit_here_if_asked(const char* write, int epoch) {
  static const char* const spec = std::getenv("SPIKETIME_KILL_AFTER");
  if (spec && std::string(spec) == std::string(write) + ":" + std::to_string(epoch)) std::_Exit(137);
}

// The files of a run, in the order a fresh start removes them under --force.
constexpr const char* kRunFiles[] = {"checkpoint.bin", "model.bin", "metrics.jsonl", "config.json"};

std::string run_files_in(const std::string& dir) {
  std::string found;
  for (const char* name : kRunFiles) {
    if (fs::exists(dir + "/" + name)) found += (found.empty() ? "" : ", ") + std::string(name);
  }
  return found;
}

}  // namespace

struct TrainingRun::State {
  std::string dir, checkpoint_path, metrics_path, model_path;
  std::unique_ptr<RunLock> lock;
  TrainConfig config;
  Progress progress;
  std::vector<std::vector<double>> best_weights;  // packed, per layer, of the best epoch so far
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
  // model.bin as of the best epoch: the trainer's model with the best weights.
  void save_best() const {
    Model best = trainer->model();
    for (std::size_t l = 0; l < best.net.layers.size(); ++l) {
      best.net.layers[l].weights = best.net.layers[l].padded(best_weights[l]);
      best.net.layers[l].refresh_float32();
    }
    best.provenance["epoch"] = progress.best_epoch;
    save_model(best, model_path);
  }
};

TrainingRun::TrainingRun(std::unique_ptr<State> state) : state_(std::move(state)) {}
TrainingRun::TrainingRun(TrainingRun&&) noexcept = default;
TrainingRun::~TrainingRun() = default;

TrainingRun TrainingRun::start(const TrainConfig& config, const std::string& dir, bool force) {
  if (dir.empty()) throw InputError("the run directory: required");
  validate_config(config);
  const auto refuse_another_run = [&] {
    if (const std::string found = run_files_in(dir); !found.empty() && !force) {
      throw InputError(dir + ": holds another run (" + found +
                       "); continue it (resume), start it over (--force), or choose another directory");
    }
  };
  refuse_another_run();
  auto state = std::make_unique<State>(dir, config);
  Model initial = build_model(config, state->data.train);
  // Only now that config and data are good does the run directory appear.
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw InputError(dir + ": cannot create (" + error.message() + ")");
  state->lock = std::make_unique<RunLock>(dir);
  refuse_another_run();  // again under the lock: another start may have come first
  for (const char* name : kRunFiles) fs::remove(dir + "/" + name, error);  // --force: nothing of the old run stays
  io::write_text_atomically(dir + "/config.json", config_to_json(config).dump(2) + "\n");
  state->make_trainer(std::move(initial));
  return TrainingRun(std::move(state));
}

TrainingRun TrainingRun::resume(const std::string& dir, int epochs) {
  if (!fs::is_directory(dir)) throw InputError(dir + ": not found (nothing to resume)");
  auto lock = std::make_unique<RunLock>(dir);
  const std::string checkpoint = dir + "/checkpoint.bin";
  if (!fs::exists(checkpoint) && fs::exists(dir + "/config.json")) {
    // Stopped before its first epoch finished: start again from its config.
    const std::string path = dir + "/config.json";
    const TrainConfig config = resolve_config(parse_json(io::read_regular_file(path, 1 << 20), path), path, {}, "", epochs);
    auto state = std::make_unique<State>(dir, config);
    state->lock = std::move(lock);
    state->make_trainer(build_model(config, state->data.train));
    for (const char* name : {"model.bin", "metrics.jsonl"}) fs::remove(dir + "/" + name);
    return TrainingRun(std::move(state));
  }
  Checkpoint k = read_checkpoint(checkpoint);
  if (epochs > 0 && epochs < k.progress.epochs_done) {
    throw InputError("--epochs " + std::to_string(epochs) + ": the run in " + dir + " has already done " +
                     std::to_string(k.progress.epochs_done));
  }
  if (epochs > 0) k.config.epochs = epochs;
  validate_config(k.config);
  auto state = std::make_unique<State>(dir, k.config);
  state->lock = std::move(lock);
  state->progress = k.progress;
  state->make_trainer(std::move(k.model));
  state->trainer->restore_optimizer_state(k.optimizer_state, k.steps);
  // The files move back to the checkpoint: a kill after a later epoch's
  // metrics line, before its checkpoint, left one line too many; a kill
  // after the checkpoint, before model.bin, left the previous best there.
  state->metrics = metrics_prefix(state->metrics_path, k.progress.epochs_done);
  io::write_text_atomically(state->metrics_path, state->metrics);
  state->best_weights = std::move(k.best_weights);
  if (!state->best_weights.empty()) state->save_best();
  return TrainingRun(std::move(state));
}

const TrainConfig& TrainingRun::config() const { return state_->config; }
const DataSplits& TrainingRun::data() const { return state_->data; }
int TrainingRun::threads() const { return state_->pool->size(); }
int TrainingRun::epochs_done() const { return state_->progress.epochs_done; }
const std::string& TrainingRun::dir() const { return state_->dir; }

RunResult TrainingRun::run(int stop_after, const Callbacks& callbacks) {
  State& state = *state_;
  Trainer& trainer = *state.trainer;
  RunResult result;
  int ran = 0;
  for (int epoch = state.progress.epochs_done; epoch < state.config.epochs; ++epoch) {
    if (stop_after > 0 && ran == stop_after) break;
    const auto started = std::chrono::steady_clock::now();
    EpochReport report;
    report.epoch = epoch + 1;
    report.epochs = state.config.epochs;
    const auto progress = [&](std::size_t done, std::size_t total, const PassStats& so_far) {
      if (callbacks.progress) callbacks.progress(epoch + 1, done, total, so_far);
    };
    report.train = trainer.train_epoch(state.data.train, epoch, progress);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.validation = evaluate(trainer.model(), state.data.validation, *state.pool);
    report.test = evaluate(trainer.model(), state.data.test, *state.pool);
    // The model is chosen on validation (train accuracy when there is no
    // validation split); the test split is only reported.
    const double score = state.data.validation.size() ? report.validation.accuracy() : report.train.accuracy();
    if (score > state.progress.best_score) {
      state.progress.best_score = score;
      state.progress.best_epoch = epoch + 1;
      report.new_best = true;
      state.best_weights.clear();
      for (const Layer& l : trainer.model().net.layers) state.best_weights.push_back(l.packed(l.weights));
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
    state.metrics += report.metrics.dump() + "\n";
    state.progress.epochs_done = epoch + 1;
    // The metrics line, the checkpoint (the commit point), then model.bin:
    // resume can cut back the first and rewrite the last.
    io::write_text_atomically(state.metrics_path, state.metrics);
    exit_here_if_asked("metrics", epoch + 1);
    write_checkpoint(state.checkpoint_path, trainer, state.config, state.progress, state.best_weights);
    exit_here_if_asked("checkpoint", epoch + 1);
    if (report.new_best) state.save_best();
    exit_here_if_asked("model", epoch + 1);
    ++ran;
    result.last_metrics = report.metrics;
    if (callbacks.epoch_done) callbacks.epoch_done(report);
  }
  result.epochs_done = state.progress.epochs_done;
  result.epochs = state.config.epochs;
  result.best_epoch = state.progress.best_epoch;
  result.best_score = state.progress.best_score;
  result.model_path = state.model_path;
  result.finished = state.progress.epochs_done >= state.config.epochs;
  if (result.last_metrics.is_null() && !state.metrics.empty()) {
    const std::string last = state.metrics.substr(state.metrics.rfind('\n', state.metrics.size() - 2) + 1);
    result.last_metrics = json::parse(last, nullptr, false);
  }
  if (result.finished && result.best_epoch > 0) {
    result.test_accuracy = evaluate(load_model(state.model_path), state.data.test, *state.pool).accuracy();
  }
  return result;
}

}  // namespace spiketime
