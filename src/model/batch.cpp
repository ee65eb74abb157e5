#include "spiketime/batch.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "spiketime/error.hpp"

namespace spiketime {
namespace {

constexpr double kNoSpike = std::numeric_limits<double>::infinity();

}  // namespace

NetworkBatch::NetworkBatch(Network net, PaddedTimes input, ThreadPool& pool)
    : net_(std::move(net)), batch_(input.batch), in_slots_(input.slots) {
  if (input.neurons != net_.n_inputs()) {
    throw InputError("times: has " + std::to_string(input.neurons) + " input neurons, the network takes " +
                     std::to_string(net_.n_inputs()));
  }
  const auto n = static_cast<std::size_t>(batch_);
  inputs_.resize(n);
  input_slot_.resize(n);
  traces_.resize(n);
  // Each thread checks and merges its samples, then simulates them; the
  // error of the lowest sample, if any, is raised on the calling thread.
  std::vector<std::exception_ptr> errors(n);
  std::vector<int> most(static_cast<std::size_t>(pool.size()), 0);
  pool.run([&](int t) {
    NetworkWorkspace ws;
    std::vector<Event> events;
    const auto [begin, end] = split_range(n, pool.size(), t);
    for (std::size_t b = begin; b < end; ++b) {
      try {
        merge_sample(input, b, events);
      } catch (const InputError&) {
        errors[b] = std::current_exception();
        continue;
      }
      network_forward(net_, inputs_[b], ws);
      traces_[b].swap(ws.traces);
      int& m = most[static_cast<std::size_t>(t)];
      for (int32_t c : traces_[b].back().spike_counts) m = std::max(m, static_cast<int>(c));
    }
  });
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  out_slots_ = *std::max_element(most.begin(), most.end());
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
    const SpikeTrain& s = traces_[b].back().spikes;
    for (std::size_t e = 0; e < s.size(); ++e) {
      const auto i = static_cast<std::size_t>(s.neurons[e]);
      out[(b * n_out + i) * slots + filled[i]++] = s.times[e];
    }
  }
}

void NetworkBatch::spike_counts(std::size_t l, int32_t* out) const {
  const auto n = static_cast<std::size_t>(net_.layers.at(l).n_out);
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch_); ++b) {
    std::copy(traces_[b][l].spike_counts.begin(), traces_[b][l].spike_counts.end(), out + b * n);
  }
}

void NetworkBatch::backward(const double* grad_output, GradientGuard guard, const std::vector<double*>& grad_weights,
                            double* grad_input, ThreadPool& pool) {
  const auto n_out = static_cast<std::size_t>(net_.n_outputs()), n_in = static_cast<std::size_t>(net_.n_inputs());
  const auto out_slots = static_cast<std::size_t>(out_slots_), in_slots = static_cast<std::size_t>(in_slots_);
  if (grad_input) std::fill(grad_input, grad_input + static_cast<std::size_t>(batch_) * n_in * in_slots, 0.0);
  std::vector<NetworkGradient> partial(static_cast<std::size_t>(pool.size()));
  pool.run([&](int t) {
    NetworkWorkspace ws;
    NetworkGradient& grad = partial[static_cast<std::size_t>(t)];
    grad.reset(net_);
    grad.with_input_times = grad_input != nullptr;
    std::vector<double> g_out;
    std::vector<std::size_t> filled(n_out);
    const auto [begin, end] = split_range(static_cast<std::size_t>(batch_), pool.size(), t);
    for (std::size_t b = begin; b < end; ++b) {
      const SpikeTrain& s = traces_[b].back().spikes;
      g_out.resize(s.size());
      std::fill(filled.begin(), filled.end(), 0);
      for (std::size_t e = 0; e < s.size(); ++e) {
        const auto i = static_cast<std::size_t>(s.neurons[e]);
        g_out[e] = grad_output[(b * n_out + i) * out_slots + filled[i]++];
      }
      ws.traces.swap(traces_[b]);  // the sample's traces, borrowed for the pass
      network_backward(net_, inputs_[b], g_out, guard, grad, ws);
      ws.traces.swap(traces_[b]);
      if (!grad_input) continue;
      for (std::size_t e = 0; e < inputs_[b].size(); ++e) {
        const auto j = static_cast<std::size_t>(inputs_[b].neurons[e]);
        grad_input[(b * n_in + j) * in_slots + static_cast<std::size_t>(input_slot_[b][e])] = grad.input_times[e];
      }
    }
  });
  for (std::size_t l = 0; l < net_.layers.size(); ++l) {
    std::vector<double>& sum = partial[0].weights[l];
    for (std::size_t t = 1; t < partial.size(); ++t) {
      for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += partial[t].weights[l][k];
    }
    const Layer& layer = net_.layers[l];
    Layer::rows_of(sum, layer.n_in, layer.n_out, layer.stride(), grad_weights[l]);
  }
}

}  // namespace spiketime
