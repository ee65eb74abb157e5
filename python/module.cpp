// spiketime._core: the library as a Python extension (pybind11). Plain data
// crosses the boundary: JSON text, numpy arrays, dicts; the Python package
// (python/spiketime/__init__.py) gives it its shape. Every engine call runs
// with the GIL released; training checks for Ctrl-C after each batch.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>

#include "spiketime/batch.hpp"
#include "spiketime/error.hpp"
#include "spiketime/init.hpp"
#include "spiketime/model.hpp"
#include "spiketime/nir.hpp"
#include "spiketime/run.hpp"
#include "spiketime/simd.hpp"
#include "spiketime/simulate.hpp"
#include "spiketime/trainer.hpp"
#include "spiketime/version.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace {

// Raised from a callback to stop training: the run directory then holds the
// last finished epoch.
struct Interrupted {};

std::string simulate_json(const std::string& case_text, bool grad, double min_vdot) {
  py::gil_scoped_release unlocked;
  const spiketime::SimulateCase c = spiketime::parse_simulate_case(case_text);
  return spiketime::run_simulate_case(c, grad, spiketime::GradientGuard{min_vdot});
}

spiketime::Model load(const std::string& path) {
  py::gil_scoped_release unlocked;
  return spiketime::load_model(path);
}

py::array_t<double> layer_weights(const spiketime::Model& m, int l) {
  const spiketime::Layer& layer = m.net.layers.at(static_cast<std::size_t>(l));
  py::array_t<double> out({layer.n_out, layer.n_in});
  layer.rows(out.mutable_data());
  return out;
}

py::list layers(const spiketime::Model& m) {
  py::list out;
  for (std::size_t l = 0; l < m.net.layers.size(); ++l) {
    const spiketime::NeuronParams& p = m.net.layers[l].neuron;
    py::dict d;
    d["weights"] = layer_weights(m, static_cast<int>(l));
    d["tau_m"] = p.tau_m;
    d["tau_s"] = p.tau_s;
    d["theta"] = p.theta;
    d["max_spikes"] = p.max_spikes;
    out.append(d);
  }
  return out;
}

py::array_t<int> predict(const spiketime::Model& m, const py::array_t<float, py::array::c_style | py::array::forcecast>& x,
                         int threads) {
  if (x.ndim() != 2 || x.shape(1) != m.n_features) {
    throw py::value_error("features: expected an array of shape (N, " + std::to_string(m.n_features) + ")");
  }
  const auto n = static_cast<std::size_t>(x.shape(0));
  std::vector<int> classes;
  {
    py::gil_scoped_release unlocked;
    spiketime::ThreadPool pool(spiketime::thread_count(threads));
    classes = spiketime::predict(m, x.data(), n, pool);
  }
  return py::array_t<int>(static_cast<py::ssize_t>(classes.size()), classes.data());
}

std::string evaluate(const spiketime::Model& m, const std::string& dataset, const std::string& split,
                     const std::string& data_dir, int threads) {
  py::gil_scoped_release unlocked;
  return spiketime::evaluation_report(m, dataset, split, data_dir, threads).dump();
}

// Trains as `spiketime train` does. config_text: a JSON object; on_epoch
// receives each metrics line as JSON text. Returns the run's result as JSON.
std::string train(const std::string& config_text, const std::string& source, const std::string& out, bool resume,
                  int stop_after, const std::function<void(const std::string&)>& on_epoch) {
  py::gil_scoped_release unlocked;
  spiketime::TrainingRun run = [&] {
    if (resume) return spiketime::TrainingRun::resume(out);
    json config = json::parse(config_text, nullptr, false);
    if (config.is_discarded()) throw spiketime::InputError(source + ": malformed JSON");
    return spiketime::TrainingRun::start(spiketime::resolve_config(config, source), out);
  }();
  spiketime::TrainingRun::Callbacks callbacks;
  callbacks.progress = [](int, std::size_t, std::size_t, const spiketime::PassStats&) {
    py::gil_scoped_acquire locked;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  };
  callbacks.epoch_done = [&](const spiketime::EpochReport& r) {
    py::gil_scoped_acquire locked;
    if (on_epoch) on_epoch(r.metrics.dump());
  };
  const spiketime::RunResult r = run.run(stop_after, callbacks);
  return json{{"epochs_done", r.epochs_done},
              {"epochs", r.epochs},
              {"best_epoch", r.best_epoch},
              {"best_validation_accuracy", r.best_score},
              {"finished", r.finished},
              {"test_accuracy", r.test_accuracy},
              {"last_epoch", r.last_metrics},
              {"model", r.model_path}}
      .dump();
}

