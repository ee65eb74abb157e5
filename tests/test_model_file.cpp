// Model files and training configs: round trips and every kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "spiketime/config.hpp"
#include "spiketime/error.hpp"
#include "spiketime/init.hpp"
#include "spiketime/model.hpp"

namespace spiketime {
namespace {

namespace fs = std::filesystem;

Model small_model() {
  Model m;
  m.dataset = "yinyang";
  m.n_features = 4;
  m.n_classes = 3;
  m.encoding.bias_times = {0.0};
  NeuronParams p;
  p.tau_m = 8.0;
  p.tau_s = 2.0;
  p.max_spikes = 3;
  m.net.layers.emplace_back(p, 5, 7);
  m.net.layers.emplace_back(p, 7, 3);
  std::mt19937_64 rng(3);
  for (auto& l : m.net.layers) initialize_weights(l, rng, 5.0, 2.0, 2.0);
  m.provenance = {{"epoch", 4}};
  return m;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

class ModelFile : public ::testing::Test {
 protected:
  // One directory per test: ctest -j runs the tests of this fixture at once.
  fs::path dir = fs::temp_directory_path() /
                 ("spiketime_model_file_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  std::string path = (dir / "model.bin").string();
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  std::string bytes() {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void put(const std::string& b) { std::ofstream(path, std::ios::binary) << b; }
};

TEST_F(ModelFile, RoundTripIsExact) {
  const Model m = small_model();
  save_model(m, path);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const Model r = load_model(path);
  ASSERT_EQ(r.net.layers.size(), 2u);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(r.net.layers[l].weights, m.net.layers[l].weights);
    EXPECT_EQ(r.net.layers[l].neuron.tau_m, 8.0);
    EXPECT_EQ(r.net.layers[l].neuron.max_spikes, 3);
  }
  EXPECT_EQ(r.encoding.bias_times, m.encoding.bias_times);
  EXPECT_EQ(r.dataset, "yinyang");
  EXPECT_EQ(r.provenance["epoch"], 4);
}

TEST_F(ModelFile, TruncatedCorruptedOrForeignFilesAreRejected) {
  save_model(small_model(), path);
  const std::string good = bytes();
  for (std::size_t cut : {good.size() - 1, good.size() / 2, std::size_t{20}, std::size_t{3}}) {
    put(good.substr(0, cut));
    const std::string msg = message_of([&] { load_model(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << cut << ": " << msg;
  }
  std::string flipped = good;
  flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x10);
  put(flipped);
  EXPECT_NE(message_of([&] { load_model(path); }).find("checksum"), std::string::npos);
  put("not a model at all");
  EXPECT_NE(message_of([&] { load_model(path); }).find("magic"), std::string::npos);
  EXPECT_NE(message_of([&] { load_model((dir / "absent.bin").string()); }).find("cannot open"), std::string::npos);
}

TEST(Config, UnknownKeysAndWrongTypesNameTheKey) {
  TrainConfig c = default_config("mnist");
  EXPECT_NE(message_of([&] { apply_config(c, {{"learning_rate", 0.1}}, "run.json"); }).find("'learning_rate': unknown key"),
            std::string::npos);
  EXPECT_NE(message_of([&] { apply_config(c, {{"lr", "fast"}}, "run.json"); }).find("'lr': expected a number"),
            std::string::npos);
  EXPECT_NE(message_of([&] { apply_setting(c, "epochs=2.5"); }).find("'epochs': expected an integer"), std::string::npos);
  EXPECT_NE(message_of([&] { apply_setting(c, "novalue"); }).find("key=value"), std::string::npos);
  apply_setting(c, "hidden=[300, 100]");
  apply_setting(c, "tau_m=[10, 12, 14]");
  apply_setting(c, "readout=all_spikes");
  EXPECT_EQ(c.hidden, (std::vector<int>{300, 100}));
  EXPECT_EQ(per_layer(c.tau_m, 2), 14.0);
  EXPECT_EQ(c.readout, "all_spikes");
  validate_config(c);
  apply_setting(c, "tau_s=[1, 2]");
  EXPECT_NE(message_of([&] { validate_config(c); }).find("'tau_s'"), std::string::npos);
  c = default_config("mnist");
  apply_setting(c, "readout=last_spike");
  EXPECT_NE(message_of([&] { validate_config(c); }).find("readout"), std::string::npos);
}

TEST(Config, ResolvedConfigReadsBackToItself) {
  TrainConfig c = default_config("yinyang");
  apply_setting(c, "lr=0.01");
  TrainConfig d = default_config("mnist");
  apply_config(d, config_to_json(c), "resolved");
  EXPECT_EQ(config_to_json(d), config_to_json(c));
}

}  // namespace
}  // namespace spiketime
