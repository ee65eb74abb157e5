// Throughput of the multi-spike 784-800-10 MNIST network, all included
// (encoding, forward, backward, optimizer), against a dense float32 MLP of the
// same shape through OpenBLAS, the time per stage, and scaling tables. Prints
// markdown tables.
//
//   build/bench/snn_vs_ann [--model runs/X/model.bin] [--samples N] [--repeats N] [--no-scaling]
//
// With --model the weights (and so the spike counts) of a trained run are
// used; otherwise the default initialization.
#include <cblas.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <utility>

#include "spiketime/encoding.hpp"
#include "spiketime/error.hpp"
#include "spiketime/loss.hpp"
#include "spiketime/simd.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Options {
  std::string model_path;
  std::size_t samples = 10000;
  bool scaling = true;
  std::size_t repeats = 3;
};

// Samples per second of one training epoch over `data` (a fresh trainer, so
// the optimizer state starts empty; the weights are those of `model`), and
// optionally its statistics and the epoch's time in its two phases.
double train_rate(const TrainConfig& c, const Model& model, const Dataset& data, int threads, PassStats* stats,
                  Trainer::PhaseSeconds* phases = nullptr) {
  ThreadPool pool(threads);
  TrainConfig config = c;
  config.threads = threads;
  Trainer trainer(config, model, pool);
  const auto start = Clock::now();
  const PassStats s = trainer.train_epoch(data, 0, nullptr);
  const double rate = static_cast<double>(s.n) / seconds_since(start);
  if (stats) *stats = s;
  if (phases) *phases = trainer.last_epoch_seconds();
  return rate;
}

double eval_rate(const Model& model, const Dataset& data, int threads) {
  ThreadPool pool(threads);
  const auto start = Clock::now();
  const PassStats s = evaluate(model, data, pool);
  return static_cast<double>(s.n) / seconds_since(start);
}

// Forward + backward (+ SGD step with `step`) of a dense float32 784-800-10
// MLP (ReLU, softmax cross-entropy) on batches of `batch` samples; returns
// samples/s.
double ann_rate(const Dataset& data, std::size_t samples, int batch, int hidden, bool step) {
  const int in = data.n_features, out = data.n_classes;
  std::mt19937 rng(1);
  std::normal_distribution<float> init(0.0f, 0.05f);
  std::vector<float> w1(static_cast<std::size_t>(in * hidden)), w2(static_cast<std::size_t>(hidden * out));
  for (float& w : w1) w = init(rng);
  for (float& w : w2) w = init(rng);
  std::vector<float> x(static_cast<std::size_t>(batch * in)), h(static_cast<std::size_t>(batch * hidden)),
      y(static_cast<std::size_t>(batch * out)), dy(y.size()), dh(h.size()), g1(w1.size()), g2(w2.size());
  const auto start = Clock::now();
  std::size_t done = 0;
  for (std::size_t b = 0; b + static_cast<std::size_t>(batch) <= samples; b += static_cast<std::size_t>(batch)) {
    std::memcpy(x.data(), data.sample(b), x.size() * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, hidden, in, 1.0f, x.data(), in, w1.data(), hidden, 0.0f,
                h.data(), hidden);
    for (float& v : h) v = v > 0 ? v : 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, out, hidden, 1.0f, h.data(), hidden, w2.data(), out,
                0.0f, y.data(), out);
    for (int s = 0; s < batch; ++s) {
      float* row = y.data() + s * out;
      float mx = row[0], sum = 0;
      for (int k = 1; k < out; ++k) mx = std::max(mx, row[k]);
      for (int k = 0; k < out; ++k) sum += std::exp(row[k] - mx);
      for (int k = 0; k < out; ++k)
        dy[static_cast<std::size_t>(s * out + k)] = std::exp(row[k] - mx) / sum - (k == data.labels[b + static_cast<std::size_t>(s)]);
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hidden, out, batch, 1.0f, h.data(), hidden, dy.data(), out, 0.0f,
                g2.data(), out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, hidden, out, 1.0f, dy.data(), out, w2.data(), out, 0.0f,
                dh.data(), hidden);
    for (std::size_t k = 0; k < dh.size(); ++k) dh[k] = h[k] > 0 ? dh[k] : 0;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, hidden, batch, 1.0f, x.data(), in, dh.data(), hidden, 0.0f,
                g1.data(), hidden);
    if (step) {
      cblas_saxpy(static_cast<int>(w1.size()), -1e-3f, g1.data(), 1, w1.data(), 1);
      cblas_saxpy(static_cast<int>(w2.size()), -1e-3f, g2.data(), 1, w2.data(), 1);
    }
    done += static_cast<std::size_t>(batch);
  }
  return static_cast<double>(done) / seconds_since(start);
}

