// Training end to end through the command line: the Yin-Yang defaults, exact
// resume, and the errors a user can make.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.hpp"

namespace {

namespace fs = std::filesystem;

using Result = spiketime::testing::CliResult;
using spiketime::testing::slurp;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("spiketime_training_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Result cli(const std::string& args, const fs::path& dir) { return spiketime::testing::run_cli(args, dir); }

TEST(Training, YinYangFromTheDefaultsReaches95Percent) {
  const fs::path dir = scratch("yinyang");
  const Result train = cli("train --dataset yinyang --out " + (dir / "run").string(), dir);
  ASSERT_EQ(train.status, 0) << train.err;
  const Result eval = cli("eval --model " + (dir / "run/model.bin").string() + " --dataset yinyang --json", dir);
  ASSERT_EQ(eval.status, 0) << eval.err;
  const auto result = nlohmann::json::parse(eval.out);
  std::cout << "[ yinyang ] test accuracy " << result["accuracy"] << ", spikes per neuron " << result["spikes_per_neuron"]
            << "\n";
  EXPECT_GE(result["accuracy"].get<double>(), 0.95);
  EXPECT_EQ(result["n"], 1000);
  EXPECT_EQ(result["spikes_per_neuron"].size(), 2u);
  // Spike-count histograms: every (sample, neuron) pair once, and their mean is spikes per neuron.
  const auto& histograms = result["spike_count_histogram"];
  ASSERT_EQ(histograms.size(), 2u);
  const int sizes[] = {200, 3};
  for (std::size_t l = 0; l < 2; ++l) {
    double pairs = 0.0, spikes = 0.0;
    for (std::size_t k = 0; k < histograms[l].size(); ++k) {
      pairs += histograms[l][k].get<double>();
      spikes += static_cast<double>(k) * histograms[l][k].get<double>();
    }
    EXPECT_EQ(pairs, 1000.0 * sizes[l]) << "layer " << l;
    EXPECT_NEAR(spikes / pairs, result["spikes_per_neuron"][l].get<double>(), 1e-12) << "layer " << l;
  }

  // The run directory: resolved config, one metrics line per epoch, a checkpoint.
  const auto config = nlohmann::json::parse(slurp(dir / "run/config.json"));
  EXPECT_EQ(config["dataset"], "yinyang");
  std::istringstream metrics(slurp(dir / "run/metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(metrics, line); ++lines) {
    const auto m = nlohmann::json::parse(line);
    for (const char* key : {"loss", "train_accuracy", "validation_accuracy", "test_accuracy", "spikes_per_neuron",
                            "silent_fraction", "seconds", "ties", "all_silent"}) {
      EXPECT_TRUE(m.contains(key)) << key;
    }
  }
  EXPECT_EQ(lines, config["epochs"].get<int>());
  EXPECT_TRUE(fs::exists(dir / "run/checkpoint.bin"));
  fs::remove_all(dir);
}

TEST(Training, AResumedRunIsBitIdenticalToAnUninterruptedOne) {
  const fs::path dir = scratch("resume");
  const std::string common = " --dataset yinyang --epochs 4 --set hidden=24 --set train_limit=1500 --set threads=2";
  ASSERT_EQ(cli("train" + common + " --out " + (dir / "straight").string(), dir).status, 0);
  const Result first = cli("train" + common + " --stop-after 2 --out " + (dir / "resumed").string(), dir);
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.out.find("--resume"), std::string::npos);
  const Result second = cli("train --resume " + (dir / "resumed").string(), dir);
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(slurp(dir / "straight/checkpoint.bin"), slurp(dir / "resumed/checkpoint.bin"));
  EXPECT_EQ(slurp(dir / "straight/model.bin"), slurp(dir / "resumed/model.bin"));
  // Same metrics, but for the timings.
  std::istringstream a(slurp(dir / "straight/metrics.jsonl")), b(slurp(dir / "resumed/metrics.jsonl"));
  std::string la, lb;
  int lines = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    for (auto* j : {&ja, &jb}) {
      j->erase("seconds");
      j->erase("samples_per_second");
    }
    EXPECT_EQ(ja, jb);
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  fs::remove_all(dir);
}

TEST(Training, BadInputGivesOneLineAndStatus2) {
  const fs::path dir = scratch("errors");
  std::ofstream(dir / "bad.json") << R"({"lr": 0.01, "hiden": [10]})";
  std::ofstream(dir / "broken.json") << R"({"lr": )";
  std::ofstream(dir / "model.bin") << "garbage";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --dataset yinyang --config " + (dir / "bad.json").string() + " --out " + (dir / "r").string(), "'hiden': unknown key"},
      {"train --dataset yinyang --config " + (dir / "broken.json").string() + " --out " + (dir / "r").string(), "broken.json"},
      {"train --dataset yinyang --set lr=-1 --out " + (dir / "r").string(), "'lr'"},
      {"train --dataset yinyang --set epochs=two --out " + (dir / "r").string(), "'epochs'"},
      {"train --dataset yinyang", "--out"},
      {"train --dataset imagenet --out " + (dir / "r").string(), "imagenet"},
      {"train --resume " + (dir / "nothing").string(), "nothing to resume"},
      {"eval --model " + (dir / "model.bin").string() + " --dataset yinyang", "model.bin"},
      {"eval --model " + (dir / "absent.bin").string() + " --dataset yinyang", "absent.bin"},
      // Ranges checked before any memory is taken (docs/LIMITS.md).
      {"train --dataset yinyang --set lr=1e308 --out " + (dir / "r").string(), "'lr'"},
      {"train --dataset yinyang --set tau_m=1e-300 --out " + (dir / "r").string(), "'tau_m'"},
      {"train --dataset yinyang --set init_mean_drive=1e300 --out " + (dir / "r").string(), "'init_mean_drive'"},
      {"train --dataset yinyang --set hidden=[100000000] --out " + (dir / "r").string(), "'hidden'"},
      {"train --dataset yinyang --set hidden=[40000,40000] --out " + (dir / "r").string(), "268435456 weights"},
      {"train --dataset yinyang --set threads=100000 --out " + (dir / "r").string(), "'threads'"},
      {"train --dataset yinyang --set spike_limit_per_neuron=0 --out " + (dir / "r").string(), "'spike_limit_per_neuron'"},
      {"train --dataset yinyang --set hidden=" + std::string(80, '[') + std::string(80, ']') + " --out " +
           (dir / "r").string(), "nested deeper than 64"},
      {"eval --model " + (dir / "model.bin").string() + " --dataset yinyang --threads 100000", "--threads"},
  };
  for (const auto& [args, mention] : cases) {
    const Result r = cli(args, dir);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_NE(r.err.find(mention), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "r")) << "a failed start leaves no run directory behind";
  fs::remove_all(dir);
}

// A network driven past the limits stops the run with one line naming the
// epoch, the sample, the layer and the neuron: never an abort.
TEST(Training, PassingASpikeLimitStopsTheRunWithOneLine) {
  const fs::path dir = scratch("limit");
  const Result r = cli("train --dataset yinyang --set epochs=1 --set threads=2 --set theta=1e-300 --out " +
                           (dir / "run").string(), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const char* part : {"epoch 1, training sample ", "layer 0, neuron ", "same instant", "last finished epoch"}) {
    EXPECT_NE(r.err.find(part), std::string::npos) << part << ": " << r.err;
  }
  const Result limited = cli("train --dataset yinyang --set epochs=1 --set spike_limit_per_neuron=1 --out " +
                                 (dir / "run2").string(), dir);
  EXPECT_EQ(limited.status, 2);
  EXPECT_NE(limited.err.find("fires more than 1 times in one sample"), std::string::npos) << limited.err;
  fs::remove_all(dir);
}

}  // namespace