// One pool for the layer calls of spiketime.torch, rebuilt when the thread
// count changes; the mutex keeps two Python threads from sharing it at once.
struct SharedPool {
  std::mutex mutex;
  std::unique_ptr<spiketime::ThreadPool> pool;
  spiketime::ThreadPool& get(int threads) {
    const int n = spiketime::thread_count(threads);
    if (!pool || pool->size() != n) pool = std::make_unique<spiketime::ThreadPool>(n);
    return *pool;
  }
};
SharedPool& shared_pool() {
  static SharedPool shared;
  return shared;
}

using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A network from per-layer weights ((n_out, n_in) arrays) and parameters.
spiketime::Network make_network(const std::vector<Doubles>& weights, const std::vector<spiketime::NeuronParams>& params,
                                double t_end) {
  if (weights.empty() || weights.size() != params.size()) throw py::value_error("weights: one array per layer");
  spiketime::Network net;
  net.t_end = t_end;
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const Doubles& w = weights[l];
    if (w.ndim() != 2) throw py::value_error("weight of layer " + std::to_string(l) + ": expected shape (n_out, n_in)");
    if (!std::all_of(w.data(), w.data() + w.size(), [](double x) { return std::isfinite(x); })) {
      throw py::value_error("weight of layer " + std::to_string(l) + ": holds a value that is not finite");
    }
    net.layers.emplace_back(params[l], static_cast<int>(w.shape(1)), static_cast<int>(w.shape(0)));
    net.layers.back().set_from_rows(w.data());
  }
  try {
    net.validate();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  return net;
}

py::tuple network_forward(const std::vector<Doubles>& weights, const std::vector<std::tuple<double, double, double, int>>& params,
                          double t_end, const Doubles& times, int threads) {
  std::vector<spiketime::NeuronParams> p;
  for (const auto& [tau_m, tau_s, theta, max_spikes] : params) p.push_back({tau_m, tau_s, theta, max_spikes});
  spiketime::Network net = make_network(weights, p, t_end);
  if (times.ndim() != 3 || times.shape(1) != net.n_inputs()) {
    throw py::value_error("times: expected shape (batch, " + std::to_string(net.n_inputs()) + ", K)");
  }
  const spiketime::PaddedTimes input{times.data(), static_cast<int>(times.shape(0)), static_cast<int>(times.shape(1)),
                                     static_cast<int>(times.shape(2))};
  std::shared_ptr<spiketime::NetworkBatch> batch;
  {
    py::gil_scoped_release unlocked;
    SharedPool& shared = shared_pool();
    const std::lock_guard<std::mutex> lock(shared.mutex);
    batch = std::make_shared<spiketime::NetworkBatch>(std::move(net), input, shared.get(threads));
  }
  py::array_t<double> out({static_cast<py::ssize_t>(batch->batch()),
                           static_cast<py::ssize_t>(batch->network().n_outputs()),
                           static_cast<py::ssize_t>(batch->output_slots())});
  batch->output(out.mutable_data());
  return py::make_tuple(out, batch);
}

py::array_t<int32_t> spike_counts(const spiketime::NetworkBatch& batch, std::size_t l) {
  if (l >= batch.network().layers.size()) throw py::value_error("layer: out of range");
  py::array_t<int32_t> out({static_cast<py::ssize_t>(batch.batch()),
                            static_cast<py::ssize_t>(batch.network().layers[l].n_out)});
  batch.spike_counts(l, out.mutable_data());
  return out;
}

