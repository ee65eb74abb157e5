// A network over a batch of samples given as padded arrays, the form in which
// frameworks (numpy, PyTorch) hold spike times: times[b][j][k] is the k-th
// spike of neuron j in sample b, ascending in k, padded with +inf (no spike).
// The forward pass keeps each sample's traces for the exact reverse pass; the
// samples are spread over the threads of a pool. Between layers the spikes
// stay spike trains: only the input and the last layer's output are padded.
#pragma once

#include <cstdint>
#include <vector>

#include "spiketime/network.hpp"
#include "spiketime/thread_pool.hpp"

namespace spiketime {

// A [batch][neurons][slots] array of doubles, row-major.
struct PaddedTimes {
  const double* data = nullptr;
  int batch = 0, neurons = 0, slots = 0;
};

class NetworkBatch {
 public:
  // Checks the input (every entry finite or +inf, ascending per neuron, the
  // padding last; an InputError names the sample, neuron and slot
  // otherwise), then simulates each sample on (-inf, net.t_end].
  NetworkBatch(Network net, PaddedTimes input, ThreadPool& pool);

  const Network& network() const { return net_; }
  int batch() const { return batch_; }
  int output_slots() const { return out_slots_; }  // the largest spike count of any last-layer neuron
  // The last layer's spikes as [batch][n_out][output_slots()], padded with +inf.
  void output(double* out) const;
  // The spike count of every neuron of layer l in every sample, [batch][n_l].
  void spike_counts(std::size_t l, int32_t* out) const;
  // Given dL/dt for every output slot ([batch][n_out][output_slots()], the
  // padding ignored), writes dL/dw of each layer as [n_out][n_in] into
  // grad_weights[l] (summed over the batch, thread partial sums added in
  // thread order) and, unless grad_input is null, dL/dt for every input slot
  // ([batch][n_in][slots], 0 at the padding).
  void backward(const double* grad_output, GradientGuard guard, const std::vector<double*>& grad_weights,
                double* grad_input, ThreadPool& pool);

 private:
  struct Event {
    double t;
    int32_t neuron, slot;
  };
  // Checks sample b of the input and merges it into inputs_[b] (time order).
  void merge_sample(const PaddedTimes& input, std::size_t b, std::vector<Event>& events);

  Network net_;
  int batch_, in_slots_, out_slots_ = 0;
  std::vector<SpikeTrain> inputs_;
  std::vector<std::vector<int32_t>> input_slot_;  // per sample: the slot of each input spike (train order)
  std::vector<std::vector<LayerTrace>> traces_;   // per sample, per layer
};

}  // namespace spiketime
