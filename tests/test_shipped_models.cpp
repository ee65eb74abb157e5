// The models in models/ give, through `spiketime eval --json`, exactly the
// test accuracy and spike counts recorded beside them (models/<name>.json),
// which the README quotes. Needs the data: scripts/fetch-data.sh (CI runs it).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace {

namespace fs = std::filesystem;

TEST(ShippedModels, EvalReproducesTheRecordedFigures) {
  const fs::path source = SPIKETIME_SOURCE_DIR;
  const fs::path data = source / "data";
  if (!fs::exists(data / "mnist/t10k-images-idx3-ubyte")) {
    GTEST_SKIP() << "no MNIST in " << data << ": run scripts/fetch-data.sh";
  }
  const fs::path dir = fs::temp_directory_path() / "spiketime_shipped_models";
  fs::create_directories(dir);
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(source / "models")) {
    if (entry.path().extension() != ".json") continue;
    const auto record = nlohmann::json::parse(spiketime::testing::slurp(entry.path()));
    const std::string model = (source / record["model"].get<std::string>()).string();
    const std::string dataset = record["config"]["dataset"];
    const auto result = spiketime::testing::run_cli(
        "eval --model " + model + " --dataset " + dataset + " --data-dir " + data.string() + " --json", dir);
    ASSERT_EQ(result.status, 0) << result.err;
    const auto eval = nlohmann::json::parse(result.out);
    EXPECT_EQ(eval["accuracy"].get<double>(), record["test_accuracy"].get<double>()) << model;
    EXPECT_EQ(eval["spikes_per_neuron"], record["spikes_per_neuron"]) << model;
    EXPECT_EQ(eval["n"], 10000) << model;
    ++checked;
  }
  EXPECT_GE(checked, 4) << "models/ should hold the MNIST and Fashion-MNIST multi- and single-spike models";
  fs::remove_all(dir);
}

}  // namespace
