// One fully connected layer of LIF neurons, simulated event by event, and its
// exact reverse pass (MODEL.md section 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spiketime/neuron.hpp"

namespace spiketime {

// The spikes of a population in time order (ties keep neuron order), stored
// as two parallel arrays so that sweeps over them stay contiguous.
struct SpikeTrain {
  std::vector<double> times;
  std::vector<int32_t> neurons;

  std::size_t size() const { return times.size(); }
  void clear() {
    times.clear();
    neurons.clear();
  }
  void push(double t, int32_t neuron) {
    times.push_back(t);
    neurons.push_back(neuron);
  }
};

// Builds a train from one ascending list of times per neuron.
SpikeTrain merge_spike_lists(const std::vector<std::vector<double>>& per_neuron);
// The inverse: one ascending list per neuron, for n_neurons neurons.
std::vector<std::vector<double>> split_spike_train(const SpikeTrain& train, int n_neurons);

// The arithmetic of the passes. Float64 is the reference (simulate, the
// finite-difference tests); Float32 keeps weights, potentials, currents and
// the reverse pass's sums in float32 (docs/TRAINING.md, Precision), while
// the crossing search, the gradients and the optimizer stay float64.
enum class Precision { Float64, Float32 };
const char* precision_name(Precision p);           // "float64", "float32"
Precision parse_precision(const std::string& name);  // throws InputError naming the choices

struct Layer {
  // Rows are padded with zeros to a multiple of this many weights, a
  // multiple of every SIMD target's vector width in floats (16 on AVX-512),
  // so that the vector kernels read and write whole vectors only, in either
  // precision. (It was 8, the widest in doubles: the float32 pass then read
  // past the last row, which AddressSanitizer caught.)
  static constexpr int kRowMultiple = 16;

  NeuronParams neuron;
  int n_in = 0;
  int n_out = 0;
  // Input-major: weights[j * stride() + i] is the weight from input j to
  // neuron i, so an input spike touches one contiguous row. The padding
  // (i >= n_out) stays zero. Gradients and optimizer state share the layout.
  std::vector<double> weights;
  // In float32, a copy of weights in the same layout, which the passes read
  // instead; empty in float64. Whoever changes weights refreshes it.
  std::vector<float> weights32;

