// One layer over a batch of samples given as padded arrays, the form in which
// frameworks (numpy, PyTorch) hold spike times: times[b][j][k] is the k-th
// spike of neuron j in sample b, ascending in k, padded with +inf (no spike).
// The forward pass keeps each sample's trace for the exact reverse pass; the
// samples are spread over the threads of a pool.
#pragma once

#include <cstdint>
#include <vector>

#include "spiketime/layer.hpp"
#include "spiketime/thread_pool.hpp"

namespace spiketime {

// A [batch][neurons][slots] array of doubles, row-major.
struct PaddedTimes {
  const double* data = nullptr;
  int batch = 0, neurons = 0, slots = 0;
};

class LayerBatch {
 public:
  // Checks the input (every entry finite or +inf, ascending per neuron; an
  // InputError names the sample, neuron and slot otherwise), then simulates
  // each sample on (-inf, t_end].
  LayerBatch(Layer layer, double t_end, PaddedTimes input, ThreadPool& pool);

  int batch() const { return batch_; }
  int output_slots() const { return out_slots_; }  // the largest spike count of any output neuron
  // The output spikes as [batch][n_out][output_slots()], padded with +inf.
  void output(double* out) const;
  // Given dL/dt for every output slot ([batch][n_out][output_slots()], the
  // padding ignored), writes dL/dw as [n_out][n_in] (summed over the batch,
  // thread partial sums added in thread order) and, unless grad_input is
  // null, dL/dt for every input slot ([batch][n_in][slots], 0 at padding).
  void backward(const double* grad_output, GradientGuard guard, double* grad_weights, double* grad_input,
                ThreadPool& pool) const;

 private:
  struct Event {
    double t;
    int32_t neuron, slot;
  };
  // Checks sample b of the input and merges it into inputs_[b] (time order).
  void merge_sample(const PaddedTimes& input, std::size_t b, std::vector<Event>& events);

  Layer layer_;
  double t_end_;
  int batch_, in_slots_, out_slots_ = 0;
  std::vector<SpikeTrain> inputs_;
  std::vector<std::vector<int32_t>> input_slot_;  // per sample: the slot of each input spike (train order)
  std::vector<LayerTrace> traces_;
};

}  // namespace spiketime
