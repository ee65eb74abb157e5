#include "spiketime/layer.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <limits>

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

// Exact search, for one neuron flagged by the vectorized screen, of every
// threshold crossing in (t0, t0 + dt] starting from state x (f: the decay
// factors of dt); appends them to ws.pending and leaves the neuron's state at
// t0 + dt in ws.v.
void resolve_crossings(const Layer& layer, int n, NeuronState x, double t0, double dt, const Decay& f,
                       LayerTrace& trace, LayerWorkspace& ws, CrossingSolver solver) {
  const NeuronParams& p = layer.neuron;
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
    ws.pending.push_back({t0 + elapsed, n, current});
    spiked = true;
    if (++trace.spike_counts[n] == p.max_spikes) {
      ws.threshold[n] = std::numeric_limits<double>::infinity();  // silent from now on
      break;
    }
    x = {0.0, current};  // V reached theta exactly and drops by theta
  }
  if (!spiked) return;
  if (by_factors) {
    const double q_rest = std::min(1.0, f.m / q_elapsed);
    ws.v[n] = x.v * q_rest + x.i * q_rest * (1.0 - q_rest);
  } else {
    ws.v[n] = evolve(x, dt - elapsed, p).v;
  }
}

// The vectorized pass of advance(): from the states before the step, writes
// the decayed states (plus the jump) and flags the neurons that may have
// crossed; returns how many. With kBudget the threshold is per neuron (infinite
// for a neuron that has used up max_spikes). Kept a function of its own over
// restrict pointers so that it vectorizes.
template <bool kBudget>
int64_t decay_all(int n_out, const Decay& f, double theta, const double* __restrict threshold,
                  const double* __restrict jump, const double* __restrict v_before,
                  const double* __restrict i_before, double* __restrict v, double* __restrict cur,
                  uint8_t* __restrict flags) {
  int64_t flagged = 0;
  for (int n = 0; n < n_out; ++n) {
    const double th = kBudget ? threshold[n] : theta;
    const double v0 = v_before[n], c0 = i_before[n];
    const double v1 = f.m * v0 + f.kappa * c0, c1 = f.s * c0;
    v[n] = v1;
    cur[n] = c1 + jump[n];
    const bool may_cross = (v1 >= th) | ((c1 < v1) & (c0 >= th) & (c0 > v0));
    flags[n] = may_cross;
    flagged += may_cross ? 1 : 0;
  }
  return flagged;
}

// Moves every neuron from t0 to t0 + dt, then adds the weight row `jump` of
// the input spike at t0 + dt to the currents (a spike at exactly t0 + dt is
// found before the jump, which cannot cause it). The vectorized pass decays
// all states and flags the neurons that may have crossed threshold; only
// those get the exact scalar search. A crossing needs V(t0+dt) >= theta, or an
// interior peak, whose height is I at the peak (< I(t0)) and which requires V
// to be rising at t0 (I > V) and falling at t0 + dt (I < V).
void advance(const Layer& layer, double t0, double dt, const double* jump, LayerTrace& trace, LayerWorkspace& ws,
             CrossingSolver solver) {
  const int n_out = layer.n_out;
  if (!(dt > 0.0)) {
    double* cur = ws.i.data();
    for (int n = 0; n < n_out; ++n) cur[n] += jump[n];
    return;
  }
  // Double buffering: the state before the step moves to the *_before arrays
  // (a swap, not a copy) and the pass writes the new state.
  std::swap(ws.v, ws.v_before);
  std::swap(ws.i, ws.i_before);
  const Decay f = decay(dt, layer.neuron);
  const double* v_before = ws.v_before.data();
  const double* i_before = ws.i_before.data();
  uint8_t* flags = ws.flags.data();
  const int64_t flagged =
      layer.neuron.max_spikes > 0
          ? decay_all<true>(n_out, f, layer.neuron.theta, ws.threshold.data(), jump, v_before, i_before, ws.v.data(),
                            ws.i.data(), flags)
          : decay_all<false>(n_out, f, layer.neuron.theta, nullptr, jump, v_before, i_before, ws.v.data(),
                             ws.i.data(), flags);
  if (flagged == 0) return;
  ws.pending.clear();
  // Scan the flags eight at a time (the array is padded with zeros).
  for (int base = 0; base < n_out; base += 8) {
    uint64_t word;
    std::memcpy(&word, flags + base, 8);
    for (; word != 0; word &= word - 1) {
      const int n = base + std::countr_zero(word) / 8;
      resolve_crossings(layer, n, {v_before[n], i_before[n]}, t0, dt, f, trace, ws, solver);
    }
  }
  if (ws.pending.size() > 1) {
    std::sort(ws.pending.begin(), ws.pending.end(), [](const auto& a, const auto& b) {
      return a.time < b.time || (a.time == b.time && a.neuron < b.neuron);
    });
  }
  for (const auto& s : ws.pending) {
    trace.spikes.push(s.time, s.neuron);
    trace.current_at_spike.push_back(s.current);
  }
}

