#include "spiketime/layer.hpp"

#include "kernels.hpp"
#include "spiketime/error.hpp"
#include "spiketime/names.hpp"
#include "sorting.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace spiketime {

SpikeTrain merge_spike_lists(const std::vector<std::vector<double>>& per_neuron) {
  SpikeTrain train;
  std::vector<std::pair<double, int32_t>> all;
  for (std::size_t j = 0; j < per_neuron.size(); ++j) {
    for (double t : per_neuron[j]) all.emplace_back(t, static_cast<int32_t>(j));
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  train.times.reserve(all.size());
  train.neurons.reserve(all.size());
  for (const auto& [t, j] : all) train.push(t, j);
  return train;
}

namespace {
constexpr Named<Precision> kPrecisionNames[] = {{Precision::Float64, "float64"}, {Precision::Float32, "float32"}};
}  // namespace

const char* precision_name(Precision p) { return name_in(kPrecisionNames, p); }
Precision parse_precision(const std::string& name) { return value_in(kPrecisionNames, name, "precision"); }

void Layer::set_precision(Precision p) {
  if (p == Precision::Float64) {
    weights32 = {};
    return;
  }
  weights32.resize(weights.size());
  refresh_float32();
}

void Layer::refresh_float32() {
  if (weights32.empty()) return;
  const double* __restrict from = weights.data();
  float* __restrict to = weights32.data();
  for (std::size_t k = 0; k < weights.size(); ++k) to[k] = static_cast<float>(from[k]);
}

std::vector<double> Layer::packed(const std::vector<double>& padded) const {
  std::vector<double> out(static_cast<std::size_t>(n_in) * n_out);
  for (std::size_t j = 0; j < static_cast<std::size_t>(n_in); ++j) {
    std::copy_n(padded.begin() + static_cast<std::ptrdiff_t>(j * stride()), n_out,
                out.begin() + static_cast<std::ptrdiff_t>(j * n_out));
  }
  return out;
}

namespace {
constexpr int kTile = 32;  // 32 x 32 doubles: two tiles fit in L1

// f(i, j) for neurons [0, n_out) and inputs [first, end), in 32 x 32 tiles:
// a transpose between the two layouts touches one tile of each at a time.
template <class F>
void for_each_in_tiles(int n_out, int first, int end, F&& f) {
  for (int i0 = 0; i0 < n_out; i0 += kTile) {
    for (int j0 = first; j0 < end; j0 += kTile) {
      for (int i = i0; i < std::min(n_out, i0 + kTile); ++i) {
        for (int j = j0; j < std::min(end, j0 + kTile); ++j) f(i, j);
      }
    }
  }
}
}  // namespace

namespace {
// Whether the double x is finite, by its exponent bits: an integer test the
// compiler vectorizes (std::isfinite in the copy loop kept it scalar).
inline uint64_t not_finite(double x) {
  return static_cast<uint64_t>((std::bit_cast<uint64_t>(x) & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL);
}
}  // namespace

template <class T>
bool Layer::set_weights(const T* w, std::ptrdiff_t neuron_stride, std::ptrdiff_t input_stride, int first_input,
                        int end_input) {
  if (end_input < 0) end_input = n_in;
  uint64_t bad = 0;
  if (neuron_stride == 1) {
    for (int j = first_input; j < end_input; ++j) {
      const T* __restrict row = w + j * input_stride;
      double* __restrict out = &weight(0, j);
      for (int i = 0; i < n_out; ++i) {
        out[i] = static_cast<double>(row[i]);
        bad |= not_finite(out[i]);
      }
    }
  } else {
    for_each_in_tiles(n_out, first_input, end_input, [&](int i, int j) {
      const double x = static_cast<double>(w[i * neuron_stride + j * input_stride]);
      weight(i, j) = x;
      bad |= not_finite(x);
    });
  }
  return bad == 0;
}
template bool Layer::set_weights(const double*, std::ptrdiff_t, std::ptrdiff_t, int, int);
template bool Layer::set_weights(const float*, std::ptrdiff_t, std::ptrdiff_t, int, int);

void Layer::rows_of(const std::vector<double>& padded, int n_in, int n_out, std::size_t stride, double* rows) {
  for_each_in_tiles(n_out, 0, n_in, [&](int i, int j) {
    rows[static_cast<std::size_t>(i) * n_in + j] = padded[static_cast<std::size_t>(j) * stride + i];
  });
}

std::vector<double> Layer::padded(const std::vector<double>& packed) const {
  std::vector<double> out(static_cast<std::size_t>(n_in) * stride(), 0.0);
  for (std::size_t j = 0; j < static_cast<std::size_t>(n_in); ++j) {
    std::copy_n(packed.begin() + static_cast<std::ptrdiff_t>(j * n_out), n_out,
                out.begin() + static_cast<std::ptrdiff_t>(j * stride()));
  }
  return out;
}

std::vector<std::vector<double>> split_spike_train(const SpikeTrain& train, int n_neurons) {
  std::vector<std::vector<double>> lists(static_cast<std::size_t>(n_neurons));
  for (std::size_t e = 0; e < train.size(); ++e) lists[train.neurons[e]].push_back(train.times[e]);
  return lists;
}

namespace {

// The errors of resolve_crossings, out of line: formatting their messages
// inline gave the hot function a stack frame of 632 bytes to set up per call.
[[noreturn, gnu::cold, gnu::noinline]] void throw_same_instant(int n, double time, const NeuronParams& p) {
  throw SpikeLimitError("neuron " + std::to_string(n) + ": fires again at the same instant t = " + format_number(time) +
                        ", and would without end (theta " + format_number(p.theta) + ", tau_m " +
                        format_number(p.tau_m) + ", tau_s " + format_number(p.tau_s) +
                        ": too small for the precision of doubles at this time)");
}
[[noreturn, gnu::cold, gnu::noinline]] void throw_neuron_limit(int n, int64_t limit) {
  throw SpikeLimitError("neuron " + std::to_string(n) + ": fires more than " + std::to_string(limit) +
                        " times in one sample, the limit per neuron (weights too large?)");
}
[[noreturn, gnu::cold, gnu::noinline]] void throw_sample_limit(int n, int64_t limit) {
  throw SpikeLimitError("neuron " + std::to_string(n) + ": the spikes of the sample pass the limit of " +
                        std::to_string(limit) + " per sample (weights too large?)");
}

// Exact search, for one neuron flagged by the vectorized screen, of every
// threshold crossing in (t0, t0 + dt] starting from state x (f: the decay
// factors of dt); appends them to ws.pending. Returns whether it spiked and
// then sets v_end to its potential at t0 + dt.
bool resolve_crossings(const NeuronParams& p, int n, uint32_t step, NeuronState x, double t0, double dt, const Decay& f,
                       LayerTrace& trace, LayerWorkspace& ws, CrossingSolver solver, const SpikeLimits& limits,
                       double& v_end) {
  const double i_start = x.i;
  double last_time = -std::numeric_limits<double>::infinity();
  // With tau_m == 2 tau_s everything follows from q = exp(-s/tau_m): the
  // crossing's own factor, the current (i_start q_elapsed^2) and the potential
  // at the end (kappa = q (1 - q)), so a spike costs one square root and one
  // logarithm (for its time).
  const bool by_factors = p.tau_m == 2.0 * p.tau_s && f.membrane > 0.0 &&
                          (solver == CrossingSolver::Automatic || solver == CrossingSolver::Quadratic);
  double elapsed = 0.0, q_elapsed = 1.0;
  bool spiked = false;
  for (;;) {
    double current;
    if (by_factors) {
      const double q = quadratic_crossing_factor(x, p);
      if (q == 0.0 || q * q_elapsed < f.membrane) break;  // none, or after t0 + dt
      elapsed -= p.tau_m * std::log(q);
      q_elapsed *= q;
      current = i_start * q_elapsed * q_elapsed;
    } else {
      const double s = first_crossing(x, dt - elapsed, p, solver);
      if (s == kNoCrossing) break;
      elapsed += s;
      current = i_start * std::exp(-elapsed / p.tau_s);
    }
    const double time = t0 + elapsed;
    if (time == last_time) throw_same_instant(n, time, p);
    last_time = time;
    if (trace.spike_counts[n] >= limits.per_neuron) throw_neuron_limit(n, limits.per_neuron);
    if (limits.earlier + static_cast<int64_t>(ws.pending.size()) >= limits.per_sample) {
      throw_sample_limit(n, limits.per_sample);
    }
    ws.pending.push_back({time, n, step, current});
    spiked = true;
    if (++trace.spike_counts[n] == p.max_spikes) {
      ws.threshold[n] = std::numeric_limits<double>::infinity();  // silent from now on
      break;
    }
    x = {0.0, current};  // V reached theta exactly and drops by theta
  }
  if (!spiked) return false;
  if (by_factors) {
    const double q_rest = std::min(1.0, f.membrane / q_elapsed);
    v_end = x.v * q_rest + x.i * q_rest * (1.0 - q_rest);
  } else {
    v_end = evolve(x, dt - elapsed, p).v;
  }
  return true;
}

// What the kernels' ResolveFn needs to call resolve_crossings.
struct ResolveContext {
  const NeuronParams& p;
  const std::vector<InputStep>& steps;
  LayerTrace& trace;
  LayerWorkspace& ws;
  CrossingSolver solver;
  SpikeLimits limits;
};

// resolve_crossings for every flagged lane of a block (bit l of `flagged`:
// neuron b + l): the kernels' ResolveFn. Compiled once, outside the
// per-target kernels, so that every target finds the same spikes.
void resolve_flagged(void* context, int b, uint32_t step, uint64_t flagged, const double* v0, const double* c0,
                     double* v1) {
  auto& r = *static_cast<ResolveContext*>(context);
  const InputStep& at = r.steps[step];
  for (; flagged != 0; flagged &= flagged - 1) {
    const int lane = std::countr_zero(flagged);
    resolve_crossings(r.p, b + lane, step, {v0[lane], c0[lane]}, at.t0, at.dt, at.f, r.trace, r.ws, r.solver, r.limits,
                      v1[lane]);
  }
}

// The kernels' weights32: the float32 copy, or null in float64.
const float* float32_weights(const Layer& layer) {
  return layer.weights32.empty() ? nullptr : layer.weights32.data();
}

// The kernels' two gradient pointers: the one of the sums' precision is set.
double* float64_sums(double* g) { return g; }
double* float64_sums(float*) { return nullptr; }
float* float32_sums(double*) { return nullptr; }
float* float32_sums(float* g) { return g; }

// Moves the pending spikes into the trace in time order (ties by neuron):
// grouped by step (a counting sort), then sorted within each step.
void emit_spikes(LayerTrace& trace, LayerWorkspace& ws) {
  const std::size_t n_steps = trace.steps.size();
  detail::group_by(ws.pending.size(), n_steps, [&](std::size_t i) { return ws.pending[i].step; }, ws.group_start, ws.order);
  // Within a step the grouped spikes come by neuron, and by time for each
  // neuron, so their rank breaks ties in time as the neuron order would.
  ws.sort_keys.resize(ws.pending.size());
  for (std::size_t r = 0; r < ws.order.size(); ++r) {
    ws.sort_keys[r] = {ws.pending[ws.order[r]].time, static_cast<uint32_t>(r)};
  }
  const auto earlier = [](const LayerWorkspace::SortKey& a, const LayerWorkspace::SortKey& c) {
    return a.time < c.time || (a.time == c.time && a.rank < c.rank);
  };
  for (std::size_t k = 0; k < n_steps; ++k) {
    const InputStep& step = trace.steps[k];
    detail::sort_by_time(ws.sort_keys.data() + ws.group_start[k], ws.group_start[k + 1] - ws.group_start[k], step.t0,
                         step.t0 + step.dt, [](const LayerWorkspace::SortKey& key) { return key.time; }, earlier,
                         ws.bucket_start, ws.bucket_order, ws.bucket_keys);
  }
  for (const auto& key : ws.sort_keys) {
    const auto& spike = ws.pending[ws.order[key.rank]];
    trace.spikes.push(spike.time, spike.neuron);
    trace.current_at_spike.push_back(spike.current);
  }
}

}  // namespace

void layer_forward(const Layer& layer, const SpikeTrain& input, double t_end, LayerTrace& trace,
                   LayerWorkspace& ws, CrossingSolver solver, SpikeLimits limits) {
  const int n = layer.n_out;
  const int block = kernels::kForwardBlock;
  const auto padded = static_cast<std::size_t>((n + block - 1) / block * block);
  ws.threshold.assign(padded, std::numeric_limits<double>::infinity());
  std::fill_n(ws.threshold.begin(), n, layer.neuron.theta);
  trace.spikes.clear();
  trace.current_at_spike.clear();
  trace.spike_counts.assign(static_cast<std::size_t>(n), 0);

  // The steps: at rest until the first input, then one per distinct input
  // time up to t_end, then the last stretch to t_end. A longer stretch
  // without input is cut into steps of kMaxStep shorter time constants:
  // past about 745 time constants a step's decay factors underflow to zero,
  // and the screen would find no crossing in it (e^-64 is 1.6e-28).
  constexpr double kMaxStep = 64.0;
  const double max_dt = kMaxStep * std::min(layer.neuron.tau_m, layer.neuron.tau_s);
  const Decay max_decay = decay(max_dt, layer.neuron);
  trace.steps.clear();
  double t_prev = input.size() > 0 ? input.times[0] : t_end;
  std::size_t e = 0;
  auto add_step = [&](double t, std::size_t first, std::size_t last) {
    while (t - t_prev > max_dt) {
      trace.steps.push_back({t_prev, max_dt, max_decay, static_cast<uint32_t>(first), static_cast<uint32_t>(first)});
      t_prev += max_dt;
    }
    const double dt = t - t_prev;
    trace.steps.push_back({t_prev, dt, dt > 0.0 ? decay(dt, layer.neuron) : Decay{1.0, 1.0, 0.0},
                           static_cast<uint32_t>(first), static_cast<uint32_t>(last)});
    t_prev = t;
  };
  while (e < input.size() && input.times[e] <= t_end) {
    const std::size_t first = e;
    const double t = input.times[e];
    while (e < input.size() && input.times[e] == t) ++e;
    add_step(t, first, e);
  }
  add_step(t_end, e, e);

  ws.pending.clear();
  ResolveContext context{layer.neuron, trace.steps, trace, ws, solver, limits};
  kernels::forward_layer({layer.weights.data(), float32_weights(layer), layer.stride(), static_cast<std::size_t>(n),
                          input.neurons.data(),
                          static_cast<uint32_t>(input.size()), trace.steps.data(),
                          static_cast<uint32_t>(trace.steps.size()), ws.threshold.data(), resolve_flagged, &context});
  emit_spikes(trace, ws);
}

namespace {

// layer_backward with the weight gradient in float64 or float32 (G).
template <class G>
void backward_into(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                   const double* grad_output_times, GradientGuard guard, G* grad_weights, double* grad_input_times,
                   LayerWorkspace& ws) {
  const NeuronParams& p = layer.neuron;
  const int n = layer.n_out;
  const std::size_t n_spikes = trace.spikes.size();
  const double* out_t = trace.spikes.times.data();
  const int32_t* out_n = trace.spikes.neurons.data();

  // 1. lambda_k = -delta_k / Vdot_k, latest spike first. delta_k collects the
  // direct gradient and, through the reset, that of the neuron's later spikes:
  // a running sum per neuron, decayed to the current spike (O(K) per neuron).
  ws.lambda.resize(n_spikes);
  ws.reset_sum.assign(static_cast<std::size_t>(n), 0.0);
  ws.reset_time.assign(static_cast<std::size_t>(n), 0.0);
  const double vdot_floor = guard.min_vdot * p.theta / p.tau_m;
  for (std::size_t e = n_spikes; e-- > 0;) {
    const int32_t k = out_n[e];
    double later = ws.reset_sum[k];
    if (later != 0.0) later *= std::exp(-(ws.reset_time[k] - out_t[e]) / p.tau_m);
    const double delta = grad_output_times[e] - p.theta / p.tau_m * later;
    const double vdot = std::max((trace.current_at_spike[e] - p.theta) / p.tau_m, vdot_floor);
    const double lambda = -delta / vdot;
    ws.lambda[e] = lambda;
    ws.reset_sum[k] = later + lambda;
    ws.reset_time[k] = out_t[e];
  }

  // 2. The sweep over the input spikes, latest first. Per neuron, over the
  // output spikes later than the current input time t_ref:
  //   acc_m = sum lambda exp(-(t_k - t_ref)/tau_m),  acc_s = same with tau_s,
  //   acc_kappa = sum lambda kappa(t_k - t_ref).
  // Then dL/dw_ij += acc_kappa_i and dL/dt_j = -sum_i w_ij (acc_s_i - acc_kappa_i)/tau_m,
  // since kappa' = (exp(-s/tau_s) - kappa)/tau_m. Moving t_ref back by d uses
  // kappa(s + d) = kappa(d) exp(-s/tau_m) + exp(-d/tau_s) kappa(s), that is
  //   acc_kappa <- kd acc_m + es acc_kappa,  acc_m <- em acc_m,  acc_s <- es acc_s,
  // so every sum stays relative to t_ref and nothing overflows.
  //
  // An output spike enters the sums at the latest input strictly before it
  // (output spikes at exactly an input's time do not depend on it: its jump
  // comes after them), with its terms relative to that input.
  ws.entry.resize(n_spikes);
  ws.entry_decay.resize(n_spikes);
  std::size_t after = 0;  // inputs [0, after) are before the current output spike
  for (std::size_t e = 0; e < n_spikes; ++e) {
    while (after < input.size() && input.times[after] < out_t[e]) ++after;
    ws.entry[e] = static_cast<int32_t>(after) - 1;
    if (after == 0) continue;
    ws.entry_decay[e] = decay(out_t[e] - input.times[after - 1], p);
  }
  // The output spikes grouped by reverse-pass block, in time order within each.
  const int block = kernels::kBackwardBlock;
  const auto n_blocks = static_cast<std::size_t>((n + block - 1) / block);
  detail::group_by(n_spikes, n_blocks, [&](std::size_t e) { return static_cast<std::size_t>(out_n[e] / block); },
                   ws.group_start, ws.order);
  // The shifts between inputs are the decays of the forward steps that end
  // on an input and start on the one before it (after a gap that the forward
  // pass cut into several steps, and for inputs after t_end, which it did
  // not step through, they are computed here).
  ws.shift.assign(input.size(), Decay{1.0, 1.0, 0.0});
  std::size_t stepped = 0;
  for (const InputStep& step : trace.steps) {
    if (step.first < step.last && step.dt > 0.0) {
      const std::size_t m = step.first;
      ws.shift[m] = m > 0 && step.t0 != input.times[m - 1] ? decay(input.times[m] - input.times[m - 1], p) : step.f;
    }
    stepped = std::max<std::size_t>(stepped, step.last);
  }
  for (std::size_t m = std::max<std::size_t>(stepped, 1); m < input.size(); ++m) {
    if (input.times[m - 1] < input.times[m]) ws.shift[m] = decay(input.times[m] - input.times[m - 1], p);
  }
  constexpr int kSums = kernels::kSlopeLanes;
  if (grad_input_times) ws.slope.assign(input.size() * kSums, 0.0);
  kernels::backward_layer({layer.weights.data(), float32_weights(layer), layer.stride(), static_cast<std::size_t>(n),
                           input.neurons.data(),
                           input.size(),
                           ws.group_start.data(), ws.order.data(), out_n, ws.entry.data(), ws.lambda.data(),
                           ws.entry_decay.data(), ws.shift.data(), float64_sums(grad_weights),
                           float32_sums(grad_weights), grad_input_times ? ws.slope.data() : nullptr});
  if (!grad_input_times) return;
  // The partial sums in index order, so that the result depends only on the
  // data, not on the SIMD target.
  for (std::size_t m = 0; m < input.size(); ++m) {
    double sum = 0.0;
    for (int l = 0; l < kSums; ++l) sum += ws.slope[m * kSums + static_cast<std::size_t>(l)];
    grad_input_times[m] = sum == 0.0 ? 0.0 : -sum / p.tau_m;  // +0 when no later spike depends on it
  }
}

}  // namespace

void layer_backward(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                    const double* grad_output_times, GradientGuard guard, double* grad_weights,
                    double* grad_input_times, LayerWorkspace& ws) {
  backward_into(layer, input, trace, grad_output_times, guard, grad_weights, grad_input_times, ws);
}

void layer_backward(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                    const double* grad_output_times, GradientGuard guard, float* grad_weights,
                    double* grad_input_times, LayerWorkspace& ws) {
  if (layer.precision() != Precision::Float32) {
    throw std::invalid_argument("layer_backward: float32 weight gradients need a float32 layer (Layer::set_precision)");
  }
  backward_into(layer, input, trace, grad_output_times, guard, grad_weights, grad_input_times, ws);
}

}  // namespace spiketime
