// The NIR reader (HDF5 held in memory): any bytes import as a model or give
// one InputError. It calls the reader in this process, not import_nir, which
// runs it in a child process that would hide a fault of ours from the
// fuzzer; scripts/fuzz.sh sets aside the faults of libhdf5 itself.
#include <cstdint>
#include <string>

#include "io/nir_read.hpp"
#include "spiketime/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    spiketime::io::read_nir(bytes, "fuzz.nir", {});
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
