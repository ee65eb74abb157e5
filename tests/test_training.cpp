// Training end to end through the command line: the Yin-Yang defaults, exact
// resume, and the errors a user can make.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

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

Result cli(const std::string& args, const fs::path& dir, const std::string& env = "") {
  return spiketime::testing::run_cli(args, dir, env);
}

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

// Trains with `settings` straight through and in two parts, and expects the
// same checkpoint, model and metrics (float32 moments go through the
// checkpoint as doubles; augmentation draws per epoch and sample).
void expect_resume_bit_identical(const std::string& name, const std::string& settings) {
  const fs::path dir = scratch("resume-" + name);
  const std::string common = " --epochs 4 --set hidden=24 --set threads=2 " + settings;
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

const std::string kYinYang = "--dataset yinyang --set train_limit=1500";
TEST(Training, AResumedRunIsBitIdenticalToAnUninterruptedOne) {
  expect_resume_bit_identical("float64", kYinYang + " --set precision=float64");
}
TEST(Training, AResumedRunInSinglePrecisionIsBitIdenticalToo) {
  expect_resume_bit_identical("float32", kYinYang + " --set precision=float32");
}
TEST(Training, AResumedRunWithAugmentationIsBitIdenticalToo) {
  const fs::path data = fs::path(SPIKETIME_SOURCE_DIR) / "data";
  if (!fs::exists(data / "mnist/train-images-idx3-ubyte")) {
    GTEST_SKIP() << "no MNIST in " << data << ": run scripts/fetch-data.sh";
  }
  expect_resume_bit_identical("augmented", "--dataset mnist --set data_dir=" + data.string() +
                                               " --set train_limit=600 --set input_shift=2 --set input_flip=0.5");
}

// The last line of a run's report with its directory taken out.
std::string report_line(const std::string& out, const fs::path& run) {
  std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  const auto at = last.find(run.string());
  return at == std::string::npos ? last : last.erase(at, run.string().size());
}

std::string metrics_without_timings(const fs::path& path) {
  std::istringstream in(slurp(path));
  std::string line, out;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    j.erase("seconds");
    j.erase("samples_per_second");
    out += j.dump() + "\n";
  }
  return out;
}

// kill -9 at random moments (a fixed seed), up to three times in each of 8 runs, each
// followed by --resume (or a fresh start when the kill came before the run
// directory held anything to resume): every run ends with the files and the
// report of an uninterrupted one.
TEST(Training, RunsKilledAtRandomMomentsResumeToTheUninterruptedResult) {
  const fs::path dir = scratch("kills");
  const std::string common =
      " --dataset yinyang --epochs 6 --set hidden=24 --set train_limit=5000 --set threads=2 --out ";
  const auto started = std::chrono::steady_clock::now();
  const Result straight = cli("train" + common + (dir / "straight").string(), dir);
  ASSERT_EQ(straight.status, 0) << straight.err;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string cli_path = SPIKETIME_CLI_PATH;
  std::mt19937 rng(20261130);
  std::uniform_real_distribution<double> moment(0.0, 1.1 * seconds);
  int kills = 0;
  for (int trial = 0; trial < 8; ++trial) {
    const fs::path run = dir / ("run" + std::to_string(trial));
    const auto killed_at = [&](const std::string& args) {
      char delay[32];
      std::snprintf(delay, sizeof delay, "%.4f", moment(rng));
      const std::string cmd = "timeout -s KILL " + std::string(delay) + " " + cli_path + " " + args + " > " +
                              (dir / "out").string() + " 2>&1";
      const int raw = std::system(cmd.c_str());
      kills += WIFEXITED(raw) && WEXITSTATUS(raw) == 137;
    };
    killed_at("train" + common + run.string());
    for (int again = 0; again < 2; ++again) {
      killed_at(fs::exists(run / "config.json") ? "train --resume " + run.string() : "train" + common + run.string());
    }
    const Result last =
        fs::exists(run / "config.json") ? cli("train --resume " + run.string(), dir) : cli("train" + common + run.string(), dir);
    ASSERT_EQ(last.status, 0) << "trial " << trial << ": " << last.err;
    EXPECT_EQ(slurp(run / "model.bin"), slurp(dir / "straight/model.bin")) << "trial " << trial;
    EXPECT_EQ(slurp(run / "checkpoint.bin"), slurp(dir / "straight/checkpoint.bin")) << "trial " << trial;
    EXPECT_EQ(metrics_without_timings(run / "metrics.jsonl"), metrics_without_timings(dir / "straight/metrics.jsonl"))
        << "trial " << trial;
    EXPECT_EQ(report_line(last.out, run), report_line(straight.out, dir / "straight")) << "trial " << trial;
  }
  EXPECT_GE(kills, 4) << "enough kills must land while the run is alive (of 24 tries)";
  // And between the writes of an epoch, where a random kill rarely lands
  // (SPIKETIME_KILL_AFTER ends the process right after the named write).
  for (const char* write : {"metrics", "checkpoint", "model"}) {
    for (int epoch = 1; epoch <= 6; ++epoch) {
      const std::string at = std::string(write) + ":" + std::to_string(epoch);
      const fs::path run = dir / ("after_" + std::string(write) + std::to_string(epoch));
      const Result killed = cli("train" + common + run.string(), dir, "SPIKETIME_KILL_AFTER=" + at);
      EXPECT_EQ(killed.status, 137) << at;
      const Result last = cli("train --resume " + run.string(), dir);
      ASSERT_EQ(last.status, 0) << at << ": " << last.err;
      EXPECT_EQ(slurp(run / "model.bin"), slurp(dir / "straight/model.bin")) << at;
      EXPECT_EQ(slurp(run / "checkpoint.bin"), slurp(dir / "straight/checkpoint.bin")) << at;
      EXPECT_EQ(metrics_without_timings(run / "metrics.jsonl"), metrics_without_timings(dir / "straight/metrics.jsonl"))
          << at;
      EXPECT_EQ(report_line(last.out, run), report_line(straight.out, dir / "straight")) << at;
    }
  }
  // Killed after epoch 4's metrics line, then resumed to 3 epochs in all
  // (the reproducer of the issue): 3 metrics lines, those of the straight
  // run, and a model.bin of the best epoch it reports.
  const fs::path cut = dir / "cut";
  EXPECT_EQ(cli("train" + common + cut.string(), dir, "SPIKETIME_KILL_AFTER=metrics:4").status, 137);
  const Result three = cli("train --resume " + cut.string() + " --epochs 3", dir);
  ASSERT_EQ(three.status, 0) << three.err;
  const std::string all = metrics_without_timings(dir / "straight/metrics.jsonl");
  std::size_t end = 0;
  for (int k = 0; k < 3; ++k) end = all.find('\n', end) + 1;
  const std::string first_three = all.substr(0, end);
  EXPECT_EQ(metrics_without_timings(cut / "metrics.jsonl"), first_three);
  const auto best = three.out.find("best epoch ");
  ASSERT_NE(best, std::string::npos) << three.out;
  const int best_epoch = std::stoi(three.out.substr(best + 11));
  EXPECT_LE(best_epoch, 3);
  const Result eval = cli("eval --model " + (cut / "model.bin").string() + " --dataset yinyang --json", dir);
  ASSERT_EQ(eval.status, 0) << eval.err;
  EXPECT_NE(slurp(cut / "model.bin").find("\"epoch\":" + std::to_string(best_epoch) + "}"), std::string::npos);
  fs::remove_all(dir);
}

