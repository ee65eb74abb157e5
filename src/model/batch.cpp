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

LayerBatch::LayerBatch(Layer layer, double t_end, PaddedTimes input, ThreadPool& pool)
    : layer_(std::move(layer)), t_end_(t_end), batch_(input.batch), in_slots_(input.slots) {
  if (input.neurons != layer_.n_in) {
    throw InputError("times: has " + std::to_string(input.neurons) + " input neurons, the layer takes " +
                     std::to_string(layer_.n_in));
  }
  inputs_.resize(static_cast<std::size_t>(batch_));
  input_slot_.resize(static_cast<std::size_t>(batch_));
  traces_.resize(static_cast<std::size_t>(batch_));
  // Each thread checks and merges its samples, then simulates them; the
  // error of the lowest sample, if any, is raised on the calling thread.
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(batch_));
  std::vector<int> most(static_cast<std::size_t>(pool.size()), 0);
  pool.run([&](int t) {
    LayerWorkspace ws;
    std::vector<Event> events;
    const auto [begin, end] = split_range(static_cast<std::size_t>(batch_), pool.size(), t);
    for (std::size_t b = begin; b < end; ++b) {
      try {
        merge_sample(input, b, events);
      } catch (const InputError&) {
        errors[b] = std::current_exception();
        continue;
      }
      layer_forward(layer_, inputs_[b], t_end_, traces_[b], ws);
      int& m = most[static_cast<std::size_t>(t)];
      for (int32_t c : traces_[b].spike_counts) m = std::max(m, static_cast<int>(c));
    }
  });
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  out_slots_ = *std::max_element(most.begin(), most.end());
}

void LayerBatch::merge_sample(const PaddedTimes& input, std::size_t b, std::vector<Event>& events) {
  const auto n_in = static_cast<std::size_t>(layer_.n_in), slots = static_cast<std::size_t>(in_slots_);
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

void LayerBatch::output(double* out) const {
  const auto n_out = static_cast<std::size_t>(layer_.n_out), slots = static_cast<std::size_t>(out_slots_);
  std::fill(out, out + static_cast<std::size_t>(batch_) * n_out * slots, kNoSpike);
  std::vector<std::size_t> filled(n_out);
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch_); ++b) {
    std::fill(filled.begin(), filled.end(), 0);
    const SpikeTrain& s = traces_[b].spikes;
    for (std::size_t e = 0; e < s.size(); ++e) {
      const auto i = static_cast<std::size_t>(s.neurons[e]);
      out[(b * n_out + i) * slots + filled[i]++] = s.times[e];
    }
  }
}

void LayerBatch::backward(const double* grad_output, GradientGuard guard, double* grad_weights, double* grad_input,
                          ThreadPool& pool) const {
  const auto n_out = static_cast<std::size_t>(layer_.n_out), n_in = static_cast<std::size_t>(layer_.n_in);
  const auto out_slots = static_cast<std::size_t>(out_slots_), in_slots = static_cast<std::size_t>(in_slots_);
  if (grad_input) std::fill(grad_input, grad_input + static_cast<std::size_t>(batch_) * n_in * in_slots, 0.0);
  std::vector<std::vector<double>> partial(static_cast<std::size_t>(pool.size()));
  pool.run([&](int t) {
    LayerWorkspace ws;
    std::vector<double>& gw = partial[static_cast<std::size_t>(t)];
    gw.assign(layer_.weights.size(), 0.0);
    std::vector<double> g_out, g_in;
    std::vector<std::size_t> filled(n_out);
    const auto [begin, end] = split_range(static_cast<std::size_t>(batch_), pool.size(), t);
    for (std::size_t b = begin; b < end; ++b) {
      const SpikeTrain& s = traces_[b].spikes;
      g_out.resize(s.size());
      std::fill(filled.begin(), filled.end(), 0);
      for (std::size_t e = 0; e < s.size(); ++e) {
        const auto i = static_cast<std::size_t>(s.neurons[e]);
        g_out[e] = grad_output[(b * n_out + i) * out_slots + filled[i]++];
      }
      g_in.resize(grad_input ? inputs_[b].size() : 0);
      layer_backward(layer_, inputs_[b], traces_[b], g_out.data(), guard, gw.data(), grad_input ? g_in.data() : nullptr,
                     ws);
      if (!grad_input) continue;
      for (std::size_t e = 0; e < inputs_[b].size(); ++e) {
        const auto j = static_cast<std::size_t>(inputs_[b].neurons[e]);
        grad_input[(b * n_in + j) * in_slots + static_cast<std::size_t>(input_slot_[b][e])] = g_in[e];
      }
    }
  });
  for (std::size_t t = 1; t < partial.size(); ++t) {
    for (std::size_t k = 0; k < partial[0].size(); ++k) partial[0][k] += partial[t][k];
  }
  Layer::rows_of(partial[0], layer_.n_in, layer_.n_out, layer_.stride(), grad_weights);
}

}  // namespace spiketime
