// NIR export and import (docs/NIR.md): the unit conversion against exact
// arithmetic, bit-identical round trips of the shipped models, the mapping of
// files in other frameworks' conventions, and one clear error for every
// malformed or unsupported file. The reference reader and the dynamics are
// checked from Python (tests/python/test_nir.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <variant>

#include "cli_runner.hpp"
#include "io/container.hpp"
#include "io/hdf5.hpp"
#include "spiketime/error.hpp"
#include "spiketime/nir.hpp"

namespace {

namespace fs = std::filesystem;
using spiketime::nir_seconds_to_units;

TEST(Nir, SecondsToUnitsGivesBackTypedValues) {
  // Every value with few decimals, at units where x * u / u misses x about
  // once in a hundred (1e-3) or seven (1e-4) times.
  for (double unit : {1e-3, 1e-4, 1e-6, 2.5e-3, 0.3, 1.0, 0.5}) {
    int checked = 0;
    for (int k = 1; k <= 20000; ++k) {
      for (double x : {k / 10.0, k / 100.0, k / 1000.0, k / 20.0}) {
        ASSERT_EQ(nir_seconds_to_units(x * unit, unit), x) << "x " << x << " unit " << unit;
        ++checked;
      }
    }
    EXPECT_EQ(checked, 80000);
  }
  // A tau_m of 15.7 exported at 1 ms is 0.0157 s, and 0.0157 / 0.001 is
  // 15.699999999999998.
  EXPECT_NE(15.7 * 1e-3 / 1e-3, 15.7);
  EXPECT_EQ(nir_seconds_to_units(15.7 * 1e-3, 1e-3), 15.7);
  EXPECT_EQ(nir_seconds_to_units(0.00785, 1e-3), 7.85);
}

TEST(Nir, SecondsToUnitsScalesBackExactlyWheneverItCan) {
  // For any double x, the result scales to the same seconds as x does.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-3.0, 4.0);
  for (double unit : {1e-3, 1e-4, 3e-5}) {
    for (int k = 0; k < 20000; ++k) {
      const double x = std::pow(10.0, exponent(rng));
      const double s = x * unit;
      EXPECT_EQ(nir_seconds_to_units(s, unit) * unit, s) << "x " << x;
    }
  }
}

const fs::path kSource = SPIKETIME_SOURCE_DIR;

std::vector<fs::path> shipped_models() {
  std::vector<fs::path> models;
  for (const auto& entry : fs::directory_iterator(kSource / "models")) {
    if (entry.path().extension() == ".bin") models.push_back(entry.path());
  }
  std::sort(models.begin(), models.end());
  return models;
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / name) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Nir, ShippedModelsRoundTripBitForBit) {
  const TempDir dir("spiketime_nir_round_trip");
  const auto models = shipped_models();
  ASSERT_GE(models.size(), 4u);
  for (const fs::path& model : models) {
    // The CLI at the default unit (1 ms), the library at others: the model
    // file written after the import is the same bytes as the shipped one.
    const auto exported = spiketime::testing::run_cli(
        "export-nir --model " + model.string() + " --out " + (dir.path / "m.nir").string(), dir.path);
    ASSERT_EQ(exported.status, 0) << exported.err;
    const auto imported = spiketime::testing::run_cli(
        "import-nir --in " + (dir.path / "m.nir").string() + " --out " + (dir.path / "m.bin").string(), dir.path);
    ASSERT_EQ(imported.status, 0) << imported.err;
    EXPECT_EQ(spiketime::testing::slurp(dir.path / "m.bin"), spiketime::testing::slurp(model)) << model;
    const spiketime::Model original = spiketime::load_model(model.string());
    for (double unit : {1.0, 1e-4, 0.5e-3}) {
      spiketime::export_nir(original, (dir.path / "u.nir").string(), unit);
      spiketime::save_model(spiketime::import_nir((dir.path / "u.nir").string()), (dir.path / "u.bin").string());
      EXPECT_EQ(spiketime::testing::slurp(dir.path / "u.bin"), spiketime::testing::slurp(model))
          << model << " at time unit " << unit;
    }
  }
}