double mean_active(const Dataset& data) {
  double n = 0;
  for (float x : data.features) n += x > 0;
  return n / static_cast<double>(data.size());
}

// Distinct input spike times per image: the steps of the first layer, each of
// which costs every neuron a decay and a threshold screen.
double mean_input_times(const Model& model, const Dataset& data) {
  SpikeTrain input;
  double n = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    encode_latency(data.sample(i), model.n_features, model.encoding, input);
    for (std::size_t e = 0; e < input.size(); ++e) n += e == 0 || input.times[e] != input.times[e - 1];
  }
  return n / static_cast<double>(data.size());
}

// Microseconds per sample of each stage of a training step, one thread: the
// encoding, each layer's forward pass, the readout, each layer's reverse
// pass (the first without input-time gradients, as in training), with the
// weight gradient summed in G.
template <class G>
std::vector<double> stage_times_as(const Model& model, const Dataset& data) {
  const std::size_t n_layers = model.net.layers.size();
  std::vector<double> seconds(2 * n_layers + 2, 0.0);
  std::vector<LayerTrace> traces(n_layers);
  LayerWorkspace ws;
  SpikeTrain input;
  std::vector<double> grad_out, grad_below;
  std::vector<std::vector<G>> grad_weights;
  for (const Layer& l : model.net.layers) grad_weights.emplace_back(l.weights.size(), G{0});
  auto lap = [](Clock::time_point& t) {
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  };
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto t = Clock::now();
    encode_latency(data.sample(i), model.n_features, model.encoding, input);
    seconds[0] += lap(t);
    for (std::size_t l = 0; l < n_layers; ++l) {
      layer_forward(model.net.layers[l], l == 0 ? input : traces[l - 1].spikes, model.net.t_end, traces[l], ws);
      seconds[1 + l] += lap(t);
    }
    readout_loss(model.readout, traces.back(), model.n_classes, data.labels[i], model.net.t_end, model.tau_out,
                 grad_out);
    seconds[1 + n_layers] += lap(t);
    for (std::size_t l = n_layers; l-- > 0;) {
      const SpikeTrain& below = l == 0 ? input : traces[l - 1].spikes;
      grad_below.resize(below.size());
      layer_backward(model.net.layers[l], below, traces[l], grad_out.data(), {}, grad_weights[l].data(),
                     l == 0 ? nullptr : grad_below.data(), ws);
      grad_out.swap(grad_below);
      seconds[2 + n_layers + (n_layers - 1 - l)] += lap(t);
    }
  }
  for (double& s : seconds) s *= 1e6 / static_cast<double>(data.size());
  return seconds;
}

// The same in the model's precision: a float32 model sums its gradient in
// float32, as the trainer does.
std::vector<double> stage_times(const Model& model, const Dataset& data) {
  return model.net.layers[0].precision() == Precision::Float32 ? stage_times_as<float>(model, data)
                                                               : stage_times_as<double>(model, data);
}

