#include "train/checkpoint.hpp"

#include <cmath>
#include <filesystem>

#include "io/container.hpp"
#include "io/model_file.hpp"
#include "spiketime/error.hpp"

namespace spiketime {

namespace fs = std::filesystem;
using nlohmann::json;

void write_checkpoint(const std::string& path, const Trainer& trainer, const TrainConfig& config, const Progress& p,
                      const std::vector<std::vector<double>>& best_weights) {
  const json header = {{"model", io::model_header(trainer.model())},
                       {"config", config_to_json(config)},
                       {"epochs_done", p.epochs_done},
                       {"best_epoch", p.best_epoch},
                       {"best_score", p.best_score},
                       {"steps", trainer.steps()}};
  std::vector<std::vector<double>> packed;
  for (const Layer& l : trainer.model().net.layers) packed.push_back(l.packed(l.weights));
  Trainer::OptimizerState state = trainer.optimizer_state();
  for (auto* moments : {&state.first, &state.second}) {
    for (auto& a : *moments) packed.push_back(std::move(a));
  }
  std::vector<const std::vector<double>*> arrays;
  for (const auto& a : packed) arrays.push_back(&a);
  for (const auto& a : best_weights) arrays.push_back(&a);
  io::write_container(path, kCheckpointMagic, kCheckpointVersion, header, arrays);
}

Checkpoint read_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path + ": not found (nothing to resume)");
  io::Container c = io::read_container(path, kCheckpointMagic, kCheckpointVersion);
  Checkpoint k;
  json model_header;
  try {
    const json& config = c.header.at("config");
    k.config = default_config(config.at("dataset").get<std::string>());
    apply_config(k.config, config, path);
    validate_config(k.config);
    model_header = c.header.at("model");
    const json& score = c.header.at("best_score");
    if (!score.is_number() || !(score.get<double>() >= -1.0 && score.get<double>() <= 1.0)) {
      throw InputError(path + ": checkpoint field 'best_score' must be a number from -1 to 1");
    }
    k.progress.best_score = score.get<double>();
  } catch (const json::exception& e) {
    throw InputError(path + ": invalid checkpoint header (" + std::string(e.what()) + ")");
  }
  const io::HeaderReader r{path, "checkpoint field"};
  k.progress.epochs_done = static_cast<int>(r.integer(r.at(c.header, "epochs_done", ""), "epochs_done", 0, k.config.epochs));
  k.progress.best_epoch =
      static_cast<int>(r.integer(r.at(c.header, "best_epoch", ""), "best_epoch", 0, k.progress.epochs_done));
  k.steps = r.integer(r.at(c.header, "steps", ""), "steps", 0, int64_t{1} << 53);
  const std::size_t n_layers = k.config.hidden.size() + 1;
  const bool with_best = c.arrays.size() == 4 * n_layers;
  if (c.arrays.size() != 3 * n_layers && !with_best) throw InputError(path + ": holds the wrong number of arrays");
  if (with_best && k.progress.best_epoch == 0) {
    throw InputError(path + ": the best epoch's weights do not match its header");
  }
  for (std::size_t l = 0; l < n_layers; ++l) {
    const std::size_t size = c.arrays[l].size();
    const std::size_t second = k.config.optimizer == Optimizer::Adam ? size : 0;
    if (c.arrays[n_layers + l].size() != size || c.arrays[2 * n_layers + l].size() != second ||
        (with_best && c.arrays[3 * n_layers + l].size() != size)) {
      throw InputError(path + ": optimizer state or best weights of layer " + std::to_string(l) +
                       " do not fit its weights");
    }
  }
  const auto take = [&](std::size_t first, std::size_t count) {
    return std::vector<std::vector<double>>(std::make_move_iterator(c.arrays.begin() + static_cast<long>(first)),
                                            std::make_move_iterator(c.arrays.begin() + static_cast<long>(first + count)));
  };
  k.model = io::model_from(model_header, take(0, n_layers), path);
  k.optimizer_state = {take(n_layers, n_layers), take(2 * n_layers, n_layers)};
  if (with_best) k.best_weights = take(3 * n_layers, n_layers);
  for (const auto& layer : k.best_weights) {
    for (double w : layer) {
      if (!std::isfinite(w)) throw InputError(path + ": a best-epoch weight is not finite");
    }
  }
  return k;
}

}  // namespace spiketime
