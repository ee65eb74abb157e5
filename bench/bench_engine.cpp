// Engine throughput on real MNIST digits: forward, and forward + backward, of
// a 784-800-10 multi-spike network, on 1 and 2 threads, in float64 (second
// argument 0) and float32 (1).
//
//   build/bench/bench_engine [--benchmark_...]     (data: $SPIKETIME_DATA or ./data)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "spiketime/dataset.hpp"
#include "spiketime/encoding.hpp"
#include "spiketime/error.hpp"
#include "spiketime/init.hpp"
#include "spiketime/loss.hpp"
#include "spiketime/network.hpp"
#include "spiketime/simd.hpp"
#include "spiketime/thread_pool.hpp"

namespace spiketime {
namespace {

constexpr std::size_t kBatch = 512;

struct Setup {
  Dataset data;
  Network net;
  Encoding encoding;
  std::vector<SpikeTrain> inputs;  // encoded once: the benchmark times the network

  Setup() {
    const char* env = std::getenv("SPIKETIME_DATA");
    const std::string dir = std::string(env ? env : "data") + "/mnist/";
    data = load_idx(dir + "t10k-images-idx3-ubyte", dir + "t10k-labels-idx1-ubyte");
    NeuronParams p;
    p.tau_m = 10.0;
    p.tau_s = 5.0;
    net.t_end = 40.0;
    encoding.t_in_max = 10.0;
    std::mt19937_64 rng(1);
    net.layers.emplace_back(p, data.n_features, 800);
    net.layers.emplace_back(p, 800, 10);
    // About 140 pixels spike per digit and each hidden neuron about 3 times.
    initialize_weights(net.layers[0], rng, 140.0, 2.0, 2.0);
    initialize_weights(net.layers[1], rng, 800.0 * 3, 3.0, 2.0);
    inputs.resize(kBatch);
    for (std::size_t s = 0; s < kBatch; ++s) encode_latency(data.sample(s), data.n_features, encoding, inputs[s]);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

void run_batch(benchmark::State& state, bool backward) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  Network net = s.net;
  net.set_precision(state.range(1) ? Precision::Float32 : Precision::Float64);
  ThreadPool pool(threads);
  std::vector<NetworkWorkspace> ws(static_cast<std::size_t>(threads));
  std::vector<NetworkGradient> grads(static_cast<std::size_t>(threads));
  std::vector<std::vector<double>> grad_out(static_cast<std::size_t>(threads));
  for (auto& g : grads) g.reset(net);
  std::vector<double> hidden_spikes(static_cast<std::size_t>(threads));
  for (auto _ : state) {
    pool.run([&](int t) {
      const auto [begin, end] = split_range(kBatch, threads, t);
      for (std::size_t i = begin; i < end; ++i) {
        network_forward(net, s.inputs[i], ws[t]);
        hidden_spikes[t] += static_cast<double>(ws[t].traces[0].spikes.size());
        if (!backward) continue;
        first_spike_cross_entropy(ws[t].traces[1], 10, s.data.labels[i], net.t_end, 5.0, grad_out[t]);
        network_backward(net, s.inputs[i], grad_out[t], GradientGuard{0.1}, grads[t], ws[t]);
      }
    });
  }
  double total = 0.0;
  for (double h : hidden_spikes) total += h;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["hidden_spikes_per_neuron"] = total / (static_cast<double>(state.iterations() * kBatch) * 800.0);
  double inputs = 0.0;
  for (const auto& in : s.inputs) inputs += static_cast<double>(in.size());
  state.counters["input_spikes_per_sample"] = inputs / kBatch;
}

void BM_Forward(benchmark::State& state) { run_batch(state, false); }
void BM_ForwardBackward(benchmark::State& state) { run_batch(state, true); }

BENCHMARK(BM_Forward)->ArgsProduct({{1, 2}, {0, 1}})->ArgNames({"threads", "float32"})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ForwardBackward)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->ArgNames({"threads", "float32"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace spiketime

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  try {
    spiketime::select_target_from_environment();
    benchmark::AddCustomContext("spiketime SIMD target", spiketime::active_target());
    spiketime::setup();
  } catch (const spiketime::InputError& e) {
    std::cerr << "bench_engine: " << e.what() << " (run scripts/fetch-data.sh first)\n";
    return 2;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
