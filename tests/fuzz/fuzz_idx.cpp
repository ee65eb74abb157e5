// The IDX reader (MNIST, Fashion-MNIST): the first byte splits the input
// into an image file and a label file (of 2x2 images, so that small inputs
// reach the pixels); any pair loads or gives one InputError.
#include <cstdint>

#include "fuzz_input.hpp"
#include "spiketime/dataset.hpp"
#include "spiketime/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t split = data[0] < size ? data[0] : size - 1;
  const spiketime::fuzz::MemFile images(data + 1, split), labels(data + 1 + split, size - 1 - split);
  try {
    spiketime::load_idx(images.path(), labels.path(), 10, 2, 2);
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
