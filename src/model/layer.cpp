#include "spiketime/layer.hpp"

#include "sorting.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <limits>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

std::vector<std::vector<double>> split_spike_train(const SpikeTrain& train, int n_neurons) {
  std::vector<std::vector<double>> lists(static_cast<std::size_t>(n_neurons));
  for (std::size_t e = 0; e < train.size(); ++e) lists[train.neurons[e]].push_back(train.times[e]);
  return lists;
}

namespace {

// Both sweeps run neuron block by neuron block over the whole input train,
// with the block's state in vector registers: the neurons of a layer do not
// interact, so each block can be simulated (and reversed) on its own, and the
// state of 800 neurons never goes back and forth through memory per event.
// A forward block is kVecs vectors of kLanes neurons: wide enough that each
// visit to a weight row reads whole cache lines and that the steps give
// several independent chains, narrow enough for the registers (measured on
// the MNIST hidden layer: 48 neurons about 5 % faster than 32 or 64). The
// reverse pass keeps its sums in memory (see backward_block), so its blocks
// are wider: 64 neurons about 10 % faster than 32; 96 and 128 within a few
// per cent of 64.
constexpr int kLanes = 8;
constexpr int kVecs = 6;
constexpr int kBlock = kLanes * kVecs;
constexpr int kBackVecs = 8;
constexpr int kBackBlock = kLanes * kBackVecs;
typedef double Lanes __attribute__((vector_size(kLanes * sizeof(double))));
// Weight rows are prefetched this many input spikes ahead: a block visits
// each row once per sample, so nothing else brings them in ahead of time.
constexpr uint32_t kPrefetchAhead = 8;

// The first `width` doubles at p; the other lanes are zero. A whole block is
// one vector load (a memcpy of variable size would be a slow string copy),
// a partial one a masked load where AVX-512 has it.
Lanes load(const double* p, int width) {
  Lanes x{};
  if (width == kLanes) {
    std::memcpy(&x, p, sizeof x);
  } else {
#if defined(__AVX512F__)
    x = _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << width) - 1), p);
#else
    for (int l = 0; l < width; ++l) x[l] = p[l];
#endif
  }
  return x;
}

void store(double* p, Lanes x, int width) {
  if (width == kLanes) {
    std::memcpy(p, &x, sizeof x);
  } else {
#if defined(__AVX512F__)
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << width) - 1), x);
#else
    for (int l = 0; l < width; ++l) p[l] = x[l];
#endif
  }
}

// The screen of one vector of neurons over a step: bit l set where neuron l
// may have crossed threshold, given its state (v, c) at the start and (v1, c1)
// at the end. A crossing needs V(t0+dt) >= theta, or an interior peak, whose
// height is I at the peak (< I(t0), so I(t0) >= theta) and which requires V
// to be falling at t0 + dt (I < V). A peak also needs V rising at t0
// (I > V), which holds whenever V < theta <= I there: not testing it can
// only flag more neurons, never fewer. With AVX-512 the comparisons give bit
// masks directly.
uint32_t may_cross(Lanes c, Lanes v1, Lanes c1, Lanes th) {
#if defined(__AVX512F__)
  const __mmask8 peaks = _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(c, th, _CMP_GE_OQ), c1, v1, _CMP_LT_OQ);
  return static_cast<uint32_t>(peaks | _mm512_cmp_pd_mask(v1, th, _CMP_GE_OQ));
#else
  typedef int64_t LaneMask __attribute__((vector_size(kLanes * sizeof(int64_t))));
  const LaneMask m = (v1 >= th) | ((c1 < v1) & (c >= th));
  uint32_t bits = 0;
  for (int l = 0; l < kLanes; ++l) bits |= static_cast<uint32_t>(m[l] & 1) << l;
  return bits;
#endif
}

// Calls f(q) for q = 0, ..., kCount - 1, each q a compile-time constant
// (integral_constant), so that arrays of vectors indexed by q can live in
// registers: a loop indexes them at run time until it is unrolled, which is
// too late for that.
template <int kCount, class F>
void for_each_vector(F&& f) {
  [&]<int... q>(std::integer_sequence<int, q...>) {
    (f(std::integral_constant<int, q>{}), ...);
  }(std::make_integer_sequence<int, kCount>{});
}

