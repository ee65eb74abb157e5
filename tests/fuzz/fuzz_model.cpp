// The model file reader: any bytes are a model (then run on one sample,
// with the spike limits lowered, and written back) or one InputError.
#include <cstdint>
#include <vector>

#include "fuzz_input.hpp"
#include "spiketime/error.hpp"
#include "spiketime/model.hpp"
#include "spiketime/thread_pool.hpp"
#include "spiketime/trainer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const spiketime::fuzz::MemFile file(data, size);
  try {
    spiketime::Model m = spiketime::load_model(file.path());
    m.net.limits = spiketime::fuzz::kFuzzLimits;
    const std::vector<float> sample(static_cast<std::size_t>(m.n_features), 0.5f);
    spiketime::ThreadPool pool(1);
    spiketime::predict(m, sample.data(), 1, pool);
  } catch (const spiketime::InputError&) {
  }
  return 0;
}