// The data set with only the k brightest pixels of each image kept.
Dataset brightest(const Dataset& data, int k) {
  Dataset out = data;
  for (std::size_t s = 0; s < out.size(); ++s) {
    float* x = out.features.data() + s * static_cast<std::size_t>(out.n_features);
    std::vector<float> sorted(x, x + out.n_features);
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
    const float cut = sorted[static_cast<std::size_t>(k - 1)];
    int kept = 0;
    for (int f = 0; f < out.n_features; ++f) {
      if (x[f] >= cut && x[f] > 0 && kept < k) {
        ++kept;
      } else {
        x[f] = 0;
      }
    }
  }
  return out;
}

// Training throughput in float64 and float32 (config key precision), the
// same weights and samples, the precisions alternating, best of `repeats`.
// Returns the float32 samples/s on 1 and 2 threads (index: threads).
std::array<double, 3> precision_table(const TrainConfig& config, const Model& model, const Dataset& data,
                                      std::size_t repeats) {
  double rate[2][3] = {};  // [float32?][threads]
  Trainer::PhaseSeconds phases[2][3];  // those of the best runs
  for (std::size_t r = 0; r < repeats; ++r) {
    for (int threads : {1, 2}) {
      for (Precision precision : {Precision::Float64, Precision::Float32}) {
        TrainConfig c = config;
        c.precision = precision;
        const int p = precision == Precision::Float32;
        Trainer::PhaseSeconds run_phases;
        const double run_rate = train_rate(c, model, data, threads, nullptr, &run_phases);
        if (run_rate > rate[p][threads]) {
          rate[p][threads] = run_rate;
          phases[p][threads] = run_phases;
        }
      }
    }
  }
  std::printf("| threads | training samples/s, float64 | float32 | float32 / float64 | us per sample, float64: "
              "samples + optimizer | float32: samples + optimizer |\n|---|---|---|---|---|---|\n");
  const double per_sample = 1e6 / static_cast<double>(data.size());
  for (int threads : {1, 2}) {
    std::printf("| %d | %.0f | %.0f | %.2f | %.1f + %.1f | %.1f + %.1f |\n", threads, rate[0][threads],
                rate[1][threads], rate[1][threads] / rate[0][threads], phases[0][threads].samples * per_sample,
                phases[0][threads].optimizer * per_sample, phases[1][threads].samples * per_sample,
                phases[1][threads].optimizer * per_sample);
  }
  std::printf("\n");
  return {0.0, rate[1][1], rate[1][2]};
}

// This CPU's targets, best first, as "avx2, sse4, scalar".
std::string target_list() {
  std::string out;
  for (const std::string& t : available_targets()) out += (out.empty() ? "" : ", ") + t;
  return out;
}