// Exact search, for one neuron flagged by the vectorized screen, of every
// threshold crossing in (t0, t0 + dt] starting from state x (f: the decay
// factors of dt); appends them to ws.pending. Returns whether it spiked and
// then sets v_end to its potential at t0 + dt.
bool resolve_crossings(const NeuronParams& p, int n, uint32_t step, NeuronState x, double t0, double dt, const Decay& f,
                       LayerTrace& trace, LayerWorkspace& ws, CrossingSolver solver, double& v_end) {
  const double i_start = x.i;
  // With tau_m == 2 tau_s everything follows from q = exp(-s/tau_m): the
  // crossing's own factor, the current (i_start q_elapsed^2) and the potential
  // at the end (kappa = q (1 - q)), so a spike costs one square root and one
  // logarithm (for its time).
  const bool by_factors = p.tau_m == 2.0 * p.tau_s && f.m > 0.0 &&
                          (solver == CrossingSolver::Automatic || solver == CrossingSolver::Quadratic);
  double elapsed = 0.0, q_elapsed = 1.0;
  bool spiked = false;
  for (;;) {
    double current;
    if (by_factors) {
      const double q = quadratic_crossing_factor(x, p);
      if (q == 0.0 || q * q_elapsed < f.m) break;  // none, or after t0 + dt
      elapsed -= p.tau_m * std::log(q);
      q_elapsed *= q;
      current = i_start * q_elapsed * q_elapsed;
    } else {
      const double s = first_crossing(x, dt - elapsed, p, solver);
      if (s == kNoCrossing) break;
      elapsed += s;
      current = i_start * std::exp(-elapsed / p.tau_s);
    }
    ws.pending.push_back({t0 + elapsed, n, step, current});
    spiked = true;
    if (++trace.spike_counts[n] == p.max_spikes) {
      ws.threshold[n] = std::numeric_limits<double>::infinity();  // silent from now on
      break;
    }
    x = {0.0, current};  // V reached theta exactly and drops by theta
  }
  if (!spiked) return false;
  if (by_factors) {
    const double q_rest = std::min(1.0, f.m / q_elapsed);
    v_end = x.v * q_rest + x.i * q_rest * (1.0 - q_rest);
  } else {
    v_end = evolve(x, dt - elapsed, p).v;
  }
  return true;
}

// resolve_crossings for every flagged lane of a block (bit l of `flagged`:
// neuron b + l), on the states copied to memory. Kept out of line: the
// block loop calls it only when a neuron may have crossed.
[[gnu::noinline]] void resolve_flagged(const NeuronParams& p, int b, uint32_t step, const InputStep& s,
                                       uint64_t flagged, const double* v0, const double* c0, double* v1,
                                       LayerTrace& trace, LayerWorkspace& ws, CrossingSolver solver) {
  for (; flagged != 0; flagged &= flagged - 1) {
    const int lane = std::countr_zero(flagged);
    resolve_crossings(p, b + lane, step, {v0[lane], c0[lane]}, s.t0, s.dt, s.f, trace, ws, solver, v1[lane]);
  }
}