// For one input spike: adds acc_kappa to its weight-gradient row and returns
// sum_i w_i (acc_s_i - acc_kappa_i); with kShift it then moves the sums back to
// the previous input time by the factors f, in the same pass. The sum runs in
// eight interleaved partial sums: a fixed order (reproducible) that
// vectorizes, unlike one chain of dependent additions.
template <bool kShift>
double use_and_shift(std::size_t n, const double* __restrict w, double* __restrict gw, double* __restrict acc_m,
                     double* __restrict acc_s, double* __restrict acc_kappa, const Decay& f) {
  constexpr std::size_t kLanes = 8;
  double lanes[kLanes] = {};
  auto one = [&](std::size_t k, double& lane) {
    const double a_kappa = acc_kappa[k], a_s = acc_s[k];
    gw[k] += a_kappa;
    lane += w[k] * (a_s - a_kappa);
    if constexpr (kShift) {
      acc_kappa[k] = f.kappa * acc_m[k] + f.s * a_kappa;
      acc_m[k] *= f.m;
      acc_s[k] = a_s * f.s;
    }
  };
  std::size_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (std::size_t l = 0; l < kLanes; ++l) one(k + l, lanes[l]);
  double sum = 0.0;
  for (; k < n; ++k) one(k, sum);
  for (double l : lanes) sum += l;
  return sum;
}

}  // namespace

void layer_forward(const Layer& layer, const SpikeTrain& input, double t_end, LayerTrace& trace,
                   LayerWorkspace& ws, CrossingSolver solver) {
  const auto n = static_cast<std::size_t>(layer.n_out);
  ws.v.assign(n, 0.0);
  ws.i.assign(n, 0.0);
  ws.v_before.assign(n, 0.0);
  ws.i_before.assign(n, 0.0);
  ws.flags.assign((n + 7) / 8 * 8, 0);
  ws.threshold.assign(n, layer.neuron.theta);
  trace.spikes.clear();
  trace.current_at_spike.clear();
  trace.spike_counts.assign(n, 0);

  double t_prev = input.size() > 0 ? input.times[0] : t_end;  // at rest until the first input
  for (std::size_t e = 0; e < input.size(); ++e) {
    const double t = input.times[e];
    if (t > t_end) break;
    const double* row = layer.weights.data() + static_cast<std::size_t>(input.neurons[e]) * n;
    advance(layer, t_prev, t - t_prev, row, trace, ws, solver);
    t_prev = t;
  }
  ws.no_jump.assign(n, 0.0);
  advance(layer, t_prev, t_end - t_prev, ws.no_jump.data(), trace, ws, solver);
}

void layer_backward(const Layer& layer, const SpikeTrain& input, const LayerTrace& trace,
                    const double* grad_output_times, GradientGuard guard, double* grad_weights,
                    double* grad_input_times, LayerWorkspace& ws) {
  const NeuronParams& p = layer.neuron;
  const auto n = static_cast<std::size_t>(layer.n_out);
  const std::size_t n_spikes = trace.spikes.size();
  const double* out_t = trace.spikes.times.data();
  const int32_t* out_n = trace.spikes.neurons.data();

  // 1. lambda_k = -delta_k / Vdot_k, latest spike first. delta_k collects the
  // direct gradient and, through the reset, that of the neuron's later spikes:
  // a running sum per neuron, decayed to the current spike (O(K) per neuron).
  ws.lambda.resize(n_spikes);
  ws.reset_sum.assign(n, 0.0);
  ws.reset_time.assign(n, 0.0);
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

  // 2. One sweep over the input spikes, latest first. Per neuron, over the
  // output spikes later than the current input time t_ref:
  //   acc_m = sum lambda exp(-(t_k - t_ref)/tau_m),  acc_s = same with tau_s,
  //   acc_kappa = sum lambda kappa(t_k - t_ref).
  // Then dL/dw_ij += acc_kappa_i and dL/dt_j = -sum_i w_ij (acc_s_i - acc_kappa_i)/tau_m,
  // since kappa' = (exp(-s/tau_s) - kappa)/tau_m. Moving t_ref back by d uses
  // kappa(s + d) = kappa(d) exp(-s/tau_m) + exp(-d/tau_s) kappa(s), that is
  //   acc_kappa <- kd acc_m + es acc_kappa,  acc_m <- em acc_m,  acc_s <- es acc_s,
  // so every sum stays relative to t_ref and nothing overflows.
  ws.acc_m.assign(n, 0.0);
  ws.acc_s.assign(n, 0.0);
  ws.acc_kappa.assign(n, 0.0);
  double* acc_m = ws.acc_m.data();
  double* acc_s = ws.acc_s.data();
  double* acc_kappa = ws.acc_kappa.data();
  std::size_t next_out = n_spikes;  // output spikes [next_out, n_spikes) are in the sums
  for (std::size_t m = input.size(); m-- > 0;) {
    // Here the sums are relative to t, the time of input spike m.
    const double t = input.times[m];
    // Output spikes at exactly t do not depend on this input (its current jump
    // comes after them), hence the strict inequality.
    for (; next_out > 0 && out_t[next_out - 1] > t; --next_out) {
      const std::size_t e = next_out - 1;
      const Decay d = decay(out_t[e] - t, p);
      const double lambda = ws.lambda[e];
      acc_m[out_n[e]] += lambda * d.m;
      acc_s[out_n[e]] += lambda * d.s;
      acc_kappa[out_n[e]] += lambda * d.kappa;
    }
    if (next_out == n_spikes) {  // no later output spike: nothing depends on this input
      grad_input_times[m] = 0.0;
      continue;
    }
    const std::size_t row = static_cast<std::size_t>(input.neurons[m]) * n;
    const double* w = layer.weights.data() + row;
    double* gw = grad_weights + row;
    const double t_before = m > 0 ? input.times[m - 1] : t;
    const double slope = t_before < t ? use_and_shift<true>(n, w, gw, acc_m, acc_s, acc_kappa, decay(t - t_before, p))
                                      : use_and_shift<false>(n, w, gw, acc_m, acc_s, acc_kappa, Decay{});
    grad_input_times[m] = -slope / p.tau_m;
  }
}

}  // namespace spiketime
