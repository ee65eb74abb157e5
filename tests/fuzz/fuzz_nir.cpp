// The NIR reader (HDF5 held in memory): any bytes import as a model or give
// one InputError.
#include <cstdint>

#include "fuzz_input.hpp"
#include "spiketime/error.hpp"
#include "spiketime/nir.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const spiketime::fuzz::MemFile file(data, size);
  try {
    spiketime::import_nir(file.path(), {});
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
