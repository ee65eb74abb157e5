// Model files and training configs: round trips and every kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "io/container.hpp"
#include "io/model_file.hpp"
#include "spiketime/config.hpp"
#include "spiketime/dataset.hpp"
#include "train/checkpoint.hpp"
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
  EXPECT_EQ(r.net.layers[0].precision(), Precision::Float64);
  // A float32 model says so, and loads in float32 with its float64 weights.
  Model m32 = m;
  m32.net.set_precision(Precision::Float32);
  save_model(m32, path);
  const Model r32 = load_model(path);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(r32.net.layers[l].precision(), Precision::Float32);
    EXPECT_EQ(r32.net.layers[l].weights, m.net.layers[l].weights);
    EXPECT_EQ(r32.net.layers[l].weights32, m32.net.layers[l].weights32);
  }
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
  EXPECT_NE(message_of([&] { load_model(dir.string()); }).find("is a directory"), std::string::npos);
  EXPECT_NE(message_of([&] { load_model("/dev/zero"); }).find("is not a regular file"), std::string::npos);
}

TEST_F(ModelFile, HandMadeHeadersWithAValidChecksumAreCheckedFieldByField) {
  // Headers written through the container (so the CRC is right) with one
  // field made wrong: each is one InputError naming the field, before any
  // memory is taken for the layers.
  const Model m = small_model();
  std::vector<std::vector<double>> packed;
  for (const Layer& l : m.net.layers) packed.push_back(l.packed(l.weights));
  const struct {
    const char* pointer;
    nlohmann::json value;
    const char* expected;
  } cases[] = {
      {"/layers/0/neurons", -7, "'layers[0].neurons' must be from 1"},
      {"/layers/0/neurons", 7.5, "'layers[0].neurons' must be an integer"},
      {"/layers/1/inputs", 100000000000LL, "'layers[1].inputs' must be from 1"},
      {"/layers/0/tau_m", 0.0, "'layers[0].tau_m' must be positive"},
      {"/layers/0/theta", "high", "'layers[0].theta' must be a number"},
      {"/layers/1/max_spikes", -1, "'layers[1].max_spikes' must be from 0"},
      {"/features", 1LL << 40, "'features' must be from 1"},
      {"/readout/tau_out", -1.0, "'readout.tau_out' must be positive"},
      {"/encoding/t_in_max", -5.0, "'encoding.t_in_max' must be positive"},
      {"/t_end", "late", "'t_end' must be a number"},
      {"/provenance", 3, "'provenance' must be an object"},
      {"/layers", nlohmann::json::object(), "'layers' must be an array"},
      {"/precision", "float16", "'precision' unknown precision 'float16'"},
      {"/readout/kind", "last_spike", "'readout.kind' unknown readout 'last_spike' (first_spike or all_spikes)"},
      {"/readout/kind", 3, "'readout.kind' must be a string"},
      {"/precision", 32, "'precision' must be a string"},
  };
  for (const auto& c : cases) {
    nlohmann::json header = io::model_header(m);
    header[nlohmann::json::json_pointer(c.pointer)] = c.value;
    io::write_container(path, io::kModelMagic, kModelFormatVersion, header,
                        {&packed[0], &packed[1]});
    const std::string msg = message_of([&] { load_model(path); });
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.pointer << ": " << msg;
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find(path, 1), std::string::npos) << "the path once: " << msg;
  }
  std::vector<std::vector<double>> infinite = packed;
  infinite[1][2] = std::numeric_limits<double>::infinity();
  io::write_container(path, io::kModelMagic, kModelFormatVersion, io::model_header(m), {&infinite[0], &infinite[1]});
  EXPECT_NE(message_of([&] { load_model(path); }).find("not finite"), std::string::npos);
}

