// A network over a batch of samples given as padded arrays, the form in which
// frameworks (numpy, PyTorch) hold spike times: times[b][j][k] is the k-th
// spike of neuron j in sample b, ascending in k, padded with +inf (no spike).
// The forward pass keeps each sample's traces for the exact reverse pass; the
// samples are spread over the threads of a pool. Between layers the spikes
// stay spike trains: only the input and the last layer's output are padded.
//
// One object serves pass after pass: its traces, workspaces and per-thread
// gradients keep their memory, so that a warm batch allocates nothing (a
// framework calls it once per training step; fresh memory for each call
// cost page faults and clearing of the same order as the reverse pass).
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
  // The network the passes run. Set its layers (shapes, parameters,
  // weights) and t_end before forward(); it must pass Network::validate.
  Network& network() { return net_; }
  const Network& network() const { return net_; }

  // Checks the input (every entry finite or +inf, ascending per neuron, the
  // padding last; an InputError names the sample, neuron and slot
  // otherwise), then simulates each sample on (-inf, t_end].
  void forward(PaddedTimes input, ThreadPool& pool);

  int batch() const { return batch_; }
  int input_slots() const { return in_slots_; }
  int output_slots() const { return out_slots_; }  // the largest spike count of any last-layer neuron
  // The last layer's spikes as [batch][n_out][output_slots()], padded with +inf.
  void output(double* out) const;
  // The spike count of every neuron of layer l in every sample, [batch][n_l].
  void spike_counts(std::size_t l, int32_t* out) const;
  // Given dL/dt for every output slot ([batch][n_out][output_slots()], the
  // padding ignored), writes dL/dw of each layer, summed over the batch, into
  // grad_weights[l] input-major and unpadded (the weight from input j to
  // neuron i at j * n_out + i: the transpose of a framework's (n_out, n_in)
  // array, so that a transposed view of it has that shape), as T. Thread
  // partial sums are added in thread order. Unless grad_input is null, also
  // writes dL/dt for every input slot ([batch][n_in][slots], 0 at the
  // padding). Needs the forward() before it, with the network unchanged.
  template <class T>
  void backward(const double* grad_output, GradientGuard guard, const std::vector<T*>& grad_weights,
                double* grad_input, ThreadPool& pool);

 private:
  struct Event {
    double t;
    int32_t neuron, slot;
  };
  struct ThreadScratch {
    NetworkWorkspace ws;
    // Its share of dL/dw, all zero between passes: backward() clears the
    // rows it reads. touched[l][j]: row j of layer l may be non-zero (input j
    // spiked in one of the thread's samples); the other rows are not read.
    NetworkGradient grad;
    std::vector<std::vector<uint8_t>> touched;
    std::vector<Event> events;
    std::vector<double> grad_out;
    std::vector<std::size_t> filled;
    int most_spikes = 0;
  };
  // Checks sample b of the input and merges it into inputs_[b] (time order).
  void merge_sample(const PaddedTimes& input, std::size_t b, std::vector<Event>& events);
  // Shapes the per-thread gradients like the network, all zero; and whether
  // they have that shape.
  void reset_gradients(std::size_t n_threads);
  bool gradients_fit(std::size_t n_threads) const;

  Network net_;
  int batch_ = 0, in_slots_ = 0, out_slots_ = 0;
  bool ready_ = false;            // a forward pass has finished
  bool gradients_clear_ = false;  // every partial gradient is zero (no reverse pass was cut short)
  std::vector<SpikeTrain> inputs_;
  std::vector<std::vector<int32_t>> input_slot_;  // per sample: the slot of each input spike (train order)
  std::vector<std::vector<LayerTrace>> traces_;   // per sample, per layer
  std::vector<ThreadScratch> threads_;
};

}  // namespace spiketime
