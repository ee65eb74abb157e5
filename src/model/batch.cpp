#include "spiketime/batch.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>

#include "spiketime/error.hpp"

namespace spiketime {
namespace {

constexpr double kNoSpike = std::numeric_limits<double>::infinity();

}  // namespace

void NetworkBatch::forward(PaddedTimes input, ThreadPool& pool) {
  ready_ = false;
  if (input.neurons != net_.n_inputs()) {
    throw InputError("times: has " + std::to_string(input.neurons) + " input neurons, the network takes " +
                     std::to_string(net_.n_inputs()));
  }
  batch_ = input.batch;
  in_slots_ = input.slots;
  const auto n = static_cast<std::size_t>(batch_);
  inputs_.resize(n);  // shrinking or growing keeps the memory of the samples that stay
  input_slot_.resize(n);
  traces_.resize(n);
  if (threads_.size() != static_cast<std::size_t>(pool.size())) reset_gradients(static_cast<std::size_t>(pool.size()));
  // Each thread checks and merges its samples, then simulates them; the
  // error of the lowest sample, if any, is raised on the calling thread.
  std::vector<std::exception_ptr> errors(n);
  pool.run([&](int t) {
    ThreadScratch& ts = threads_[static_cast<std::size_t>(t)];
    ts.most_spikes = 0;
    const auto [begin, end] = split_range(n, pool.size(), t);
    for (std::size_t b = begin; b < end; ++b) {
      try {
        merge_sample(input, b, ts.events);
      } catch (const InputError&) {
        errors[b] = std::current_exception();
        continue;
      }
      network_forward(net_, inputs_[b], ts.ws);
      traces_[b].swap(ts.ws.traces);  // the workspace takes the sample's old traces, and their memory
      for (int32_t c : traces_[b].back().spike_counts) ts.most_spikes = std::max(ts.most_spikes, static_cast<int>(c));
    }
  });
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  out_slots_ = 0;
  for (const ThreadScratch& ts : threads_) out_slots_ = std::max(out_slots_, ts.most_spikes);
  ready_ = true;
}

void NetworkBatch::reset_gradients(std::size_t n_threads) {
  threads_.resize(n_threads);
  for (ThreadScratch& ts : threads_) {
    ts.grad.reset(net_);
    ts.touched.resize(net_.layers.size());
    for (std::size_t l = 0; l < net_.layers.size(); ++l) ts.touched[l].assign(static_cast<std::size_t>(net_.layers[l].n_in), 0);
  }
  gradients_clear_ = true;
}

bool NetworkBatch::gradients_fit(std::size_t n_threads) const {
  if (threads_.size() != n_threads) return false;
  for (const ThreadScratch& ts : threads_) {
    if (ts.grad.weights.size() != net_.layers.size()) return false;
    for (std::size_t l = 0; l < net_.layers.size(); ++l) {
      if (ts.grad.weights[l].size() != net_.layers[l].weights.size()) return false;
      if (ts.touched[l].size() != static_cast<std::size_t>(net_.layers[l].n_in)) return false;
    }
  }
  return true;
}

void NetworkBatch::merge_sample(const PaddedTimes& input, std::size_t b, std::vector<Event>& events) {
  const auto n_in = static_cast<std::size_t>(input.neurons), slots = static_cast<std::size_t>(in_slots_);
  events.clear();
  for (std::size_t j = 0; j < n_in; ++j) {
    const double* row = input.data + (b * n_in + j) * slots;
    bool padding = false;
    for (std::size_t k = 0; k < slots; ++k) {
      const double t = row[k];
      if (t == kNoSpike) {
        padding = true;
        continue;
      }
      const auto fail = [&](const std::string& problem) {
        throw InputError("times[" + std::to_string(b) + ", " + std::to_string(j) + ", " + std::to_string(k) +
                         "]: " + problem);
      };
      if (std::isnan(t) || t == -kNoSpike) fail("is " + std::to_string(t) + "; a spike time is finite, +inf marks no spike");
      if (padding) fail("follows a +inf; each neuron's times ascend, the +inf padding last");
      if (k > 0 && t < row[k - 1]) fail("comes before the slot before it; each neuron's times must ascend");
      events.push_back({t, static_cast<int32_t>(j), static_cast<int32_t>(k)});
    }
  }
  // Time order, ties by neuron index (as merge_spike_lists orders them).
  std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
    return x.t != y.t ? x.t < y.t : x.neuron != y.neuron ? x.neuron < y.neuron : x.slot < y.slot;
  });
  inputs_[b].clear();
  input_slot_[b].clear();
  for (const Event& e : events) {
    inputs_[b].push(e.t, e.neuron);
    input_slot_[b].push_back(e.slot);
  }
}

