#include <iostream>

#include "cli/commands.hpp"
#include "spiketime/error.hpp"
#include "spiketime/nir.hpp"

namespace spiketime::cli {

int export_nir(const ExportNirOptions& o) {
  try {
    const Model model = load_model(o.model_path);
    spiketime::export_nir(model, o.out_path, o.time_unit);
    std::cout << "wrote " << o.out_path << ": " << model.net.layers.size() << " CubaLIF layers, time unit "
              << o.time_unit << " s\n";
    return 0;
  } catch (const InputError& e) {
    std::cerr << "spiketime export-nir: " << e.what() << "\n";
    return kExitBadInput;
  }
}

int import_nir(const ImportNirOptions& o) {
  try {
    const Model model = spiketime::import_nir(o.in_path, {o.time_unit, o.t_end, o.t_in_max});
    save_model(model, o.out_path);
    std::cout << "wrote " << o.out_path << ": " << model.net.layers.size() << " layers, " << model.n_features
              << " features, " << model.n_classes << " classes\n";
    return 0;
  } catch (const InputError& e) {
    std::cerr << "spiketime import-nir: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace spiketime::cli
