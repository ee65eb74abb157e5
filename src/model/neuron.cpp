#include "spiketime/neuron.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spiketime {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// y = -W0(-exp(L)) in (0, 1], the root of log(y) - y = L for L <= -1.
// Working with L instead of x = -exp(L) keeps full precision near the branch
// point x = -1/e (L = -1), which is exactly where grazing crossings live.
double minus_w0_of_minus_exp(double log_minus_x) {
  const double excess = -1.0 - log_minus_x;  // >= 0; 0 at the branch point
  if (excess <= 0.0) return 1.0;
  // The branch-point variable p = sqrt(2 (1 + e x)), with 1 + e x = 1 - exp(-excess).
  const double p = std::sqrt(-2.0 * std::expm1(-excess));
  if (p < 1e-2) {
    // Series of W0 about the branch point (Corless et al. 1996); the first
    // omitted term is below 1e-16.
    const double w = -1.0 + p * (1.0 + p * (-1.0 / 3.0 + p * (11.0 / 72.0 + p * (-43.0 / 540.0 +
                                 p * (769.0 / 17280.0 + p * (-221.0 / 8505.0))))));
    return -w;
  }
  double y = p < 1.0 ? 1.0 - p + p * p / 3.0 - 11.0 / 72.0 * p * p * p : std::exp(log_minus_x);
  // Newton on the concave, increasing F(y) = log(y) - y - L: from below the
  // root the iterates rise monotonically to it.
  for (int iter = 0; iter < 100; ++iter) {
    const double f = std::log(y) - y - log_minus_x;
    const double next = std::max(0.5 * y, y - f * y / (1.0 - y));
    if (std::abs(next - y) <= 2.0 * kEps * y) return next;
    y = next;
  }
  return y;
}

double crossing_lambert(NeuronState x, double s_max, const NeuronParams& p) {
  if (p.tau_m != p.tau_s) throw std::invalid_argument("Lambert W crossing needs tau_m == tau_s");
  // V(u) = (v + i u) e^-u with u = s/tau; z = u + v/i solves z e^-z = e^L.
  const double log_rhs = std::log(p.theta / x.i) - x.v / x.i;
  if (log_rhs > -1.0) return kNoCrossing;  // the peak stays below threshold
  const double z = minus_w0_of_minus_exp(log_rhs);
  const double s = std::max(0.0, p.tau_m * (z - x.v / x.i));
  return s <= s_max ? s : kNoCrossing;
}

double crossing_quadratic(NeuronState x, double s_max, const NeuronParams& p) {
  if (p.tau_m != 2.0 * p.tau_s) throw std::invalid_argument("quadratic crossing needs tau_m == 2 tau_s");
  const double q = quadratic_crossing_factor(x, p);
  if (q == 0.0) return kNoCrossing;
  const double s = -p.tau_m * std::log(q);
  return s <= s_max ? s : kNoCrossing;
}

double crossing_bracketed(NeuronState x, double s_max, const NeuronParams& p) {
  // On [0, min(extremum, s_max)] V rises monotonically, so the crossing is the
  // only root there: Newton's method kept inside a shrinking bracket.
  const double hi_end = std::min(extremum_time(x, p), s_max);
  const double f_hi = evolve(x, hi_end, p).v - p.theta;
  if (f_hi < 0.0) return kNoCrossing;
  if (f_hi == 0.0) return hi_end;
  double lo = 0.0;
  double hi = hi_end;
  double s = (p.theta - x.v) / v_dot(x, p);  // Newton step from s = 0
  if (!(s > lo && s < hi)) s = 0.5 * (lo + hi);
  for (int iter = 0; iter < 200; ++iter) {
    const NeuronState at = evolve(x, s, p);
    const double f = at.v - p.theta;
    if (f == 0.0) return s;
    (f < 0.0 ? lo : hi) = s;
    double next = s - f / v_dot(at, p);
    if (!(next > lo && next < hi)) next = lo + 0.5 * (hi - lo);
    if (std::abs(next - s) <= 2.0 * kEps * next || hi - lo <= 2.0 * kEps * hi) return next;
    s = next;
  }
  return s;
}

}  // namespace

double exprel(double y) { return y == 0.0 ? 1.0 : std::expm1(y) / y; }

double log1prel(double x) { return x == 0.0 ? 1.0 : std::log1p(x) / x; }