// Simulates neurons [b, b + width) over all steps. Each step decays the
// states, then adds the weight rows of the step's input spikes to the
// currents (a spike at exactly t0 + dt is found before the jump, which cannot
// cause it). The vectorized screen (may_cross) flags the neurons that may
// have crossed threshold in the step; only those get the exact scalar search.
// kUsed: the vectors the block needs, ceil(width / kLanes); kPartial: the
// last of them is not full. Both fixed at compile time, so that a full
// block's loop has no partial loads in it.
template <int kUsed, bool kPartial>
void forward_block(const Layer& layer, const SpikeTrain& input, int b, int width, LayerTrace& trace,
                   LayerWorkspace& ws, CrossingSolver solver) {
  const auto n = static_cast<std::size_t>(layer.n_out);
  const double* weights = layer.weights.data() + b;
  const int32_t* inputs = input.neurons.data();
  const auto n_inputs = static_cast<uint32_t>(input.size());
  const int last_width = kPartial ? width - (kUsed - 1) * kLanes : kLanes;
  const double* threshold = ws.threshold.data() + b;
  Lanes v[kUsed], c[kUsed], th[kUsed];  // indexed by constants only: registers
  for_each_vector<kUsed>([&](auto q) {
    v[q] = Lanes{};
    c[q] = Lanes{};
    th[q] = load(threshold + q * kLanes, kLanes);
  });
  for (uint32_t k = 0; k < trace.steps.size(); ++k) {
    const InputStep& s = trace.steps[k];
    if (s.dt > 0.0) {
      Lanes v1[kUsed], c1[kUsed];
      uint64_t flagged = 0;
      for_each_vector<kUsed>([&](auto q) {
        v1[q] = s.f.m * v[q] + s.f.kappa * c[q];
        c1[q] = s.f.s * c[q];
        flagged |= static_cast<uint64_t>(may_cross(c[q], v1[q], c1[q], th[q])) << (q * kLanes);
      });
      if (flagged != 0) {
        // Through memory: no vector is live across the call, so that the
        // loop keeps its state in registers (a call clobbers them all).
        alignas(64) double v0s[kUsed * kLanes], c0s[kUsed * kLanes], v1s[kUsed * kLanes], c1s[kUsed * kLanes];
        for_each_vector<kUsed>([&](auto q) {
          store(v0s + q * kLanes, v[q], kLanes);
          store(c0s + q * kLanes, c[q], kLanes);
          store(v1s + q * kLanes, v1[q], kLanes);
          store(c1s + q * kLanes, c1[q], kLanes);
        });
        resolve_flagged(layer.neuron, b, k, s, flagged, v0s, c0s, v1s, trace, ws, solver);
        for_each_vector<kUsed>([&](auto q) {
          v[q] = load(v1s + q * kLanes, kLanes);
          c[q] = load(c1s + q * kLanes, kLanes);
          th[q] = load(threshold + q * kLanes, kLanes);
        });
      } else {
        for_each_vector<kUsed>([&](auto q) {
          v[q] = v1[q];
          c[q] = c1[q];
        });
      }
    }
    for (uint32_t e = s.first; e < s.last; ++e) {
      if (e + kPrefetchAhead < n_inputs) {
        const double* ahead = weights + static_cast<std::size_t>(inputs[e + kPrefetchAhead]) * n;
        for_each_vector<kUsed>([&](auto q) { __builtin_prefetch(ahead + q * kLanes); });
      }
      const double* row = weights + static_cast<std::size_t>(inputs[e]) * n;
      for_each_vector<kUsed - 1>([&](auto q) { c[q] += load(row + q * kLanes, kLanes); });
      c[kUsed - 1] += load(row + (kUsed - 1) * kLanes, last_width);
    }
  }
}

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
    const InputStep& s = trace.steps[k];
    detail::sort_by_time(ws.sort_keys.data() + ws.group_start[k], ws.group_start[k + 1] - ws.group_start[k], s.t0,
                         s.t0 + s.dt, [](const LayerWorkspace::SortKey& key) { return key.time; }, earlier,
                         ws.bucket_start, ws.bucket_order, ws.bucket_keys);
  }
  for (const auto& key : ws.sort_keys) {
    const auto& spike = ws.pending[ws.order[key.rank]];
    trace.spikes.push(spike.time, spike.neuron);
    trace.current_at_spike.push_back(spike.current);
  }
}