TEST_F(ModelFile, HandMadeCheckpointHeadersAreCheckedFieldByField) {
  // A checkpoint of a real trainer, its header then made wrong one field at
  // a time through the container (the CRC stays right).
  TrainConfig config = default_config("yinyang");
  config.hidden = {7};
  config.epochs = 3;
  ThreadPool pool(1);
  const Dataset data = make_yinyang(40, 1);
  Trainer trainer(config, build_model(config, data), pool);
  write_checkpoint(path, trainer, config, {2, 1, 0.5}, {});
  const io::Container good = io::read_container(path, kCheckpointMagic, kCheckpointVersion);
  EXPECT_EQ(read_checkpoint(path).progress.epochs_done, 2);
  const struct {
    const char* key;
    nlohmann::json value;
    const char* expected;
  } cases[] = {
      {"epochs_done", -5, "checkpoint field 'epochs_done' must be from 0 to 3"},
      {"epochs_done", 4, "checkpoint field 'epochs_done' must be from 0 to 3"},
      {"epochs_done", 1.5, "checkpoint field 'epochs_done' must be an integer"},
      {"best_epoch", 3, "checkpoint field 'best_epoch' must be from 0 to 2"},
      {"steps", -1, "checkpoint field 'steps' must be from 0"},
      {"steps", nullptr, "checkpoint field 'steps' must be an integer"},
  };
  for (const auto& c : cases) {
    nlohmann::json header = good.header;
    header[c.key] = c.value;
    std::vector<const std::vector<double>*> arrays;
    for (const auto& a : good.arrays) arrays.push_back(&a);
    io::write_container(path, kCheckpointMagic, kCheckpointVersion, header, arrays);
    const std::string msg = message_of([&] { read_checkpoint(path); });
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.key << ": " << msg;
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  }
  nlohmann::json header = good.header;
  header.erase("steps");
  std::vector<const std::vector<double>*> arrays;
  for (const auto& a : good.arrays) arrays.push_back(&a);
  io::write_container(path, kCheckpointMagic, kCheckpointVersion, header, arrays);
  EXPECT_NE(message_of([&] { read_checkpoint(path); }).find("checkpoint field 'steps' is missing"), std::string::npos);
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
  EXPECT_EQ(c.readout, Readout::AllSpikes);
  validate_config(c);
  apply_setting(c, "tau_s=[1, 2]");
  EXPECT_NE(message_of([&] { validate_config(c); }).find("'tau_s'"), std::string::npos);
  c = default_config("mnist");
  // An unknown name is refused where it is read, as for every enum key.
  EXPECT_EQ(message_of([&] { apply_setting(c, "readout=last_spike"); }),
            "--set: config key 'readout': unknown readout 'last_spike' (first_spike or all_spikes)");
  EXPECT_EQ(c.readout, Readout::FirstSpike);
  c = default_config("mnist");
  apply_setting(c, "threads=100000");
  EXPECT_NE(message_of([&] { validate_config(c); }).find("'threads'"), std::string::npos);
  c = default_config("mnist");
  apply_setting(c, "hidden_dropout=0.2");
  EXPECT_EQ(c.hidden_dropout, 0.2);
  validate_config(c);
  apply_setting(c, "hidden_dropout=1");
  EXPECT_EQ(message_of([&] { validate_config(c); }), "config key 'hidden_dropout': must be in [0, 1)");
  // Image augmentation: image data sets only.
  c = default_config("mnist");
  apply_setting(c, "input_shift=2");
  apply_setting(c, "input_flip=0.5");
  validate_config(c);
  apply_setting(c, "input_flip=1.5");
  EXPECT_EQ(message_of([&] { validate_config(c); }), "config key 'input_flip': must be a probability, in [0, 1]");
  apply_setting(c, "input_flip=0");
  apply_setting(c, "input_shift=-1");
  EXPECT_EQ(message_of([&] { validate_config(c); }), "config key 'input_shift': must be from 0 to 1000 pixels");
  EXPECT_NE(message_of([&] { apply_setting(c, "input_shift=1.5"); }).find("input_shift"), std::string::npos);
  c = default_config("yinyang");
  apply_setting(c, "input_shift=1");
  EXPECT_EQ(message_of([&] { validate_config(c); }),
            "config key 'input_shift': moves image pixels; yinyang's features are not an image");
  // An enum: its names only.
  c = default_config("mnist");
  EXPECT_EQ(c.precision, Precision::Float64);
  apply_setting(c, "precision=float32");
  EXPECT_EQ(c.precision, Precision::Float32);
  EXPECT_EQ(config_to_json(c)["precision"], "float32");
  EXPECT_NE(message_of([&] { apply_setting(c, "precision=float16"); })
                .find("'precision': unknown precision 'float16' (float64 or float32)"),
            std::string::npos);
  EXPECT_NE(message_of([&] { apply_config(c, {{"precision", 32}}, "run.json"); }).find("'precision': expected a string"),
            std::string::npos);
  apply_setting(c, "optimizer=sgd");
  apply_setting(c, "schedule=step");
  EXPECT_EQ(c.optimizer, Optimizer::Sgd);
  EXPECT_EQ(c.schedule, Schedule::Step);
  EXPECT_EQ(config_to_json(c)["optimizer"], "sgd");
  EXPECT_EQ(config_to_json(c)["schedule"], "step");
  EXPECT_NE(message_of([&] { apply_setting(c, "optimizer=rmsprop"); })
                .find("'optimizer': unknown optimizer 'rmsprop' (adam or sgd)"),
            std::string::npos);
  EXPECT_NE(message_of([&] { apply_setting(c, "schedule=linear"); })
                .find("'schedule': unknown schedule 'linear' (constant, step or cosine)"),
            std::string::npos);
  EXPECT_EQ(c.silent_output, SilentOutput::Peak);  // the default
  apply_setting(c, "silent_output=push");
  EXPECT_EQ(c.silent_output, SilentOutput::Push);
  EXPECT_EQ(config_to_json(c)["silent_output"], "push");
  EXPECT_NE(message_of([&] { apply_setting(c, "silent_output=surrogate"); })
                .find("'silent_output': unknown silent_output 'surrogate' (push or peak)"),
            std::string::npos);
}

TEST(Config, ResolvedConfigReadsBackToItself) {
  TrainConfig c = default_config("yinyang");
  apply_setting(c, "lr=0.01");
  apply_setting(c, "precision=float32");
  TrainConfig d = default_config("mnist");
  apply_config(d, config_to_json(c), "resolved");
  EXPECT_EQ(config_to_json(d), config_to_json(c));
}

}  // namespace
}  // namespace spiketime