// One run per directory: a second one on a directory in use is refused
// naming the holder; files of a finished run are not overwritten without
// --force; resume never goes below the epochs done.
TEST(Training, OneRunPerDirectory) {
  const fs::path dir = scratch("one_run");
  const std::string data = " --dataset yinyang --set hidden=24 --set train_limit=1500";
  const std::string common = data + " --epochs 2 --out ";
  const std::string cli_path = SPIKETIME_CLI_PATH;
  // A long run in the background holds the directory: 1,000 epochs, killed
  // below. (--epochs overrides --set epochs: with both, this run took two
  // epochs and, on a 2-core Zen 5 VM, ended before the second command
  // started.)
  ASSERT_EQ(std::system(("(" + cli_path + " train" + data + " --epochs 1000 --out " + (dir / "busy").string() + " > " +
                         (dir / "busy.log").string() + " 2>&1 & echo $! > " + (dir / "pid").string() + ")").c_str()),
            0);
  const std::string pid = [&] {
    for (int k = 0; k < 500 && !fs::exists(dir / "busy/config.json"); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string p = slurp(dir / "pid");
    return p.substr(0, p.find('\n'));
  }();
  ASSERT_TRUE(fs::exists(dir / "busy/config.json"));
  const Result second = cli("train --resume " + (dir / "busy").string(), dir);
  const Result forced = cli("train" + common + (dir / "busy").string() + " --force", dir);
  std::system(("kill -9 " + pid).c_str());
  for (const Result* r : {&second, &forced}) {
    EXPECT_EQ(r->status, 2);
    EXPECT_NE(r->err.find("in use by another run (pid " + pid + " on "), std::string::npos) << r->err;
  }
  ASSERT_EQ(cli("train" + common + (dir / "done").string(), dir).status, 0);
  const std::string model = slurp(dir / "done/model.bin");
  Result again = cli("train" + common + (dir / "done").string() + " --set seed=2", dir);
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("holds another run"), std::string::npos) << again.err;
  EXPECT_EQ(slurp(dir / "done/model.bin"), model);
  fs::remove(dir / "done/checkpoint.bin");  // a directory with a model but no checkpoint is still another run's
  again = cli("train" + common + (dir / "done").string() + " --set seed=2", dir);
  EXPECT_EQ(again.status, 2);
  EXPECT_EQ(slurp(dir / "done/model.bin"), model);
  again = cli("train" + common + (dir / "done").string() + " --set seed=2 --force", dir);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(slurp(dir / "done/model.bin"), model);
  again = cli("train --resume " + (dir / "done").string() + " --epochs 1", dir);
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("has already done 2"), std::string::npos) << again.err;
  for (const auto& entry : fs::directory_iterator(dir / "done")) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
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
      {"train --dataset yinyang --set validation_size=500 --out " + (dir / "r").string(), "'validation_size': yinyang has fixed splits"},
      {"train --dataset yinyang --set hidden=" + std::string(80, '[') + std::string(80, ']') + " --out " +
           (dir / "r").string(), "nested deeper than 64"},
      {"eval --model " + (dir / "model.bin").string() + " --dataset yinyang --threads 100000", "--threads"},
      // Numeric flags say what they must be (CLI11's own check printed a
      // range up to a 309-digit number).
      {"train --dataset yinyang --epochs 0 --out " + (dir / "r").string(), "--epochs: must be a whole number from 1"},
      {"train --dataset yinyang --stop-after 1.5 --out " + (dir / "r").string(), "--stop-after: must be a whole number"},
      {"export-nir --model " + (dir / "model.bin").string() + " --out " + (dir / "r.nir").string() + " --time-unit 0",
       "--time-unit: must be a positive number, got '0'"},
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
