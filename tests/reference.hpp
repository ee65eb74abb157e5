// Independent references for the tests: a fine-step RK4 integration of the
// two ODEs of MODEL.md section 1, and random networks to run it on.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "spiketime/network.hpp"

namespace spiketime::testing {

// One RK4 step of tau_s I' = -I, tau_m V' = -V + I.
inline std::pair<double, double> rk4_step(double v, double i, double h, double tau_m, double tau_s) {
  auto dv = [&](double vv, double ii) { return (-vv + ii) / tau_m; };
  auto di = [&](double ii) { return -ii / tau_s; };
  const double k1v = dv(v, i), k1i = di(i);
  const double k2v = dv(v + 0.5 * h * k1v, i + 0.5 * h * k1i), k2i = di(i + 0.5 * h * k1i);
  const double k3v = dv(v + 0.5 * h * k2v, i + 0.5 * h * k2i), k3i = di(i + 0.5 * h * k2i);
  const double k4v = dv(v + h * k3v, i + h * k3i), k4i = di(i + h * k3i);
  return {v + h / 6.0 * (k1v + 2 * k2v + 2 * k3v + k4v), i + h / 6.0 * (k1i + 2 * k2i + 2 * k3i + k4i)};
}

// Spike times of every neuron of one layer, by fixed steps of at most h that
// end on every input event; a crossing inside a step is located by bisection
// on the length of an RK4 step from the start of that step.
inline std::vector<std::vector<double>> reference_layer(const std::vector<std::vector<double>>& inputs,
                                                        const Layer& layer, double t_end, double h) {
  std::vector<std::pair<double, int>> events;
  for (std::size_t j = 0; j < inputs.size(); ++j)
    for (double t : inputs[j]) events.emplace_back(t, static_cast<int>(j));
  std::stable_sort(events.begin(), events.end(), [](auto& a, auto& b) { return a.first < b.first; });
  const NeuronParams& p = layer.neuron;
  std::vector<std::vector<double>> out(static_cast<std::size_t>(layer.n_out));
  for (int n = 0; n < layer.n_out; ++n) {
    double v = 0.0, cur = 0.0, t = events.empty() ? t_end : events.front().first;
    auto integrate_to = [&](double t_stop) {
      if (!(t_stop > t)) return;
      const double span = t_stop - t;
      const int steps = static_cast<int>(std::ceil(span / h));
      const double step = span / steps;
      for (int s = 0; s < steps; ++s) {
        const double t0 = t + s * step;
        double v0 = v, i0 = cur, done = 0.0;
        for (;;) {
          auto [v1, i1] = rk4_step(v0, i0, step - done, p.tau_m, p.tau_s);
          const bool silent = p.max_spikes > 0 && static_cast<int>(out[n].size()) >= p.max_spikes;
          if (silent || v1 < p.theta) {
            v = v1, cur = i1;
            break;
          }
          double lo = 0.0, hi = step - done;
          for (int it = 0; it < 80; ++it) {
            const double mid = 0.5 * (lo + hi);
            (rk4_step(v0, i0, mid, p.tau_m, p.tau_s).first < p.theta ? lo : hi) = mid;
          }
          const auto [vc, ic] = rk4_step(v0, i0, hi, p.tau_m, p.tau_s);
          done += hi;
          out[n].push_back(t0 + done);
          v0 = vc - p.theta;
          i0 = ic;
        }
      }
      t = t_stop;
    };
    for (const auto& [te, j] : events) {
      if (te > t_end) break;
      integrate_to(te);
      cur += layer.weight(n, j);
    }
    integrate_to(t_end);
  }
  return out;
}

// The neurons the tests sweep over time-constant ratios: tau_s = 2 and
// tau_m = ratio * tau_s (1 and 2 take the closed-form crossings, others the
// bracketed search).
inline NeuronParams params_with_ratio(double ratio) {
  NeuronParams p;
  p.tau_s = 2.0;
  p.tau_m = 2.0 * ratio;
  return p;
}

// Random input lists: each of n neurons spikes `per_neuron` times (sorted) in [0, t_max).
inline std::vector<std::vector<double>> random_inputs(std::mt19937_64& rng, int n, int per_neuron, double t_max) {
  std::uniform_real_distribution<double> time(0.0, t_max);
  std::vector<std::vector<double>> lists(static_cast<std::size_t>(n));
  for (auto& list : lists) {
    for (int k = 0; k < per_neuron; ++k) list.push_back(time(rng));
    std::sort(list.begin(), list.end());
  }
  return lists;
}

// f(w) for every weight of the layer (not the zeros that pad its rows).
template <class F>
void for_each_weight(Layer& layer, F&& f) {
  for (int j = 0; j < layer.n_in; ++j)
    for (int i = 0; i < layer.n_out; ++i) f(layer.weight(i, j));
}

// A layer whose neuron n gets weights drawn around n * gain_step: from silent
// neurons to ones that fire many times.
inline Layer random_layer(std::mt19937_64& rng, NeuronParams p, int n_in, int n_out, double gain_step,
                          double spread = 1.0) {
  Layer layer(p, n_in, n_out);
  std::normal_distribution<double> noise(0.0, spread);
  for (int n = 0; n < n_out; ++n)
    for (int j = 0; j < n_in; ++j) layer.weight(n, j) = n * gain_step + noise(rng);
  return layer;
}

// Smallest dV/dt at threshold over every spike, in units of theta/tau_m.
inline double min_crossing_slope(const Network& net, const NetworkWorkspace& ws) {
  double slope = std::numeric_limits<double>::infinity();
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const NeuronParams& p = net.layers[l].neuron;
    for (double current : ws.traces[l].current_at_spike) slope = std::min(slope, current / p.theta - 1.0);
  }
  return slope;
}