int run(const Options& o) {
  TrainConfig config = default_config("mnist");
  const DataSplits splits = load_splits("mnist", default_data_dir(), 10000);
  const Dataset data = splits.train.slice(0, std::min(o.samples, splits.train.size()));
  Model model = o.model_path.empty() ? build_model(config, data) : load_model(o.model_path);
  if (!o.model_path.empty()) {
    config.hidden = {model.net.layers[0].n_out};
  }
  openblas_set_num_threads(1);

  std::printf("## Throughput, MNIST 784-%d-10, batch %d, %zu training images (%s)\n\n", model.net.layers[0].n_out,
              config.batch_size, data.size(), o.model_path.empty() ? "initial weights" : o.model_path.c_str());
  std::printf("SIMD target: %s (of this CPU's %s)\n\n", active_target().c_str(), target_list().c_str());
  std::printf("Active inputs (input spikes) per image: %.1f, at %.1f distinct times\n\n", mean_active(data),
              mean_input_times(model, data));
  // Every figure is the best of o.repeats runs, 1 and 2 threads alternating:
  // on a shared host a run can lose a core for a while, and the best run is
  // the one that did not.
  std::printf("Each figure: the best of %zu runs, 1 and 2 threads alternating.\n\n", o.repeats);
  std::printf("| threads | training samples/s | inference samples/s | hidden spikes/neuron | output spikes/neuron |\n|---|---|---|---|---|\n");
  const int hidden = model.net.layers[0].n_out;
  double train[3] = {}, infer[3] = {}, ann[3] = {}, ann1_no_step = 0.0;
  Trainer::PhaseSeconds phases[3];  // those of the best training run
  std::vector<double> stages, stages32;  // per stage, float64 and float32
  Model model32 = model;
  model32.net.set_precision(Precision::Float32);
  PassStats epoch_stats;
  for (std::size_t r = 0; r < o.repeats; ++r) {
    for (int threads : {1, 2}) {
      Trainer::PhaseSeconds run_phases;
      const double rate = train_rate(config, model, data, threads, &epoch_stats, &run_phases);
      if (rate > train[threads]) {
        train[threads] = rate;
        phases[threads] = run_phases;
      }
      infer[threads] = std::max(infer[threads], eval_rate(model, data, threads));
      openblas_set_num_threads(threads);
      ann[threads] = std::max(ann[threads], ann_rate(data, data.size(), config.batch_size, hidden, true));
    }
    openblas_set_num_threads(1);
    ann1_no_step = std::max(ann1_no_step, ann_rate(data, data.size(), config.batch_size, hidden, false));
    for (auto [m, best] : {std::pair{&model, &stages}, std::pair{&model32, &stages32}}) {
      const std::vector<double> run_stages = stage_times(*m, data);
      if (best->empty()) *best = run_stages;
      for (std::size_t k = 0; k < best->size(); ++k) (*best)[k] = std::min((*best)[k], run_stages[k]);
    }
  }
  // The spike counts are those of the first training epoch from the model's weights, the same in every run.
  const auto epoch_spikes = epoch_stats.spikes_per_neuron();
  for (int threads : {1, 2}) {
    std::printf("| %d | %.0f | %.0f | %.2f | %.2f |\n", threads, train[threads], infer[threads], epoch_spikes[0],
                epoch_spikes[1]);
  }
  const double train1 = train[1], train2 = train[2], ann1 = ann[1], ann2 = ann[2];
  std::printf("\n2 threads / 1 thread (training): %.2f\n\n", train2 / train1);
  const std::array<double, 3> train32 = precision_table(config, model, data, o.repeats);
  std::printf("Training time per sample by phase (the best runs above, us): samples are encoding, forward, backward\n"
              "and pushes, in parallel; the optimizer step follows each batch, its rows split between the threads.\n\n");
  std::printf("| threads | samples | of which waiting for the slowest thread | optimizer |\n|---|---|---|---|\n");
  for (int threads : {1, 2}) {
    const double per_sample = 1e6 / static_cast<double>(data.size());
    std::printf("| %d | %.1f | %.1f | %.1f |\n", threads, phases[threads].samples * per_sample,
                phases[threads].samples_wait * per_sample, phases[threads].optimizer * per_sample);
  }
  std::printf("\n");

  std::printf("## Against a dense float32 MLP of the same shape (OpenBLAS sgemm, forward + backward + SGD step)\n\n");
  std::printf("| threads | SNN us/sample | ANN us/sample | SNN / ANN |\n|---|---|---|---|\n");
  std::printf("| 1 | %.1f | %.1f | %.2f |\n", 1e6 / train1, 1e6 / ann1, ann1 / train1);
  std::printf("| 2 | %.1f | %.1f | %.2f |\n", 1e6 / train2, 1e6 / ann2, ann2 / train2);
  // The SNN in float32 (the precision table above) against the same ANN runs.
  std::printf("| 1, SNN in float32 | %.1f | %.1f | %.2f |\n", 1e6 / train32[1], 1e6 / ann1, ann1 / train32[1]);
  std::printf("| 2, SNN in float32 | %.1f | %.1f | %.2f |\n", 1e6 / train32[2], 1e6 / ann2, ann2 / train32[2]);

  double forward_backward = 0.0;
  for (double us : stages) forward_backward += us;
  std::printf("| 1, forward + backward only (SNN: the stages below; ANN: no SGD step) | %.1f | %.1f | %.2f |\n\n",
              forward_backward, 1e6 / ann1_no_step, forward_backward * ann1_no_step / 1e6);

  const std::size_t n_layers = model.net.layers.size();
  std::printf("## Time per training sample by stage (1 thread, us)\n\n| precision | encoding |");
  for (std::size_t l = 0; l < n_layers; ++l) std::printf(" layer %zu forward |", l);
  std::printf(" readout |");
  for (std::size_t l = n_layers; l-- > 0;) std::printf(" layer %zu reverse |", l);
  std::printf(" the rest: optimizer, pushes, statistics |\n|");
  for (std::size_t k = 0; k < stages.size() + 2; ++k) std::printf("---|");
  std::printf("\n");
  for (auto [name, row, rate] : {std::tuple{"float64", &stages, train1}, std::tuple{"float32", &stages32, train32[1]}}) {
    std::printf("| %s |", name);
    double sum = 0.0;
    for (double us : *row) {
      std::printf(" %.1f |", us);
      sum += us;
    }
    std::printf(" %.1f |\n", 1e6 / rate - sum);
  }
  std::printf("\n");

  if (!o.scaling) return 0;
  const Dataset small = data.slice(0, std::min<std::size_t>(data.size(), 3000));
  std::printf("## Scaling (1 thread, training, %zu images)\n\n", small.size());
  std::printf("| active inputs per image | us/sample |\n|---|---|\n");
  for (int k : {25, 50, 100, 150}) {
    const Dataset d = brightest(small, k);
    std::printf("| %.0f | %.1f |\n", mean_active(d), 1e6 / train_rate(config, model, d, 1, nullptr));
  }
  std::printf("\n| hidden neurons | us/sample | hidden spikes/neuron |\n|---|---|---|\n");
  for (int width : {100, 200, 400, 800, 1600}) {
    TrainConfig c = config;
    c.hidden = {width};
    PassStats stats;
    const double rate = train_rate(c, build_model(c, small), small, 1, &stats);
    std::printf("| %d | %.1f | %.2f |\n", width, 1e6 / rate, stats.spikes_per_neuron()[0]);
  }
  std::printf("\n| max_spikes | us/sample | hidden spikes/neuron | output spikes/neuron |\n|---|---|---|---|\n");
  for (int max_spikes : {1, 2, 4, 8, 0}) {
    Model m = model;
    for (Layer& l : m.net.layers) l.neuron.max_spikes = max_spikes;
    PassStats stats;
    const double rate = train_rate(config, m, small, 1, &stats);
    const auto spikes = stats.spikes_per_neuron();
    std::printf("| %s | %.1f | %.2f | %.2f |\n", max_spikes ? std::to_string(max_spikes).c_str() : "unlimited", 1e6 / rate,
                spikes[0], spikes[1]);
  }
  return 0;
}

}  // namespace
}  // namespace spiketime