void NetworkBatch::output(double* out) const {
  const auto n_out = static_cast<std::size_t>(net_.n_outputs()), slots = static_cast<std::size_t>(out_slots_);
  std::fill(out, out + static_cast<std::size_t>(batch_) * n_out * slots, kNoSpike);
  std::vector<std::size_t> filled(n_out);
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch_); ++b) {
    std::fill(filled.begin(), filled.end(), 0);
    const SpikeTrain& spikes = traces_[b].back().spikes;
    for (std::size_t e = 0; e < spikes.size(); ++e) {
      const auto i = static_cast<std::size_t>(spikes.neurons[e]);
      out[(b * n_out + i) * slots + filled[i]++] = spikes.times[e];
    }
  }
}

void NetworkBatch::spike_counts(std::size_t l, int32_t* out) const {
  const auto n = static_cast<std::size_t>(net_.layers.at(l).n_out);
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch_); ++b) {
    std::copy(traces_[b][l].spike_counts.begin(), traces_[b][l].spike_counts.end(), out + b * n);
  }
}

template <class T>
void NetworkBatch::backward(const double* grad_output, GradientGuard guard, const std::vector<T*>& grad_weights,
                            double* grad_input, ThreadPool& pool) {
  if (!ready_) throw std::logic_error("NetworkBatch::backward: no finished forward pass to reverse");
  const auto n_out = static_cast<std::size_t>(net_.n_outputs()), n_in = static_cast<std::size_t>(net_.n_inputs());
  const auto out_slots = static_cast<std::size_t>(out_slots_), in_slots = static_cast<std::size_t>(in_slots_);
  const auto n_threads = static_cast<std::size_t>(pool.size());
  const std::size_t n_layers = net_.layers.size();
  if (!gradients_clear_ || !gradients_fit(n_threads)) reset_gradients(n_threads);
  gradients_clear_ = false;
  if (grad_input) std::fill(grad_input, grad_input + static_cast<std::size_t>(batch_) * n_in * in_slots, 0.0);
  pool.run([&](int t) {
    ThreadScratch& ts = threads_[static_cast<std::size_t>(t)];
    ts.grad.with_input_times = grad_input != nullptr;
    ts.filled.resize(n_out);
    const auto [begin, end] = split_range(static_cast<std::size_t>(batch_), pool.size(), t);
    for (std::size_t b = begin; b < end; ++b) {
      const SpikeTrain& spikes = traces_[b].back().spikes;
      ts.grad_out.resize(spikes.size());
      std::fill(ts.filled.begin(), ts.filled.end(), 0);
      for (std::size_t e = 0; e < spikes.size(); ++e) {
        const auto i = static_cast<std::size_t>(spikes.neurons[e]);
        ts.grad_out[e] = grad_output[(b * n_out + i) * out_slots + ts.filled[i]++];
      }
      for (std::size_t l = 0; l < n_layers; ++l) {
        const SpikeTrain& below = l == 0 ? inputs_[b] : traces_[b][l - 1].spikes;
        for (int32_t j : below.neurons) ts.touched[l][static_cast<std::size_t>(j)] = 1;
      }
      ts.ws.traces.swap(traces_[b]);  // the sample's traces, borrowed for the pass
      network_backward(net_, inputs_[b], ts.grad_out, guard, ts.grad, ts.ws);
      ts.ws.traces.swap(traces_[b]);
      if (!grad_input) continue;
      for (std::size_t e = 0; e < inputs_[b].size(); ++e) {
        const auto j = static_cast<std::size_t>(inputs_[b].neurons[e]);
        grad_input[(b * n_in + j) * in_slots + static_cast<std::size_t>(input_slot_[b][e])] = ts.grad.input_times[e];
      }
    }
  });
  // One pass over the rows, each thread owning a range of them in every
  // layer: the partial sums in thread order, written out unpadded and
  // converted, and the partial rows cleared for the next pass. A row that no
  // thread touched is zero everywhere and is not read (the border pixels of
  // MNIST, for instance).
  pool.run([&](int t) {
    std::vector<double> sum;
    for (std::size_t l = 0; l < n_layers; ++l) {
      const Layer& layer = net_.layers[l];
      const auto width = static_cast<std::size_t>(layer.n_out);
      sum.resize(width);
      const auto [row_begin, row_end] = split_range(static_cast<std::size_t>(layer.n_in), pool.size(), t);
      for (std::size_t j = row_begin; j < row_end; ++j) {
        std::fill(sum.begin(), sum.end(), 0.0);
        for (ThreadScratch& ts : threads_) {
          if (!ts.touched[l][j]) continue;
          ts.touched[l][j] = 0;
          double* __restrict partial = ts.grad.weights[l].data() + j * layer.stride();
          for (std::size_t i = 0; i < width; ++i) {
            sum[i] += partial[i];
            partial[i] = 0.0;
          }
        }
        T* __restrict out = grad_weights[l] + j * width;
        for (std::size_t i = 0; i < width; ++i) out[i] = static_cast<T>(sum[i]);
      }
    }
  });
  gradients_clear_ = true;
}

template void NetworkBatch::backward(const double*, GradientGuard, const std::vector<double*>&, double*, ThreadPool&);
template void NetworkBatch::backward(const double*, GradientGuard, const std::vector<float*>&, double*, ThreadPool&);

}  // namespace spiketime