// A random multi-spike network of the given widths (inputs first) and its
// input, whose neurons fire a few to a few tens of times at every depth, drawn
// until none of its crossings grazes threshold (dV/dt >= 0.05 theta/tau_m):
// near a grazing crossing the spike time is so curved in the parameters that
// no finite difference resolves it. Leaves the forward pass in ws. Returns
// false if 200 draws found none.
// With time_grid > 0 the input times are rounded to its multiples, so that
// several inputs share each time, as the pixels of an image do.
inline bool well_conditioned_network(std::mt19937_64& rng, const NeuronParams& p, const std::vector<int>& widths,
                                     double psp, Network& net, std::vector<std::vector<double>>& inputs,
                                     NetworkWorkspace& ws, double time_grid = 0.0) {
  const double gain = 0.4 / psp;  // weights in units of the height of a single PSP
  for (int attempt = 0; attempt < 200; ++attempt) {
    net = Network{};
    net.t_end = 30.0;
    inputs = random_inputs(rng, widths[0], 3, 12.0);
    if (time_grid > 0.0) {
      for (auto& list : inputs) {
        for (double& t : list) t = std::round(t / time_grid) * time_grid;
      }
    }
    const SpikeTrain train = merge_spike_lists(inputs);
    // Layer by layer, scale the weights to the number of spikes that arrive.
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
      const std::size_t arriving = l == 0 ? train.size() : ws.traces[l - 1].spikes.size();
      const double mean = gain * 18.0 / static_cast<double>(std::max<std::size_t>(arriving, 1));
      net.layers.push_back(random_layer(rng, p, widths[l], widths[l + 1], 0.0, 0.6 * mean));
      for_each_weight(net.layers.back(), [&](double& w) { w += mean; });
      network_forward(net, train, ws);
    }
    if (ws.traces.back().spikes.size() >= 3 && min_crossing_slope(net, ws) >= 0.05) return true;
  }
  return false;
}

}  // namespace spiketime::testing