  Layer() = default;
  Layer(NeuronParams p, int inputs, int outputs)
      : neuron(p), n_in(inputs), n_out(outputs), weights(static_cast<std::size_t>(inputs) * stride(), 0.0) {}
  std::size_t stride() const {
    return static_cast<std::size_t>((n_out + kRowMultiple - 1) / kRowMultiple * kRowMultiple);
  }
  Precision precision() const { return weights32.empty() ? Precision::Float64 : Precision::Float32; }
  void set_precision(Precision p);  // fills or frees weights32
  // weights32 from weights (nothing in float64). The trainer's optimizer
  // step writes both in one pass instead (kernels::OptimizerArgs).
  void refresh_float32();
  double& weight(int out, int in) { return weights[static_cast<std::size_t>(in) * stride() + out]; }
  double weight(int out, int in) const { return weights[static_cast<std::size_t>(in) * stride() + out]; }
  // An array of this layout without the padding (n_in x n_out, the file
  // layout), and back.
  std::vector<double> packed(const std::vector<double>& padded) const;
  std::vector<double> padded(const std::vector<double>& packed) const;
  // The weights from a framework's (n_out, n_in) array in any layout: the
  // weight from input j to neuron i at w[i * neuron_stride + j *
  // input_stride] (in elements), converted to double. Neuron-major rows
  // (input_stride 1) are transposed in cache-sized tiles; the transposed view
  // of an input-major array (neuron_stride 1) is copied row by row. Only the
  // inputs [first_input, end_input) when given (threads can share the copy).
  // Returns false when a weight is not finite (the layer then holds it).
  template <class T>
  bool set_weights(const T* w, std::ptrdiff_t neuron_stride, std::ptrdiff_t input_stride, int first_input = 0,
                   int end_input = -1);
  // The weights from and to the neuron-major form, rows[i * n_in + j] from
  // input j to neuron i.
  void set_from_rows(const double* rows) { set_weights(rows, n_in, 1); }
  void rows(double* out) const { rows_of(weights, n_in, n_out, stride(), out); }
  // The same for any array of this layout (a gradient).
  static void rows_of(const std::vector<double>& padded, int n_in, int n_out, std::size_t stride, double* rows);
};

// The input train as the forward pass steps through it: each distinct input
// time up to t_end, with the decay since the previous one (none for the
// first) and the range of input spikes at that time, then the stretch to
// t_end without input.
struct InputStep {
  double t0, dt;  // the step moves the state from t0 to t0 + dt, then adds the jumps
  Decay f;
  uint32_t first, last;
};

// What the forward pass leaves for the reverse pass.
struct LayerTrace {
  SpikeTrain spikes;                    // the layer's output, in time order
  std::vector<double> current_at_spike;  // I of the spiking neuron at each spike
  std::vector<int32_t> spike_counts;    // per neuron
  std::vector<InputStep> steps;          // the reverse pass reuses their decays
};

// Reusable scratch memory: one per thread, so that no pass allocates once warm.
struct LayerWorkspace {
  // Forward. Per neuron (padded to whole blocks): the threshold, infinite once
  // max_spikes is used up or for padding.
  std::vector<double> threshold;
  struct PendingSpike {
    double time;
    int32_t neuron;
    uint32_t step;  // the step in which the neuron crossed
    double current;
  };
  std::vector<PendingSpike> pending;  // spikes in neuron-block order
  struct SortKey {
    double time;
    uint32_t rank;  // in the step-grouped order
  };
  std::vector<SortKey> sort_keys, bucket_keys;
  // Counting sorts (forward: spikes by step; reverse: output spikes by block):
  // where each group starts, and the indices in group order.
  std::vector<uint32_t> group_start, order;
  std::vector<uint32_t> bucket_start, bucket_order;  // sorting within a step (forward)
  // Reverse: lambda per output spike, the reset chain per neuron; per output
  // spike the input after which it enters the sums and its decay from there; per
  // input spike the shift factors to the previous input and the lane sums of
  // dL/dt.
  std::vector<double> lambda, reset_sum, reset_time;
  std::vector<int32_t> entry;
  std::vector<Decay> entry_decay;
  std::vector<Decay> shift;
  std::vector<double> slope;
};

// Guard against grazing crossings, where dV/dt at threshold is near zero and
// the implicit-function gradient explodes: dV/dt is floored at
// min_vdot * theta / tau_m in the reverse pass. 0 gives the raw exact gradient.
struct GradientGuard {
  double min_vdot = 0.0;
};

// Bounds on the work of one sample, far above any network that learns (MNIST
// networks fire a few spikes per neuron), so that one driven too hard stops
// with an error naming the neuron instead of filling memory (a weight of 1e8
// asked for 5 x 10^7 spikes of one neuron). docs/LIMITS.md lists them.
struct SpikeLimits {
  int64_t per_neuron = 100'000;     // spikes of one neuron in one sample
  int64_t per_sample = 10'000'000;  // spikes of every layer together in one sample
  int64_t earlier = 0;              // layer_forward: the sample's spikes in the layers below
};

// Simulates the layer on (-inf, t_end] for the given input spikes; input
// spikes after t_end are ignored. Throws SpikeLimitError (naming the neuron)
// when a neuron fires more than limits.per_neuron times, when the layer and
// the layers below fire more than limits.per_sample times, or when a neuron fires twice at the same
// instant (time constants too short for the precision of the window).
void layer_forward(const Layer& layer, const SpikeTrain& input, double t_end, LayerTrace& trace,
                   LayerWorkspace& ws, CrossingSolver solver = CrossingSolver::Automatic, SpikeLimits limits = {});

// Given dL/dt for every output spike (same order as trace.spikes), adds dL/dw
// to grad_weights (layout of Layer::weights) and writes dL/dt for every input
// spike to grad_input_times (size input.size()), unless it is null (the
// first layer in training: the data's spike times have no parameters).
void layer_backward(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                    const double* grad_output_times, GradientGuard guard, double* grad_weights,
                    double* grad_input_times, LayerWorkspace& ws);
// The same with dL/dw summed in float32, for a float32 layer (the trainer's
// float32 path: half the memory traffic); throws std::invalid_argument for
// a float64 layer.
void layer_backward(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                    const double* grad_output_times, GradientGuard guard, float* grad_weights,
                    double* grad_input_times, LayerWorkspace& ws);

}  // namespace spiketime