double lambert_w0(double x) {
  const double branch = -1.0 / std::exp(1.0);
  if (x == 0.0) return 0.0;
  if (!(x >= branch * (1.0 + 4.0 * kEps) && x < 0.0)) {
    if (x < 0.0 && x >= branch * (1.0 + 64.0 * kEps)) return -1.0;  // rounding of -1/e
    throw std::domain_error("lambert_w0 is implemented on [-1/e, 0]");
  }
  return -minus_w0_of_minus_exp(std::log(-x));
}

double kappa(double s, const NeuronParams& p) {
  if (s <= 0.0) return 0.0;
  const double decay_gap = s * (1.0 / p.tau_s - 1.0 / p.tau_m);  // s (1/tau_s - 1/tau_m)
  if (std::abs(decay_gap) < 1.0) {
    return std::exp(-s / p.tau_m) * (s / p.tau_m) * exprel(-decay_gap);
  }
  // Far from tau_m == tau_s the difference form has no cancellation and, unlike
  // the product form, cannot overflow for long windows.
  return p.tau_s / (p.tau_m - p.tau_s) * (std::exp(-s / p.tau_m) - std::exp(-s / p.tau_s));
}

double kappa_prime(double s, const NeuronParams& p) {
  if (s < 0.0) return 0.0;
  return (std::exp(-s / p.tau_s) - kappa(s, p)) / p.tau_m;
}

Decay decay(double s, const NeuronParams& p) {
  if (p.tau_m == 2.0 * p.tau_s) {
    // exp(-s/tau_s) = q^2 and kappa(s) = q (1 - q) with q = exp(-s/tau_m): one
    // transcendental call, through expm1 while q is near 1.
    const double x = s / p.tau_m;
    double q, one_minus_q;
    if (x < 0.5) {
      one_minus_q = -std::expm1(-x);
      q = 1.0 - one_minus_q;
    } else {
      q = std::exp(-x);
      one_minus_q = 1.0 - q;
    }
    return {q, q * q, q * one_minus_q};
  }
  return {std::exp(-s / p.tau_m), std::exp(-s / p.tau_s), kappa(s, p)};
}

NeuronState evolve(NeuronState x, double s, const NeuronParams& p) {
  const Decay d = decay(s, p);
  return {d.membrane * x.v + d.kappa * x.i, d.synapse * x.i};
}

double extremum_time(NeuronState x, const NeuronParams& p) {
  // V' = 0 where V = I, i.e. exp(-s (r-1)/tau_m) = 1 + (r-1) q with r = tau_m/tau_s
  // and q = (v - i)/(i r); the log1prel form stays exact as r -> 1.
  if (x.i == 0.0) return kNoCrossing;
  const double r = p.tau_m / p.tau_s;
  const double q = (x.v - x.i) / (x.i * r);
  const double arg = (r - 1.0) * q;
  if (!(q < 0.0) || arg <= -1.0) return kNoCrossing;
  return -p.tau_m * q * log1prel(arg);
}

PotentialPeak potential_peak(const double* times, const double* weights, std::size_t n, double t_end,
                             const NeuronParams& p) {
  PotentialPeak best{t_end, 0.0};
  if (n == 0) return best;
  best.time = std::min(times[0], t_end);
  NeuronState x{};
  double t = times[0];
  std::size_t e = 0;
  while (t < t_end) {
    for (; e < n && times[e] <= t; ++e) x.i += weights[e];
    const double next = e < n ? std::min(times[e], t_end) : t_end;
    // V is continuous (an input steps I only): the highest V of the stretch is
    // at its only extremum, if that is a maximum inside it, or at its end.
    const double s_peak = extremum_time(x, p);
    if (s_peak < next - t && v_dot(x, p) > 0.0) {
      const double v = evolve(x, s_peak, p).v;
      if (v > best.v) best = {t + s_peak, v};
    }
    x = evolve(x, next - t, p);
    if (x.v > best.v) best = {next, x.v};
    t = next;
  }
  return best;
}

double first_crossing(NeuronState x, double s_max, const NeuronParams& p, CrossingSolver solver) {
  // V can only reach theta > 0 if it starts rising towards a positive current.
  if (!(s_max > 0.0) || x.i <= 0.0 || x.i <= x.v) return kNoCrossing;
  if (solver == CrossingSolver::Automatic) {
    solver = p.tau_m == p.tau_s         ? CrossingSolver::LambertW
             : p.tau_m == 2.0 * p.tau_s ? CrossingSolver::Quadratic
                                        : CrossingSolver::Bracketed;
  }
  switch (solver) {
    case CrossingSolver::LambertW: return crossing_lambert(x, s_max, p);
    case CrossingSolver::Quadratic: return crossing_quadratic(x, s_max, p);
    default: return crossing_bracketed(x, s_max, p);
  }
}

}  // namespace spiketime
