// NIR export and import in a build without HDF5 (-DSPIKETIME_NIR=OFF, as the
// aarch64 cross build of the engine tests): each call says so.
#include "spiketime/error.hpp"
#include "spiketime/nir.hpp"

namespace spiketime {
namespace {

[[noreturn]] void unavailable() {
  throw InputError("this build has no NIR support: rebuild with -DSPIKETIME_NIR=ON (needs libhdf5-dev)");
}

}  // namespace

void export_nir(const Model&, const std::string&, double) { unavailable(); }
Model import_nir(const std::string&, const NirImportOptions&) { unavailable(); }
double nir_seconds_to_units(double, double) { unavailable(); }

}  // namespace spiketime
