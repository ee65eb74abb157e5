// The limits of docs/LIMITS.md at the library level: the thread pool carries
// a job's exception back to the caller, thread counts and sizes are refused
// before anything is allocated, and JSON nesting is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "spiketime/error.hpp"
#include "spiketime/json_text.hpp"
#include "spiketime/network.hpp"
#include "spiketime/run.hpp"
#include "spiketime/thread_pool.hpp"

namespace spiketime {
namespace {

TEST(ThreadPool, AJobThatThrowsIsRethrownAfterEveryThreadFinished) {
  ThreadPool pool(3);
  std::atomic<int> finished{0};
  try {
    pool.run([&](int t) {
      if (t >= 1) {
        finished.fetch_add(1);
        throw std::runtime_error("thread " + std::to_string(t));
      }
      finished.fetch_add(1);
    });
    FAIL() << "the job's exception was lost";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "thread 1") << "the lowest thread's exception";
  }
  EXPECT_EQ(finished.load(), 3);
  // And the pool serves the next job.
  std::atomic<int> ran{0};
  pool.run([&](int) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 3);
}

TEST(ThreadPool, ThreadCountsOutOfRangeAreInputErrors) {
  EXPECT_THROW(thread_count(kMaxThreads + 1), InputError);
  EXPECT_THROW(thread_count(-1), InputError);
  EXPECT_EQ(thread_count(kMaxThreads), kMaxThreads);
  EXPECT_GE(thread_count(0), 1);
}

TEST(Limits, LayerSizesAreCheckedBeforeAllocation) {
  EXPECT_NO_THROW(check_layer_size(784, 800, 0, "layer 0"));
  EXPECT_NO_THROW(check_layer_size(1 << 14, 1 << 14, 0, "layer 0")) << "exactly kMaxWeights";
  EXPECT_THROW(check_layer_size(kMaxNeurons + 1, 1, 0, "layer 0"), InputError);
  EXPECT_THROW(check_layer_size(1, kMaxNeurons + 1, 0, "layer 0"), InputError);
  EXPECT_THROW(check_layer_size(1, 1, kMaxWeights, "layer 0"), InputError);
  try {
    check_layer_size(1 << 20, 1 << 20, 0, "layers[2]");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("layers[2]: takes the network past the limit of 268435456 weights"),
              std::string::npos)
        << e.what();
  }
}

TEST(Limits, WindowsOfMoreThanTenMillionTimeConstantsAreRefused) {
  Network net;
  net.t_end = 1e7;
  net.layers.emplace_back(NeuronParams{1.0, 0.5, 1.0, 0}, 1, 1);
  EXPECT_THROW(net.validate(), std::invalid_argument) << "1e7 / 0.5 time constants";
  net.layers[0].neuron.tau_s = 1.0;
  EXPECT_NO_THROW(net.validate());
  net.limits.per_sample = 0;
  EXPECT_THROW(net.validate(), std::invalid_argument);
}

TEST(Limits, JsonNestingIsBounded) {
  const auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_NO_THROW(parse_json(nested(kMaxJsonDepth), "x"));
  try {
    parse_json(nested(70000), "config.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("config.json: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("nested deeper than 64 levels"), std::string::npos) << e.what();
  }
  try {
    parse_json(R"({"a": [1, 2, }])", "");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("a[2]: malformed JSON", 0), 0u) << e.what();
  }
}

// Found by fuzz_config: both aborted with an uncaught JSON exception.
TEST(Limits, ConfigValuesOfTheWrongKindAreInputErrors) {
  TrainConfig c = default_config("yinyang");
  EXPECT_THROW(apply_setting(c, "lr=0.0\xce"), InputError) << "not valid UTF-8";
  EXPECT_THROW(apply_setting(c, "readout=\xce\xff"), InputError);
  EXPECT_THROW(resolve_config(nlohmann::json::parse(R"({"dataset": [30, 20]})"), "config.json"), InputError);
  EXPECT_THROW(resolve_config(nlohmann::json::parse(R"({"dataset": "yinyang", "lr": "fast"})"), "config.json"),
               InputError);
}

}  // namespace
}  // namespace spiketime
