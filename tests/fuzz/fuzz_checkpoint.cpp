// The checkpoint reader: any bytes are a checkpoint whose every field and
// array checks out, or one InputError.
#include <cstdint>

#include "fuzz_input.hpp"
#include "spiketime/error.hpp"
#include "train/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const spiketime::fuzz::MemFile file(data, size);
  try {
    spiketime::read_checkpoint(file.path());
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