// The positive whole number written in `text`, or 0 when it is not one.
std::size_t parse_count(const char* text) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text, &end, 10);
  return end != text && *end == '\0' && text[0] != '-' ? static_cast<std::size_t>(n) : 0;
}

int main(int argc, char** argv) {
  spiketime::Options o;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--model" && a + 1 < argc) {
      o.model_path = argv[++a];
    } else if (arg == "--no-scaling") {
      o.scaling = false;
    } else if ((arg == "--samples" || arg == "--repeats") && a + 1 < argc) {
      const std::size_t n = parse_count(argv[++a]);
      if (n == 0) {
        std::fprintf(stderr, "snn_vs_ann: %s needs a positive whole number, got '%s'\n", arg.c_str(), argv[a]);
        return 2;
      }
      (arg == "--samples" ? o.samples : o.repeats) = n;
    } else {
      std::fprintf(stderr, "snn_vs_ann: unknown argument '%s' (--model FILE, --samples N, --repeats N, --no-scaling)\n", arg.c_str());
      return 2;
    }
  }
  try {
    spiketime::select_target_from_environment();
    return spiketime::run(o);
  } catch (const spiketime::InputError& e) {
    std::fprintf(stderr, "snn_vs_ann: %s\n", e.what());
    return 2;
  }
}
