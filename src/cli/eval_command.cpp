#include <iomanip>
#include <iostream>

#include "cli/commands.hpp"
#include "spiketime/error.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime::cli {

using nlohmann::json;

int eval(const EvalOptions& o) {
  try {
    const Model model = load_model(o.model_path);
    // The validation split is the one the model was trained with.
    std::int64_t validation_size = default_config(o.dataset).validation_size;
    if (model.provenance.contains("config")) {
      validation_size = model.provenance["config"].value("validation_size", validation_size);
    }
    const std::string data_dir = o.data_dir.empty() ? default_data_dir() : o.data_dir;
    const DataSplits splits = load_splits(o.dataset, data_dir, static_cast<std::size_t>(validation_size));
    const Dataset& data = o.split == "train" ? splits.train : o.split == "validation" ? splits.validation : splits.test;
    if (data.n_features != model.n_features || data.n_classes != model.n_classes) {
      throw InputError(o.model_path + ": expects " + std::to_string(model.n_features) + " features and " +
                       std::to_string(model.n_classes) + " classes, " + o.dataset + " has " +
                       std::to_string(data.n_features) + " and " + std::to_string(data.n_classes));
    }
    const int threads = resolve_threads(o.threads);
    ThreadPool pool(threads);
    const PassStats s = evaluate(model, data, pool);
    const auto classes = static_cast<std::size_t>(model.n_classes);
    std::vector<std::vector<int64_t>> confusion(classes);
    for (std::size_t y = 0; y < classes; ++y) {
      confusion[y].assign(s.confusion.begin() + static_cast<long>(y * (classes + 1)),
                          s.confusion.begin() + static_cast<long>((y + 1) * (classes + 1)));
    }
    if (o.json) {
      std::cout << json{{"model", o.model_path},
                        {"dataset", o.dataset},
                        {"split", o.split},
                        {"n", s.n},
                        {"accuracy", s.accuracy()},
                        {"loss", s.loss()},
                        {"spikes_per_neuron", s.spikes_per_neuron()},
                        {"silent_fraction", s.silent_fraction()},
                        {"spike_count_histogram", s.count_histogram},
                        {"ties", s.ties},
                        {"all_silent", s.all_silent},
                        {"confusion", confusion}}
                       .dump()
                << "\n";
      return 0;
    }
    std::cout << o.model_path << " on " << o.dataset << " " << o.split << " (" << s.n << " samples)\n"
              << "accuracy " << std::fixed << std::setprecision(2) << 100.0 * s.accuracy() << "%  loss "
              << std::setprecision(4) << s.loss() << "  ties " << s.ties << "  all outputs silent " << s.all_silent
              << "\n";
    const auto spikes = s.spikes_per_neuron(), silent = s.silent_fraction();
    for (std::size_t l = 0; l < spikes.size(); ++l) {
      std::cout << "layer " << l << " (" << s.layer_sizes[l] << " neurons): " << std::setprecision(3) << spikes[l]
                << " spikes per neuron, " << std::setprecision(1) << 100.0 * silent[l] << "% never fired\n";
    }
    std::cout << "confusion (rows: label, columns: predicted, last: no output fired)\n";
    for (const auto& row : confusion) {
      for (int64_t c : row) std::cout << std::setw(6) << c;
      std::cout << "\n";
    }
    return 0;
  } catch (const InputError& e) {
    std::cerr << "spiketime eval: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace spiketime::cli