// The reverse sweep of neurons [b, b + width), latest input first, keeping
// the block's three sums (see layer_backward). Adds to the weight gradient
// and, with kInputGradient, to the per-input lane sums of dL/dt.
template <int kUsed, bool kPartial, bool kInputGradient>
void backward_block(const Layer& layer, const SpikeTrain& input, const int32_t* out_n, int b, int width,
                    double* grad_weights, LayerWorkspace& ws) {
  const auto n = static_cast<std::size_t>(layer.n_out);
  const int last_width = kPartial ? width - (kUsed - 1) * kLanes : kLanes;
  const int32_t* inputs = input.neurons.data();
  const uint32_t* spikes = ws.order.data();
  const auto block = static_cast<std::size_t>(b / kBackBlock);
  const uint32_t start = ws.group_start[block];
  uint32_t next = ws.group_start[block + 1];  // the block's spikes [start, next) are not in the sums yet
  // (Measured: this loop runs faster with the sums where the compiler keeps
  // them, in memory, than forced into registers as in forward_block.)
  Lanes acc_m[kUsed], acc_s[kUsed], acc_kappa[kUsed];
  for (int q = 0; q < kUsed; ++q) acc_m[q] = acc_s[q] = acc_kappa[q] = Lanes{};
  bool active = false;
  for (std::size_t m = input.size(); m-- > 0;) {
    if (next > start && ws.entry[spikes[next - 1]] == static_cast<int32_t>(m)) {
      // Output spikes enter (scalar, on copies in memory).
      double add_m[kUsed * kLanes], add_s[kUsed * kLanes], add_kappa[kUsed * kLanes];
      for (int q = 0; q < kUsed; ++q) {
        store(add_m + q * kLanes, acc_m[q], kLanes);
        store(add_s + q * kLanes, acc_s[q], kLanes);
        store(add_kappa + q * kLanes, acc_kappa[q], kLanes);
      }
      for (; next > start && ws.entry[spikes[next - 1]] == static_cast<int32_t>(m); --next) {
        const uint32_t e = spikes[next - 1];
        const int l = out_n[e] - b;
        const double lambda = ws.lambda[e];
        const Decay& d = ws.entry_decay[e];
        add_m[l] += lambda * d.m;
        add_s[l] += lambda * d.s;
        add_kappa[l] += lambda * d.kappa;
      }
      for (int q = 0; q < kUsed; ++q) {
        acc_m[q] = load(add_m + q * kLanes, kLanes);
        acc_s[q] = load(add_s + q * kLanes, kLanes);
        acc_kappa[q] = load(add_kappa + q * kLanes, kLanes);
      }
      active = true;
    }
    if (!active) continue;  // no later spike of this block: nothing here depends on the input
    if (m >= kPrefetchAhead) {
      const std::size_t ahead = static_cast<std::size_t>(inputs[m - kPrefetchAhead]) * n + static_cast<std::size_t>(b);
      for (int q = 0; q < kUsed; ++q) {
        __builtin_prefetch(grad_weights + ahead + q * kLanes, 1);
        if constexpr (kInputGradient) __builtin_prefetch(layer.weights.data() + ahead + q * kLanes);
      }
    }
    const std::size_t row = static_cast<std::size_t>(inputs[m]) * n + static_cast<std::size_t>(b);
    for (int q = 0; q < kUsed; ++q) {
      const int vw = q + 1 < kUsed ? kLanes : last_width;
      double* gw = grad_weights + row + q * kLanes;
      store(gw, load(gw, vw) + acc_kappa[q], vw);
    }
    if constexpr (kInputGradient) {
      for (int q = 0; q < kUsed; ++q) {
        const int vw = q + 1 < kUsed ? kLanes : last_width;
        const Lanes w = load(layer.weights.data() + row + q * kLanes, vw), diff = acc_s[q] - acc_kappa[q];
        if (vw == kLanes) {
          double* lanes = ws.slope_lanes.data() + m * kLanes;
          store(lanes, load(lanes, kLanes) + w * diff, kLanes);
        } else {
          for (int l = 0; l < vw; ++l) ws.slope_tail[m] += w[l] * diff[l];
        }
      }
    }
    const Decay& f = ws.shift[m];
    for (int q = 0; q < kUsed; ++q) {
      acc_kappa[q] = f.kappa * acc_m[q] + f.s * acc_kappa[q];
      acc_m[q] *= f.m;
      if constexpr (kInputGradient) acc_s[q] *= f.s;
    }
  }
}