py::tuple network_backward(spiketime::NetworkBatch& batch, const Doubles& grad_out, py::ssize_t in_slots,
                           double min_vdot, bool input_grad, int threads) {
  const spiketime::Network& net = batch.network();
  if (grad_out.ndim() != 3 || grad_out.shape(0) != batch.batch() || grad_out.shape(1) != net.n_outputs() ||
      grad_out.shape(2) != batch.output_slots()) {
    throw py::value_error("grad_output: does not have the shape of the network's output");
  }
  py::list grad_ws;
  std::vector<double*> grad_w_data;
  for (const spiketime::Layer& layer : net.layers) {
    py::array_t<double> g({static_cast<py::ssize_t>(layer.n_out), static_cast<py::ssize_t>(layer.n_in)});
    grad_w_data.push_back(g.mutable_data());
    grad_ws.append(g);
  }
  py::object grad_in = py::none();
  double* grad_in_data = nullptr;
  if (input_grad) {
    py::array_t<double> g({static_cast<py::ssize_t>(batch.batch()), static_cast<py::ssize_t>(net.n_inputs()), in_slots});
    grad_in_data = g.mutable_data();
    grad_in = g;
  }
  {
    py::gil_scoped_release unlocked;
    SharedPool& shared = shared_pool();
    const std::lock_guard<std::mutex> lock(shared.mutex);
    batch.backward(grad_out.data(), spiketime::GradientGuard{min_vdot}, grad_w_data, grad_in_data, shared.get(threads));
  }
  return py::make_tuple(grad_ws, grad_in);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "spiketime's C++ engine (use the spiketime package, not this module)";
  py::register_exception<spiketime::InputError>(m, "InputError", PyExc_ValueError);
  m.attr("__version__") = spiketime::kVersion;
  m.def("simd_target", &spiketime::active_target);
  m.def("simulate_json", &simulate_json, py::arg("case_text"), py::arg("grad"), py::arg("min_vdot"));

  py::class_<spiketime::Model>(m, "Model")
      .def_readonly("dataset", &spiketime::Model::dataset)
      .def_readonly("n_features", &spiketime::Model::n_features)
      .def_readonly("n_classes", &spiketime::Model::n_classes)
      .def_readonly("tau_out", &spiketime::Model::tau_out)
      .def_property_readonly("t_end", [](const spiketime::Model& x) { return x.net.t_end; })
      .def_property_readonly("t_in_max", [](const spiketime::Model& x) { return x.encoding.t_in_max; })
      .def_property_readonly("bias_times", [](const spiketime::Model& x) { return x.encoding.bias_times; })
      .def_property_readonly("readout", [](const spiketime::Model& x) { return std::string(spiketime::readout_name(x.readout)); })
      .def_property_readonly("provenance_json", [](const spiketime::Model& x) { return x.provenance.dump(); })
      .def("layers", &layers)
      .def("predict", &predict, py::arg("features"), py::arg("threads"))
      .def("evaluate_json", &evaluate, py::arg("dataset"), py::arg("split"), py::arg("data_dir"), py::arg("threads"))
      .def("save", [](const spiketime::Model& x, const std::string& path) {
        py::gil_scoped_release unlocked;
        spiketime::save_model(x, path);
      });
  m.def("load_model", &load, py::arg("path"));
  m.def(
      "psp_peak", [](double tau_m, double tau_s) { return spiketime::psp_peak({tau_m, tau_s, 1.0, 0}); },
      py::arg("tau_m"), py::arg("tau_s"));
  py::class_<spiketime::NetworkBatch, std::shared_ptr<spiketime::NetworkBatch>>(m, "NetworkBatch")
      .def("spike_counts", &spike_counts, py::arg("layer"));
  m.def("network_forward", &network_forward, py::arg("weights"), py::arg("params"), py::arg("t_end"), py::arg("times"),
        py::arg("threads"));
  m.def("network_backward", &network_backward, py::arg("batch"), py::arg("grad_output"), py::arg("in_slots"),
        py::arg("min_vdot"), py::arg("input_grad"), py::arg("threads"));
  m.def("train_json", &train, py::arg("config_text"), py::arg("source"), py::arg("out"), py::arg("resume"),
        py::arg("stop_after"), py::arg("on_epoch"));
  m.def(
      "export_nir",
      [](const spiketime::Model& x, const std::string& path, double time_unit) {
        py::gil_scoped_release unlocked;
        spiketime::export_nir(x, path, time_unit);
      },
      py::arg("model"), py::arg("path"), py::arg("time_unit"));
  m.def(
      "import_nir",
      [](const std::string& path, std::optional<double> time_unit, std::optional<double> t_end,
         std::optional<double> t_in_max) {
        py::gil_scoped_release unlocked;
        return spiketime::import_nir(path, {time_unit, t_end, t_in_max});
      },
      py::arg("path"), py::arg("time_unit"), py::arg("t_end"), py::arg("t_in_max"));
}
