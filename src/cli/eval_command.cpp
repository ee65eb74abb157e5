#include <iomanip>
#include <iostream>

#include "cli/commands.hpp"
#include "spiketime/error.hpp"
#include "spiketime/run.hpp"

namespace spiketime::cli {

int eval(const EvalOptions& o) {
  try {
    const Model model = load_model(o.model_path);
    nlohmann::json report = evaluation_report(model, o.dataset, o.split, o.data_dir, o.threads, o.model_path);
    if (o.json) {
      report["model"] = o.model_path;
      std::cout << report.dump() << "\n";
      return 0;
    }
    std::cout << o.model_path << " on " << o.dataset << " " << o.split << " (" << report["n"] << " samples)\n"
              << "accuracy " << std::fixed << std::setprecision(2) << 100.0 * report["accuracy"].get<double>()
              << "%  loss " << std::setprecision(4) << report["loss"].get<double>() << "  ties " << report["ties"]
              << "  all outputs silent " << report["all_silent"] << "\n";
    const auto spikes = report["spikes_per_neuron"].get<std::vector<double>>();
    const auto silent = report["silent_fraction"].get<std::vector<double>>();
    for (std::size_t l = 0; l < spikes.size(); ++l) {
      std::cout << "layer " << l << " (" << model.net.layers[l].n_out << " neurons): " << std::setprecision(3)
                << spikes[l] << " spikes per neuron, " << std::setprecision(1) << 100.0 * silent[l]
                << "% never fired\n";
    }
    std::cout << "confusion (rows: label, columns: predicted, last: no output fired)\n";
    for (const auto& row : report["confusion"]) {
      for (const auto& c : row) std::cout << std::setw(6) << c.get<int64_t>();
      std::cout << "\n";
    }
    return 0;
  } catch (const InputError& e) {
    std::cerr << "spiketime eval: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace spiketime::cli