// Calls f(used, partial) with, as compile-time constants (integral_constant),
// the number of vectors (at most kMaxVecs) a block of `width` neurons needs
// and whether the last is partial.
template <int kMaxVecs, class F>
void with_vectors(int width, F&& f) {
  const int used = (width + kLanes - 1) / kLanes;
  const auto call = [&](auto n) {
    if (width % kLanes == 0) {
      f(n, std::false_type{});
    } else {
      f(n, std::true_type{});
    }
  };
  [&]<int... u>(std::integer_sequence<int, u...>) {
    ((used == u + 1 ? (call(std::integral_constant<int, u + 1>{}), true) : false) || ...);
  }(std::make_integer_sequence<int, kMaxVecs>{});
}

}  // namespace

void layer_forward(const Layer& layer, const SpikeTrain& input, double t_end, LayerTrace& trace,
                   LayerWorkspace& ws, CrossingSolver solver) {
  const int n = layer.n_out;
  const auto padded = static_cast<std::size_t>((n + kBlock - 1) / kBlock * kBlock);
  ws.threshold.assign(padded, std::numeric_limits<double>::infinity());
  std::fill_n(ws.threshold.begin(), n, layer.neuron.theta);
  trace.spikes.clear();
  trace.current_at_spike.clear();
  trace.spike_counts.assign(static_cast<std::size_t>(n), 0);

  // The steps: at rest until the first input, then one per distinct input
  // time up to t_end, then the last stretch to t_end.
  trace.steps.clear();
  double t_prev = input.size() > 0 ? input.times[0] : t_end;
  std::size_t e = 0;
  auto add_step = [&](double t, std::size_t first, std::size_t last) {
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
  for (int b = 0; b < n; b += kBlock) {
    const int width = std::min(kBlock, n - b);
    with_vectors<kVecs>(width, [&](auto used, auto partial) {
      forward_block<used(), partial()>(layer, input, b, width, trace, ws, solver);
    });
  }
  emit_spikes(trace, ws);
}

void layer_backward(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                    const double* grad_output_times, GradientGuard guard, double* grad_weights,
                    double* grad_input_times, LayerWorkspace& ws) {
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
  const auto n_blocks = static_cast<std::size_t>((n + kBackBlock - 1) / kBackBlock);
  detail::group_by(n_spikes, n_blocks, [&](std::size_t e) { return static_cast<std::size_t>(out_n[e] / kBackBlock); },
           ws.group_start, ws.order);
  // The shifts between inputs are the decays of the forward steps (inputs
  // after t_end, which it did not step through, aside).
  ws.shift.assign(input.size(), Decay{1.0, 1.0, 0.0});
  std::size_t stepped = 0;
  for (const InputStep& step : trace.steps) {
    if (step.first < step.last && step.dt > 0.0) ws.shift[step.first] = step.f;
    stepped = std::max<std::size_t>(stepped, step.last);
  }
  for (std::size_t m = std::max<std::size_t>(stepped, 1); m < input.size(); ++m) {
    if (input.times[m - 1] < input.times[m]) ws.shift[m] = decay(input.times[m] - input.times[m - 1], p);
  }
  if (grad_input_times) {
    ws.slope_lanes.assign(input.size() * kLanes, 0.0);
    ws.slope_tail.assign(input.size(), 0.0);
  }
  for (int b = 0; b < n; b += kBackBlock) {
    const int width = std::min(kBackBlock, n - b);
    with_vectors<kBackVecs>(width, [&](auto used, auto partial) {
      if (grad_input_times) {
        backward_block<used(), partial(), true>(layer, input, out_n, b, width, grad_weights, ws);
      } else {
        backward_block<used(), partial(), false>(layer, input, out_n, b, width, grad_weights, ws);
      }
    });
  }
  if (!grad_input_times) return;
  // The lanes are summed in a fixed order, so the result does not depend on
  // anything but the data.
  for (std::size_t m = 0; m < input.size(); ++m) {
    double sum = ws.slope_tail[m];
    for (int l = 0; l < kLanes; ++l) sum += ws.slope_lanes[m * kLanes + static_cast<std::size_t>(l)];
    grad_input_times[m] = sum == 0.0 ? 0.0 : -sum / p.tau_m;  // +0 when no later spike depends on it
  }
}

}  // namespace spiketime
