// `spiketime simulate` end to end: the JSON contract and every error case.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_runner.hpp"
#include "spiketime/simulate.hpp"

namespace spiketime {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;

CliResult run_simulate(const std::string& case_text, const std::string& flags = "") {
  const fs::path dir = fs::temp_directory_path() / ("spiketime_cli_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(dir);
  std::ofstream(dir / "case.json") << case_text;
  CliResult r = testing::run_cli("simulate " + (dir / "case.json").string() + " " + flags, dir);
  fs::remove_all(dir);
  return r;
}

const char* kValid = R"({
  "t_end": 60.0,
  "layers": [
    {"tau_m": 10.0, "tau_s": 5.0, "theta": 1.0, "max_spikes": 0,
     "weights": [[3.5, 2.2, 4.1], [2.9, 1.0, 2.3]]},
    {"tau_m": 10.0, "tau_s": 5.0, "theta": 1.0, "weights": [[3.2, 2.8]]}
  ],
  "input_spikes": [[1.0, 7.5], [], [3.25]]
})";

TEST(SimulateCli, OutputFollowsTheContractAndRoundTrips) {
  const CliResult r = run_simulate(kValid, "--grad");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  const auto out = nlohmann::json::parse(r.out);
  // The engine itself on the same case: the printed numbers read back to the same doubles.
  const SimulateCase c = parse_simulate_case(kValid);
  NetworkWorkspace ws;
  network_forward(c.net, merge_spike_lists(c.input_spikes), ws);
  ASSERT_EQ(out["layers"].size(), 2u);
  for (std::size_t l = 0; l < 2; ++l) {
    const auto lists = split_spike_train(ws.traces[l].spikes, c.net.layers[l].n_out);
    EXPECT_EQ(out["layers"][l]["spikes"].get<std::vector<std::vector<double>>>(), lists);
  }
  EXPECT_GT(out["layers"][1]["spikes"][0].size(), 2u);
  EXPECT_EQ(out["grad"]["objective"], "sum_last_layer_spike_times");
  EXPECT_EQ(out["grad"]["weights"][0].size(), 2u);
  EXPECT_EQ(out["grad"]["weights"][0][0].size(), 3u);
  EXPECT_EQ(out["grad"]["weights"][1][0].size(), 2u);
  EXPECT_EQ(out["grad"]["input_spikes"][0].size(), 2u);
  EXPECT_EQ(out["grad"]["input_spikes"][1].size(), 0u);
  EXPECT_EQ(out["grad"]["input_spikes"][2].size(), 1u);
  // Without --grad there is no grad member.
  EXPECT_FALSE(nlohmann::json::parse(run_simulate(kValid).out).contains("grad"));
}

TEST(SimulateCli, GradientMatchesFiniteDifferencesThroughTheCli) {
  const auto grad = nlohmann::json::parse(run_simulate(kValid, "--grad").out)["grad"];
  auto sum_times = [](const std::string& text) {
    double s = 0.0;
    const auto out = nlohmann::json::parse(text);
    for (const auto& list : out["layers"][1]["spikes"])
      for (double t : list) s += t;
    return s;
  };
  auto doc = nlohmann::json::parse(kValid);
  const double eps = 1e-6, w = doc["layers"][0]["weights"][1][2];
  doc["layers"][0]["weights"][1][2] = w + eps;
  const double plus = sum_times(run_simulate(doc.dump()).out);
  doc["layers"][0]["weights"][1][2] = w - eps;
  const double minus = sum_times(run_simulate(doc.dump()).out);
  const double analytic = grad["weights"][0][1][2];
  EXPECT_NEAR((plus - minus) / (2 * eps), analytic, 1e-5 * std::abs(analytic));
}

struct BadCase {
  const char* name;
  std::string text;
  const char* must_mention;
};