TEST(Nir, EvalOfTheImportedModelReproducesTheRecord) {
  const fs::path data = kSource / "data";
  if (!fs::exists(data / "mnist/t10k-images-idx3-ubyte")) GTEST_SKIP() << "no MNIST: run scripts/fetch-data.sh";
  const TempDir dir("spiketime_nir_eval");
  const std::string model = (kSource / "models/mnist-multi-spike-784-800-10.bin").string();
  ASSERT_EQ(spiketime::testing::run_cli("export-nir --model " + model + " --out " + (dir.path / "m.nir").string(),
                                        dir.path)
                .status,
            0);
  ASSERT_EQ(spiketime::testing::run_cli(
                "import-nir --in " + (dir.path / "m.nir").string() + " --out " + (dir.path / "m.bin").string(),
                dir.path)
                .status,
            0);
  const auto result = spiketime::testing::run_cli("eval --model " + (dir.path / "m.bin").string() +
                                                      " --dataset mnist --json --data-dir " + data.string(),
                                                  dir.path);
  ASSERT_EQ(result.status, 0) << result.err;
  const auto eval = nlohmann::json::parse(result.out);
  const auto record = nlohmann::json::parse(spiketime::testing::slurp(kSource / "models/mnist-multi-spike-784-800-10.json"));
  EXPECT_EQ(eval["accuracy"].get<double>(), record["test_accuracy"].get<double>());
  EXPECT_EQ(eval["spikes_per_neuron"], record["spikes_per_neuron"]);
}

// A NIR graph described in memory and written with the library's HDF5
// helpers, so that each test can change one thing in a good file.
using Field = std::variant<std::vector<double>, std::string, std::vector<std::string>>;
struct FakeNode {
  std::map<std::string, Field> fields;                      // "type" among them
  std::map<std::string, std::vector<uint64_t>> shapes;      // of numeric fields; default (n)
  std::map<std::string, double> metadata;
};
struct FakeGraph {
  std::map<std::string, FakeNode> nodes;
  std::vector<std::string> edges;  // flattened pairs
  std::map<std::string, double> metadata;
  std::string type = "NIRGraph";
};

FakeNode cubalif(std::size_t n) {
  FakeNode node;
  node.fields = {{"type", "CubaLIF"},
                 {"tau_mem", std::vector<double>(n, 0.010)},
                 {"tau_syn", std::vector<double>(n, 0.005)},
                 {"r", std::vector<double>(n, 1.0)},
                 {"v_leak", std::vector<double>(n, 0.0)},
                 {"v_threshold", std::vector<double>(n, 1.0)},
                 {"v_reset", std::vector<double>(n, 0.0)},
                 {"w_in", std::vector<double>(n, 0.005)}};
  return node;
}

// input(3) -> linear_0 (4 x 3) -> cubalif_0 -> linear_1 (2 x 4) -> cubalif_1 -> output(2)
FakeGraph good_graph() {
  FakeGraph g;
  g.nodes["input"].fields = {{"type", "Input"}, {"shape", std::vector<double>{3}}};
  g.nodes["linear_0"].fields = {{"type", "Linear"},
                                {"weight", std::vector<double>{0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9, 1.0,
                                                               1.1, -1.2}}};
  g.nodes["linear_0"].shapes["weight"] = {4, 3};
  g.nodes["cubalif_0"] = cubalif(4);
  g.nodes["linear_1"].fields = {{"type", "Linear"},
                                {"weight", std::vector<double>{1.5, -0.5, 0.25, 2.0, 0.75, 1.25, -1.0, 0.5}}};
  g.nodes["linear_1"].shapes["weight"] = {2, 4};
  g.nodes["cubalif_1"] = cubalif(2);
  g.nodes["output"].fields = {{"type", "Output"}, {"shape", std::vector<double>{2}}};
  g.edges = {"input", "linear_0", "linear_0", "cubalif_0", "cubalif_0", "linear_1", "linear_1", "cubalif_1",
             "cubalif_1", "output"};
  g.metadata = {{"t_end", 0.05}, {"t_in_max", 0.01}};
  return g;
}

void write_fields(const spiketime::io::h5::Group& g, const FakeNode& node) {
  namespace h5 = spiketime::io::h5;
  for (const auto& [name, field] : node.fields) {
    if (const auto* numbers = std::get_if<std::vector<double>>(&field)) {
      const auto shape = node.shapes.find(name);
      h5::write_doubles(g, name, *numbers, shape != node.shapes.end() ? shape->second : std::vector<uint64_t>{numbers->size()});
    } else if (const auto* text = std::get_if<std::string>(&field)) {
      h5::write_string(g, name, *text);
    } else {
      const auto& texts = std::get<std::vector<std::string>>(field);
      h5::write_strings(g, name, texts, {texts.size()});
    }
  }
}

