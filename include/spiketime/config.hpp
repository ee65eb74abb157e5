// Training configuration: every field has a default (per data set), can be
// set from a JSON config file or `--set key=value`, and is written back out
// fully resolved with each run.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spiketime/layer.hpp"        // SpikeLimits, Precision
#include "spiketime/model.hpp"        // Readout
#include "spiketime/thread_pool.hpp"  // kMaxThreads

namespace spiketime {

enum class Optimizer { Adam, Sgd };
enum class Schedule { Constant, Step, Cosine };
// What a true-class output that stays silent in a training sample gets (it
// has no spike time, so no exact gradient): Push, the constant silent_push
// per input spike; Peak, the gradient its loss would have if it had fired
// at the peak of its potential, with dV/dt = theta/tau_m there (or the
// min_vdot floor, if higher).
enum class SilentOutput { Push, Peak };
// The names config files use ("adam", "sgd"; "constant", "step",
// "cosine"), and back: an unknown name is an InputError listing the names.
const char* optimizer_name(Optimizer o);
Optimizer parse_optimizer(const std::string& name);
const char* schedule_name(Schedule s);
Schedule parse_schedule(const std::string& name);
const char* silent_output_name(SilentOutput s);  // "push", "peak"
SilentOutput parse_silent_output(const std::string& name);

struct TrainConfig {
  // Data
  std::string dataset = "mnist";
  std::string data_dir;              // empty: $SPIKETIME_DATA or ./data
  std::int64_t validation_size = 10000;  // held out from the end of the training file
  std::int64_t train_limit = 0;      // train on the first N training samples only (0: all)
  // Network: per-layer values take one number (every layer) or one per layer
  std::vector<int> hidden = {800};
  std::vector<double> tau_m = {10.0}, tau_s = {5.0}, theta = {1.0};
  std::vector<int> max_spikes = {0};
  double t_end = 40.0;
  // Encoding
  double t_in_max = 10.0;
  std::vector<double> bias_times = {};
  // Readout and loss
  Readout readout = Readout::FirstSpike;
  double tau_out = 1.0;
  // Optimization
  Optimizer optimizer = Optimizer::Adam;
  double lr = 3e-3, momentum = 0.9, beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  Schedule schedule = Schedule::Cosine;
  int step_epochs = 10;
  double step_gamma = 0.5;
  int epochs = 20;
  int batch_size = 32;
  std::int64_t seed = 1;
  int threads = 0;  // 0: all cores; at most kMaxThreads
  Precision precision = Precision::Float64;  // of the passes (layer.hpp); weights and optimizer stay float64
  // Guards and remedies
  double min_vdot = 1.0;      // dV/dt at threshold floored at min_vdot * theta / tau_m in the reverse pass
  double grad_clip = 0.0;     // clip the batch gradient to this L2 norm (0: off)
  // Regularization
  double weight_decay = 0.0;  // decoupled: each step also does w -= lr * weight_decay * w
  double input_jitter = 0.0;  // std of Gaussian noise on training input spike times
  double input_dropout = 0.0;  // probability of dropping each training input spike
  int input_shift = 0;         // images: each training image moved by up to this many pixels in x and y
  double input_flip = 0.0;     // images: probability of mirroring each training image left to right
  double hidden_dropout = 0.0;  // probability of dropping each hidden neuron per training sample (HiddenDropout)
  // Weight push (per input spike) for silent outputs, and for neurons silent over a whole batch
  double silent_push = 0.01;
  SilentOutput silent_output = SilentOutput::Peak;  // a silent true-class output: push or gradient at its peak
  // Initialization (see init.hpp)
  double init_mean_drive = 2.0, init_std_drive = 2.0;
  double init_hidden_spikes = 3.0;  // expected spikes per hidden neuron, to scale the layer above
  // Work per sample (SpikeLimits): passing one stops the run with an error
  // naming the neuron; the last checkpoint stays.
  std::int64_t spike_limit_per_neuron = SpikeLimits{}.per_neuron;
  std::int64_t spike_limit_per_sample = SpikeLimits{}.per_sample;
};

// The defaults of a data set (MNIST, Fashion-MNIST or Yin-Yang).
TrainConfig default_config(const std::string& dataset);

// Applies the keys of a JSON object. An unknown key or a value of the wrong
// type is an InputError naming the key (and `source`, e.g. the file).
void apply_config(TrainConfig& config, const nlohmann::json& object, const std::string& source);
// `key=value`, value parsed as JSON where it can be (numbers, lists), else as a string.
void apply_setting(TrainConfig& config, const std::string& assignment);
nlohmann::json config_to_json(const TrainConfig& config);
// Checks ranges and consistency; throws InputError naming the key.
void validate_config(const TrainConfig& config);

// The value of a per-layer setting for layer l.
template <typename T>
T per_layer(const std::vector<T>& values, std::size_t l) {
  return values.size() == 1 ? values[0] : values[l];
}

}  // namespace spiketime