std::string with(const std::string& from, const std::string& to) {
  std::string s = kValid;
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(SimulateCli, EveryErrorCaseGivesExit2AndOneLine) {
  const std::vector<BadCase> cases = {
      {"malformed", "{\"t_end\": 60.0, ", "malformed JSON"},
      {"not an object", "[1, 2]", "object"},
      {"missing t_end", with("\"t_end\": 60.0,", ""), "t_end"},
      {"missing layers", R"({"t_end": 1, "input_spikes": [[1]]})", "layers"},
      {"missing input_spikes", R"({"t_end": 1, "layers": []})", "input_spikes"},
      {"missing tau_m", with("\"tau_m\": 10.0, \"tau_s\": 5.0, \"theta\": 1.0, \"max_spikes\": 0,", "\"tau_s\": 5.0, \"theta\": 1.0,"), "layers[0].tau_m"},
      {"missing weights", with(", \"weights\": [[3.2, 2.8]]", ""), "layers[1].weights"},
      {"row too short", with("[2.9, 1.0, 2.3]", "[2.9, 1.0]"), "layers[0].weights[1]"},
      {"second layer width", with("[[3.2, 2.8]]", "[[3.2, 2.8, 1.0]]"), "layers[1].weights[0]"},
      {"weights not array", with("[[3.2, 2.8]]", "3.2"), "layers[1].weights"},
      {"empty layer", with("[[3.2, 2.8]]", "[]"), "layers[1].weights"},
      {"negative tau_m", with("\"tau_m\": 10.0", "\"tau_m\": -10.0"), "layers[0].tau_m"},
      {"zero tau_s", with("\"tau_s\": 5.0", "\"tau_s\": 0"), "layers[0].tau_s"},
      {"zero theta", with("\"theta\": 1.0", "\"theta\": 0.0"), "layers[0].theta"},
      {"negative theta", with("\"theta\": 1.0", "\"theta\": -1.0"), "layers[0].theta"},
      {"string threshold", with("\"theta\": 1.0", "\"theta\": \"high\""), "layers[0].theta"},
      {"zero t_end", with("\"t_end\": 60.0", "\"t_end\": 0"), "t_end"},
      {"huge number", with("3.5", "1e999"), "1e999"},
      {"infinite t_end", with("\"t_end\": 60.0", "\"t_end\": -1e400"), "t_end"},
      {"unsorted inputs", with("[1.0, 7.5]", "[7.5, 1.0]"), "input_spikes[0]"},
      {"input not a number", with("[3.25]", "[null]"), "input_spikes[2][0]"},
      {"negative max_spikes", with("\"max_spikes\": 0", "\"max_spikes\": -1"), "max_spikes"},
      {"fractional max_spikes", with("\"max_spikes\": 0", "\"max_spikes\": 1.5"), "max_spikes"},
      {"empty file", "", "malformed JSON"},
      // Bounded work (docs/LIMITS.md).
      {"window too long", with("\"tau_m\": 10.0", "\"tau_m\": 1e-300"), "spans"},
      {"subnormal tau_s", with("\"tau_s\": 5.0", "\"tau_s\": 1e-310"), "spans"},
      {"fires at the same instant", with("\"theta\": 1.0, \"max_spikes\": 0", "\"theta\": 1e-300, \"max_spikes\": 0"),
       "same instant"},
      {"spikes per neuron", with("[[3.2, 2.8]]", "[[1e7, 2.8]]"), "layer 1, neuron 0: fires more than 100000 times"},
      {"unknown limit", with("\"t_end\": 60.0,", "\"t_end\": 60.0, \"spike_limits\": {\"per_spike\": 3},"),
       "spike_limits.per_spike"},
      {"zero limit", with("\"t_end\": 60.0,", "\"t_end\": 60.0, \"spike_limits\": {\"per_neuron\": 0},"),
       "spike_limits.per_neuron"},
      {"nested too deep", "{\"t_end\": " + std::string(100, '[') + std::string(100, ']') + "}", "nested deeper than 64"},
      // The rows' shape is checked before the layer takes memory: 200,000
      // inputs and 1-column rows (it once asked for n_in x rows doubles first).
      {"declared inputs against rows",
       R"({"t_end": 10, "layers": [{"tau_m": 10, "tau_s": 5, "theta": 1, "weights": [[0], [0]]}], "input_spikes": [)" +
           [] {
             std::string s = "[]";
             for (int j = 1; j < 200000; ++j) s += ",[]";
             return s;
           }() + "]}",
       "has 1 columns, expected 200000"},
  };
  for (const BadCase& c : cases) {
    const CliResult r = run_simulate(c.text, "--grad");
    EXPECT_EQ(r.status, 2) << c.name;
    EXPECT_TRUE(r.out.empty()) << c.name << ": " << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.must_mention), std::string::npos) << c.name << ": " << r.err;
  }
}

// The limits cut exactly where they say: a limit equal to the most spikes of
// a neuron (or of the sample) changes nothing, one less is an error naming
// that neuron.
TEST(SimulateCli, SpikeLimitsCutAtTheirValue) {
  const auto out = nlohmann::json::parse(run_simulate(kValid).out);
  int most = 0, total = 0, busiest_layer = 0, busiest = 0;
  for (int l = 0; l < 2; ++l) {
    for (int i = 0; i < static_cast<int>(out["layers"][l]["spikes"].size()); ++i) {
      const int k = static_cast<int>(out["layers"][l]["spikes"][i].size());
      total += k;
      if (k > most) most = k, busiest_layer = l, busiest = i;
    }
  }
  ASSERT_GT(most, 2);
  const auto limited = [&](const std::string& key, int value) {
    return with("\"t_end\": 60.0,", "\"t_end\": 60.0, \"spike_limits\": {\"" + key + "\": " + std::to_string(value) + "},");
  };
  CliResult r = run_simulate(limited("per_neuron", most));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), out);
  r = run_simulate(limited("per_neuron", most - 1));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("layer " + std::to_string(busiest_layer) + ", neuron " + std::to_string(busiest) +
                       ": fires more than " + std::to_string(most - 1)),
            std::string::npos)
      << r.err;
  r = run_simulate(limited("per_sample", total));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), out);
  r = run_simulate(limited("per_sample", total - 1));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("limit of " + std::to_string(total - 1) + " per sample"), std::string::npos) << r.err;
}

TEST(SimulateCli, MissingFileAndBadFlags) {
  const std::string cli = SPIKETIME_CLI_PATH;
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " simulate /nonexistent/case.json 2>/dev/null").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " simulate 2>/dev/null").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " simulate x.json --no-such-flag 2>/dev/null").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " simulate /dev/zero 2>/dev/null").c_str())), 2) << "a device, not a file";
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " simulate / 2>/dev/null").c_str())), 2) << "a directory";
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " eval --model / --dataset yinyang 2>/dev/null").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(std::system((cli + " --version > /dev/null").c_str())), 0);
  EXPECT_EQ(WEXITSTATUS(std::system(("SPIKETIME_TARGET=avx1024 " + cli + " --version 2>/dev/null").c_str())), 2);
}

}  // namespace
}  // namespace spiketime