void write_graph(const FakeGraph& graph, const fs::path& path, bool edges_as_pairs = true) {
  namespace h5 = spiketime::io::h5;
  h5::MemoryWriter file;
  h5::write_string(file.root(), "version", "1.0.7");
  const auto node = h5::create_group(file.root(), "node");
  h5::write_string(node, "type", graph.type);
  const auto nodes = h5::create_group(node, "nodes");
  for (const auto& [name, fake] : graph.nodes) {
    const auto g = h5::create_group(nodes, name);
    write_fields(g, fake);
    if (!fake.metadata.empty()) {
      const auto meta = h5::create_group(g, "metadata");
      for (const auto& [key, value] : fake.metadata) h5::write_doubles(meta, key, {value}, {});
    }
  }
  h5::write_strings(node, "edges", graph.edges,
                    edges_as_pairs ? std::vector<uint64_t>{graph.edges.size() / 2, 2} : std::vector<uint64_t>{graph.edges.size()});
  if (!graph.metadata.empty()) {
    const auto meta = h5::create_group(node, "metadata");
    for (const auto& [key, value] : graph.metadata) h5::write_doubles(meta, key, {value}, {});
  }
  spiketime::io::write_text_atomically(path.string(), file.image());
}

TEST(Nir, ImportsFilesInOtherConventions) {
  const TempDir dir("spiketime_nir_foreign");
  FakeGraph g = good_graph();
  // An Affine node with a zero bias, r and w_in that scale each neuron's
  // input, parameters given as one scalar for the layer, and no spiketime
  // metadata at all.
  g.nodes["linear_1"].fields["type"] = std::string("Affine");
  g.nodes["linear_1"].fields["bias"] = std::vector<double>{0.0, 0.0};
  g.nodes["cubalif_1"].fields["r"] = std::vector<double>{2.0, 0.5};
  g.nodes["cubalif_1"].fields["w_in"] = std::vector<double>{1.0, 3.0};
  g.nodes["cubalif_1"].fields["tau_mem"] = std::vector<double>{0.02};
  g.nodes["cubalif_1"].shapes["tau_mem"] = {};
  g.nodes["cubalif_1"].fields.erase("v_reset");  // NIR's default: 0
  g.metadata.clear();
  write_graph(g, dir.path / "f.nir");
  EXPECT_THROW(spiketime::import_nir((dir.path / "f.nir").string()), spiketime::InputError);  // no t_end
  const spiketime::Model m = spiketime::import_nir((dir.path / "f.nir").string(), {std::nullopt, 50.0, 10.0});
  ASSERT_EQ(m.net.layers.size(), 2u);
  EXPECT_EQ(m.n_features, 3);
  EXPECT_EQ(m.n_classes, 2);
  EXPECT_EQ(m.net.t_end, 50.0);
  EXPECT_EQ(m.encoding.t_in_max, 10.0);
  const spiketime::Layer& first = m.net.layers[0];
  const spiketime::Layer& second = m.net.layers[1];
  EXPECT_EQ(first.neuron.tau_m, 10.0);  // 0.010 s at the default 1 ms
  EXPECT_EQ(first.neuron.tau_s, 5.0);
  EXPECT_EQ(second.neuron.tau_m, 20.0);
  EXPECT_EQ(first.neuron.max_spikes, 0);
  // First layer: w_in = tau_syn, r = 1, so the weights as written, (n_out, n_in) transposed.
  EXPECT_EQ(first.weight(0, 0), 0.1);
  EXPECT_EQ(first.weight(0, 2), 0.3);
  EXPECT_EQ(first.weight(3, 1), 1.1);
  // Second: scaled by r w_in / tau_syn = 2 * 1 / 0.005 and 0.5 * 3 / 0.005.
  EXPECT_DOUBLE_EQ(second.weight(0, 1), -0.5 * 400.0);
  EXPECT_DOUBLE_EQ(second.weight(1, 3), 0.5 * 300.0);
  // An explicit unit overrides: at 1 s per unit the time constants are seconds.
  const spiketime::Model s = spiketime::import_nir((dir.path / "f.nir").string(), {1.0, 0.05, 0.01});
  EXPECT_EQ(s.net.layers[0].neuron.tau_m, 0.010);
  // max_spikes from the node's metadata.
  g.nodes["cubalif_0"].metadata["max_spikes"] = 1;
  write_graph(g, dir.path / "g.nir");
  EXPECT_EQ(spiketime::import_nir((dir.path / "g.nir").string(), {std::nullopt, 50.0, 10.0}).net.layers[0].neuron.max_spikes,
            1);
}

struct BadCase {
  std::string name, expect;  // expect: a piece of the one error line
  std::function<void(FakeGraph&)> change;
};

