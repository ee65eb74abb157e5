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
#include "spiketime/json_text.hpp"
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
                  bool force, int stop_after, const std::function<void(const std::string&)>& on_epoch) {
  py::gil_scoped_release unlocked;
  spiketime::TrainingRun run = [&] {
    if (resume) return spiketime::TrainingRun::resume(out);
    const json config = spiketime::parse_json(config_text, source);
    return spiketime::TrainingRun::start(spiketime::resolve_config(config, source), out, force);
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

// The engine calls of one spiketime.torch module: passes (NetworkBatch) kept
// for reuse with their memory. A pass that only the engine still holds (no
// autograd graph, no spike_counts query can reach it) serves the next
// forward, so that a training loop alternates between two of them (the last
// step's graph lives until its output is replaced) and allocates nothing once
// warm. Deep copies and pickles of a module get a fresh engine.
class Engine {
 public:
  std::shared_ptr<spiketime::NetworkBatch> free_pass() {
    constexpr std::size_t kKeep = 4;  // free passes beyond this are let go
    for (std::size_t k = passes_.size(); k-- > 0 && passes_.size() > kKeep;) {
      if (passes_[k].use_count() == 1) passes_.erase(passes_.begin() + static_cast<std::ptrdiff_t>(k));
    }
    for (const auto& pass : passes_) {
      if (pass.use_count() == 1) return pass;
    }
    return passes_.emplace_back(std::make_shared<spiketime::NetworkBatch>());
  }
  std::shared_ptr<spiketime::NetworkBatch> last;  // the last forward's pass, for spike_counts

 private:
  std::vector<std::shared_ptr<spiketime::NetworkBatch>> passes_;
};

// One layer's weights as the engine reads them: an (n_out, n_in) array of
// float64 or float32 in any layout (strides in elements).
struct WeightView {
  const void* data;
  bool single;
  py::ssize_t n_out, n_in, neuron_stride, input_stride;
};

WeightView weight_view(const py::array& w, std::size_t l) {
  const std::string name = "weight of layer " + std::to_string(l);
  if (w.ndim() != 2) throw py::value_error(name + ": expected shape (n_out, n_in)");
  const bool single = w.dtype().is(py::dtype::of<float>());
  if (!single && !w.dtype().is(py::dtype::of<double>())) throw py::value_error(name + ": dtype must be float64 or float32");
  const py::ssize_t size = w.itemsize();
  if (w.strides(0) % size != 0 || w.strides(1) % size != 0) throw py::value_error(name + ": strides are not whole elements");
  return {w.data(), single, w.shape(0), w.shape(1), w.strides(0) / size, w.strides(1) / size};
}

// Shapes the pass's network like the weights (keeping its memory when the
// shapes stay) and copies them in, the threads of the pool sharing the rows.
void configure(spiketime::Network& net, const std::vector<WeightView>& weights,
               const std::vector<spiketime::NeuronParams>& params, double t_end, spiketime::ThreadPool& pool) {
  if (weights.empty() || weights.size() != params.size()) throw py::value_error("weights: one array per layer");
  net.t_end = t_end;
  net.layers.resize(weights.size());
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const WeightView& w = weights[l];
    spiketime::Layer& layer = net.layers[l];
    if (layer.n_in != w.n_in || layer.n_out != w.n_out) {
      layer = spiketime::Layer(params[l], static_cast<int>(w.n_in), static_cast<int>(w.n_out));
    }
    layer.neuron = params[l];
    std::vector<char> finite(static_cast<std::size_t>(pool.size()));
    pool.run([&](int t) {
      const auto [begin, end] = spiketime::split_range(static_cast<std::size_t>(w.n_in), pool.size(), t);
      const auto first = static_cast<int>(begin), last = static_cast<int>(end);
      finite[static_cast<std::size_t>(t)] =
          w.single ? layer.set_weights(static_cast<const float*>(w.data), w.neuron_stride, w.input_stride, first, last)
                   : layer.set_weights(static_cast<const double*>(w.data), w.neuron_stride, w.input_stride, first, last);
    });
    if (std::find(finite.begin(), finite.end(), 0) != finite.end()) {
      throw py::value_error("weight of layer " + std::to_string(l) + ": holds a value that is not finite");
    }
  }
  try {
    net.validate();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

py::tuple network_forward(Engine& engine, const std::vector<py::array>& weights,
                          const std::vector<std::tuple<double, double, double, int>>& params, double t_end,
                          const Doubles& times, int threads) {
  std::vector<spiketime::NeuronParams> p;
  for (const auto& [tau_m, tau_s, theta, max_spikes] : params) p.push_back({tau_m, tau_s, theta, max_spikes});
  std::vector<WeightView> views;
  for (std::size_t l = 0; l < weights.size(); ++l) views.push_back(weight_view(weights[l], l));
  if (!views.empty() && (times.ndim() != 3 || times.shape(1) != views.front().n_in)) {
    throw py::value_error("times: expected shape (batch, " + std::to_string(views.front().n_in) + ", K)");
  }
  const spiketime::PaddedTimes input{times.data(), static_cast<int>(times.shape(0)), static_cast<int>(times.shape(1)),
                                     static_cast<int>(times.shape(2))};
  std::shared_ptr<spiketime::NetworkBatch> pass = engine.free_pass();
  {
    py::gil_scoped_release unlocked;
    SharedPool& shared = shared_pool();
    const std::lock_guard<std::mutex> lock(shared.mutex);
    spiketime::ThreadPool& pool = shared.get(threads);
    configure(pass->network(), views, p, t_end, pool);
    pass->forward(input, pool);
  }
  engine.last = pass;
  py::array_t<double> out({static_cast<py::ssize_t>(pass->batch()),
                           static_cast<py::ssize_t>(pass->network().n_outputs()),
                           static_cast<py::ssize_t>(pass->output_slots())});
  pass->output(out.mutable_data());
  return py::make_tuple(out, pass);
}

py::array_t<int32_t> spike_counts(const spiketime::NetworkBatch& pass, std::size_t l) {
  if (l >= pass.network().layers.size()) throw py::value_error("layer: out of range");
  py::array_t<int32_t> out({static_cast<py::ssize_t>(pass.batch()),
                            static_cast<py::ssize_t>(pass.network().layers[l].n_out)});
  pass.spike_counts(l, out.mutable_data());
  return out;
}

// dL/dw of each layer as an (n_in, n_out) array (the transpose of the
// weight's shape) of float32 when single, float64 otherwise; and dL/dt of
// every input slot unless input_grad is false.
template <class T>
py::tuple backward_as(spiketime::NetworkBatch& pass, const Doubles& grad_out, double min_vdot, bool input_grad,
                      int threads) {
  const spiketime::Network& net = pass.network();
  py::list grad_ws;
  std::vector<T*> grad_w_data;
  for (const spiketime::Layer& layer : net.layers) {
    py::array_t<T> g({static_cast<py::ssize_t>(layer.n_in), static_cast<py::ssize_t>(layer.n_out)});
    grad_w_data.push_back(g.mutable_data());
    grad_ws.append(g);
  }
  py::object grad_in = py::none();
  double* grad_in_data = nullptr;
  if (input_grad) {
    py::array_t<double> g({static_cast<py::ssize_t>(pass.batch()), static_cast<py::ssize_t>(net.n_inputs()),
                             static_cast<py::ssize_t>(pass.input_slots())});
    grad_in_data = g.mutable_data();
    grad_in = g;
  }
  {
    py::gil_scoped_release unlocked;
    SharedPool& shared = shared_pool();
    const std::lock_guard<std::mutex> lock(shared.mutex);
    pass.backward(grad_out.data(), spiketime::GradientGuard{min_vdot}, grad_w_data, grad_in_data, shared.get(threads));
  }
  return py::make_tuple(grad_ws, grad_in);
}

py::tuple network_backward(spiketime::NetworkBatch& pass, const Doubles& grad_out, double min_vdot, bool input_grad, int threads, bool single) {
  const spiketime::Network& net = pass.network();
  if (grad_out.ndim() != 3 || grad_out.shape(0) != pass.batch() || grad_out.shape(1) != net.n_outputs() ||
      grad_out.shape(2) != pass.output_slots()) {
    throw py::value_error("grad_output: does not have the shape of the network's output");
  }
  return single ? backward_as<float>(pass, grad_out, min_vdot, input_grad, threads)
                : backward_as<double>(pass, grad_out, min_vdot, input_grad, threads);
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
  py::class_<Engine>(m, "Engine")
      .def(py::init<>())
      .def_readonly("last", &Engine::last)
      .def("__deepcopy__", [](const Engine&, const py::dict&) { return Engine(); })
      .def(py::pickle([](const Engine&) { return py::tuple(); }, [](const py::tuple&) { return Engine(); }));
  m.def("network_forward", &network_forward, py::arg("engine"), py::arg("weights"), py::arg("params"), py::arg("t_end"),
        py::arg("times"), py::arg("threads"));
  m.def("network_backward", &network_backward, py::arg("batch"), py::arg("grad_output"), py::arg("min_vdot"),
        py::arg("input_grad"), py::arg("threads"), py::arg("single"));
  m.def("train_json", &train, py::arg("config_text"), py::arg("source"), py::arg("out"), py::arg("resume"),
        py::arg("force"), py::arg("stop_after"), py::arg("on_epoch"));
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
