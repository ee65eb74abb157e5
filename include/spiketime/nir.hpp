// Model exchange through NIR, the Neuromorphic Intermediate Representation
// (an HDF5 file holding a graph of typed nodes): docs/NIR.md has the mapping,
// the units and the metadata keys.
#pragma once

#include <optional>
#include <string>

#include "spiketime/model.hpp"

namespace spiketime {

// Seconds per model time unit unless told otherwise: 1 unit = 1 ms.
inline constexpr double kDefaultNirTimeUnit = 1e-3;

// Writes the network as input -> linear -> cubalif -> ... -> output, every
// time in seconds (time_unit seconds per model time unit), what NIR has no
// field for in metadata. Atomic: a temporary file, then a rename. Throws
// InputError naming the path or the bad option.
void export_nir(const Model& model, const std::string& path, double time_unit = kDefaultNirTimeUnit);

// What a NIR file not written by spiketime may lack; each applies only when
// the graph's metadata has no value of its own, except time_unit, which
// overrides it.
struct NirImportOptions {
  std::optional<double> time_unit;  // seconds per model time unit
  std::optional<double> t_end;      // the simulation window, in model time units
  std::optional<double> t_in_max;   // the latency code's last input time, in model time units
};

// Reads a graph of that shape (Linear, or Affine with a zero bias, followed
// by CubaLIF). Anything else is one InputError naming the node and the field.
Model import_nir(const std::string& path, const NirImportOptions& options = {});

// The double x nearest seconds / time_unit for which x * time_unit rounds to
// `seconds` exactly, preferring the one with the shortest decimal form when
// several do (so 0.0157 s at 1 ms is 15.7, not 15.699999999999998). A model's
// times survive export and import bit for bit whenever they are the shortest
// decimal of their class, which every value typed into a config is.
double nir_seconds_to_units(double seconds, double time_unit);

}  // namespace spiketime