TEST(Nir, EveryMalformedOrUnsupportedFileIsOneErrorAndNoOutput) {
  const TempDir dir("spiketime_nir_bad");
  const std::vector<BadCase> cases = {
      {"missing weight", "linear_0/weight is missing", [](FakeGraph& g) { g.nodes["linear_0"].fields.erase("weight"); }},
      {"transposed weight", "node 'linear_0' field 'weight': has shape [3, 4]",
       [](FakeGraph& g) { g.nodes["linear_0"].shapes["weight"] = {3, 4}; }},
      {"weight of text", "linear_1/weight must hold numbers",
       [](FakeGraph& g) { g.nodes["linear_1"].fields["weight"] = std::string("heavy"); }},
      {"type a number", "cubalif_0/type must hold strings",
       [](FakeGraph& g) { g.nodes["cubalif_0"].fields["type"] = std::vector<double>{1.0}; }},
      {"bias", "node 'linear_0' field 'bias': is 0.5 for neuron 2",
       [](FakeGraph& g) {
         g.nodes["linear_0"].fields["type"] = std::string("Affine");
         g.nodes["linear_0"].fields["bias"] = std::vector<double>{0.0, 0.0, 0.5, 0.0};
       }},
      {"v_leak", "node 'cubalif_1' field 'v_leak': is -0.1 for neuron 1",
       [](FakeGraph& g) { g.nodes["cubalif_1"].fields["v_leak"] = std::vector<double>{0.0, -0.1}; }},
      {"v_reset", "node 'cubalif_0' field 'v_reset'",
       [](FakeGraph& g) { g.nodes["cubalif_0"].fields["v_reset"] = std::vector<double>(4, 0.2); }},
      {"tau_mem per neuron", "node 'cubalif_0' field 'tau_mem': differs across neurons",
       [](FakeGraph& g) { g.nodes["cubalif_0"].fields["tau_mem"] = std::vector<double>{0.01, 0.01, 0.02, 0.01}; }},
      {"negative tau_syn", "node 'cubalif_1' field 'tau_syn': must be positive",
       [](FakeGraph& g) { g.nodes["cubalif_1"].fields["tau_syn"] = std::vector<double>(2, -0.005); }},
      {"infinite tau_mem", "field 'tau_mem': holds a value that is not finite",
       [](FakeGraph& g) { g.nodes["cubalif_1"].fields["tau_mem"] = std::vector<double>(2, INFINITY); }},
      {"wrong count", "field 'r': has 3 values; the layer has 4 neurons",
       [](FakeGraph& g) { g.nodes["cubalif_0"].fields["r"] = std::vector<double>(3, 1.0); }},
      {"conv", "node 'linear_1': is a convolution",
       [](FakeGraph& g) { g.nodes["linear_1"].fields["type"] = std::string("Conv2d"); }},
      {"LIF", "node 'cubalif_0': is LIF", [](FakeGraph& g) { g.nodes["cubalif_0"].fields["type"] = std::string("LIF"); }},
      {"two linears", "node 'cubalif_0' field 'type': is Linear where a CubaLIF",
       [](FakeGraph& g) { g.nodes["cubalif_0"].fields["type"] = std::string("Linear"); }},
      {"recurrent edge", "a recurrent edge",
       [](FakeGraph& g) {
         g.edges.push_back("cubalif_0");
         g.edges.push_back("linear_0");
       }},
      {"branch", "feeds 2 nodes",
       [](FakeGraph& g) {
         g.edges.push_back("cubalif_0");
         g.edges.push_back("output");
       }},
      {"unknown edge end", "names 'fc9', which is not a node",
       [](FakeGraph& g) {
         g.edges.push_back("fc9");
         g.edges.push_back("output");
       }},
      {"stray node", "node 'spare': is not on the chain",
       [](FakeGraph& g) { g.nodes["spare"] = cubalif(2); }},
      {"no output", "0 Output nodes", [](FakeGraph& g) { g.nodes["output"].fields["type"] = std::string("Threshold"); }},
      {"broken chain", "node 'cubalif_0': has no outgoing edge",
       [](FakeGraph& g) { g.edges.erase(g.edges.begin() + 4, g.edges.begin() + 6); }},
      {"image input", "node 'input' field 'shape': has 2 dimensions",
       [](FakeGraph& g) { g.nodes["input"].fields["shape"] = std::vector<double>{28, 28}; }},
      {"output size", "node 'output' field 'shape': does not match",
       [](FakeGraph& g) { g.nodes["output"].fields["shape"] = std::vector<double>{3}; }},
      {"fractional input size", "field 'shape': must be a whole number",
       [](FakeGraph& g) { g.nodes["input"].fields["shape"] = std::vector<double>{2.5}; }},
      {"no t_end", "has no t_end (not written by spiketime?): give --t-end", [](FakeGraph& g) { g.metadata.clear(); }},
      {"not a graph", "/node/type is 'CubaLIF'", [](FakeGraph& g) { g.type = "CubaLIF"; }},
      {"max_spikes", "field 'metadata/max_spikes': must be a whole number",
       [](FakeGraph& g) { g.nodes["cubalif_1"].metadata["max_spikes"] = -1; }},
      {"zero time unit", "metadata time_unit: the time unit must be a positive",
       [](FakeGraph& g) { g.metadata["time_unit"] = 0.0; }},
  };
  const std::string out = (dir.path / "out.bin").string();
  const auto expect_one_error = [&](const fs::path& file, const std::string& expect, const std::string& name) {
    const auto result = spiketime::testing::run_cli("import-nir --in " + file.string() + " --out " + out, dir.path);
    EXPECT_EQ(result.status, 2) << name << ": " << result.err;
    EXPECT_NE(result.err.find(expect), std::string::npos) << name << ": " << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << name << ": " << result.err;
    EXPECT_TRUE(result.out.empty()) << name;
    EXPECT_FALSE(fs::exists(out)) << name;
    EXPECT_FALSE(fs::exists(out + ".tmp")) << name;
  };
  // The good graph imports: the cases below fail for their one change.
  write_graph(good_graph(), dir.path / "good.nir");
  ASSERT_EQ(spiketime::testing::run_cli("import-nir --in " + (dir.path / "good.nir").string() + " --out " + out,
                                        dir.path)
                .status,
            0);
  fs::remove(out);
  for (const BadCase& c : cases) {
    FakeGraph g = good_graph();
    c.change(g);
    write_graph(g, dir.path / "bad.nir");
    expect_one_error(dir.path / "bad.nir", c.expect, c.name);
  }
  // Edges as a flat list instead of pairs.
  write_graph(good_graph(), dir.path / "flat.nir", false);
  expect_one_error(dir.path / "flat.nir", "/node/edges must be a list of (source, target) pairs", "flat edges");
  // Damaged files: every prefix length class, a flipped signature, text, nothing.
  const std::string good = spiketime::testing::slurp(dir.path / "good.nir");
  for (std::size_t keep : {good.size() / 2, good.size() - 1, std::size_t{600}, std::size_t{100}}) {
    spiketime::io::write_text_atomically((dir.path / "cut.nir").string(), good.substr(0, keep));
    expect_one_error(dir.path / "cut.nir", "cut.nir: ", "truncated to " + std::to_string(keep));
  }
  spiketime::io::write_text_atomically((dir.path / "text.nir").string(), "{\"not\": \"hdf5\"}\n");
  expect_one_error(dir.path / "text.nir", "not an HDF5 file", "text");
  spiketime::io::write_text_atomically((dir.path / "empty.nir").string(), "");
  expect_one_error(dir.path / "empty.nir", "not an HDF5 file", "empty");
  expect_one_error(dir.path, "is a directory", "directory");
  expect_one_error(dir.path / "missing.nir", "cannot open", "missing");
  // A file with no graph in it.
  {
    spiketime::io::h5::MemoryWriter file;
    spiketime::io::h5::write_string(file.root(), "version", "1.0.7");
    spiketime::io::write_text_atomically((dir.path / "nograph.nir").string(), file.image());
  }
  expect_one_error(dir.path / "nograph.nir", "/node is missing", "no graph");
}

TEST(Nir, ExportErrorsAreOneLine) {
  const TempDir dir("spiketime_nir_export_bad");
  const std::string model = (kSource / "models/mnist-multi-spike-784-800-10.bin").string();
  const auto no_dir = spiketime::testing::run_cli(
      "export-nir --model " + model + " --out " + (dir.path / "nowhere/m.nir").string(), dir.path);
  EXPECT_EQ(no_dir.status, 2);
  EXPECT_NE(no_dir.err.find("nowhere/m.nir"), std::string::npos) << no_dir.err;
  const auto bad_unit = spiketime::testing::run_cli(
      "export-nir --model " + model + " --out " + (dir.path / "m.nir").string() + " --time-unit 0", dir.path);
  EXPECT_EQ(bad_unit.status, 2);
  EXPECT_NE(bad_unit.err.find("--time-unit"), std::string::npos) << bad_unit.err;
  const auto no_model = spiketime::testing::run_cli(
      "export-nir --model " + (dir.path / "none.bin").string() + " --out " + (dir.path / "m.nir").string(), dir.path);
  EXPECT_EQ(no_model.status, 2);
  EXPECT_FALSE(fs::exists(dir.path / "m.nir"));
}

}  // namespace
