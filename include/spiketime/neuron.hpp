// Current-based leaky integrate-and-fire neuron: the math of MODEL.md
// sections 1 and 2 as small pure functions.
//
// Between events a neuron's state (V, I) evolves as
//   tau_s dI/dt = -I,   tau_m dV/dt = -V + I.
// Everything here works on the state at a reference time (the last event), so
// that exponentials never grow: windows of thousands of time constants are fine.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace spiketime {

// Parameters shared by every neuron of a layer.
struct NeuronParams {
  double tau_m = 10.0;  // membrane time constant
  double tau_s = 5.0;   // synaptic current time constant
  double theta = 1.0;   // firing threshold; a spike subtracts theta from V
  int max_spikes = 0;   // spikes per neuron and sample; 0 = unlimited, 1 = TTFS
};

// The state of one neuron at a reference time.
struct NeuronState {
  double v = 0.0;  // membrane potential
  double i = 0.0;  // synaptic current
};

// How the first threshold crossing is found. Automatic picks the closed form
// when tau_m/tau_s is exactly 1 (Lambert W) or exactly 2 (a quadratic in
// exp(-t/tau_m)) and the bracketed root finder otherwise; the other values
// force one path (tests compare them with each other).
enum class CrossingSolver { Automatic, LambertW, Quadratic, Bracketed };

inline constexpr double kNoCrossing = std::numeric_limits<double>::infinity();

// expm1(y)/y, continuous at y = 0 (where it is 1).
double exprel(double y);

// log1p(x)/x, continuous at x = 0 (where it is 1).
double log1prel(double x);

// Principal branch W0 of the Lambert W function on [-1/e, 0]: w with w e^w = x.
double lambert_w0(double x);

// Postsynaptic potential of a unit current jump, s after it:
//   kappa(s) = tau_s/(tau_m - tau_s) (exp(-s/tau_m) - exp(-s/tau_s)),
// written as exp(-s/tau_m) * (s/tau_m) * exprel(-s (1/tau_s - 1/tau_m)) so that
// it stays accurate as tau_m -> tau_s and equals (s/tau) exp(-s/tau) there.
// Zero for s <= 0.
double kappa(double s, const NeuronParams& p);

// d kappa / ds = (exp(-s/tau_s) - kappa(s)) / tau_m for s > 0 (right limit at 0).
double kappa_prime(double s, const NeuronParams& p);

// The three factors of an interval s >= 0, shared by every neuron of a layer:
// V(t0+s) = m V + kappa I and I(t0+s) = s I.
struct Decay {
  double membrane;  // exp(-s/tau_m)
  double synapse;   // exp(-s/tau_s)
  double kappa;     // kappa(s)
};
Decay decay(double s, const NeuronParams& p);

// The state s >= 0 after the reference, with no event in between.
NeuronState evolve(NeuronState x, double s, const NeuronParams& p);

// dV/dt of the state.
inline double v_dot(NeuronState x, const NeuronParams& p) { return (x.i - x.v) / p.tau_m; }

// Time after the reference at which V has its only extremum (where V = I), or
// kNoCrossing when V has none in (0, inf).
double extremum_time(NeuronState x, const NeuronParams& p);

// The highest potential in [times[0], t_end] of a neuron at rest before
// times[0] that receives n input spikes (times ascending; spike e adds
// weights[e] to I) and never fires, with its time; {t_end, 0} when n == 0.
// The trainer's gradient for a silent output is taken at this peak.
struct PotentialPeak {
  double time;
  double v;
};
PotentialPeak potential_peak(const double* times, const double* weights, std::size_t n, double t_end,
                             const NeuronParams& p);

// The first upward crossing of theta in (0, s_max], as a time after the
// reference, or kNoCrossing. Requires x.v < theta (true after a reset).
double first_crossing(NeuronState x, double s_max, const NeuronParams& p,
                      CrossingSolver solver = CrossingSolver::Automatic);

// tau_m == 2 tau_s only: the first upward crossing, at any time after the
// reference, as the factor q = exp(-s/tau_m) in (0, 1], or 0 when there is
// none. Lets a caller that works with decay factors skip the logarithm and
// exponentials of first_crossing. Inline: the engine calls it once or twice
// per spike.
inline double quadratic_crossing_factor(NeuronState x, const NeuronParams& p) {
  if (x.i <= 0.0 || x.i <= x.v) return 0.0;  // V does not start rising towards a positive current
  // With q = exp(-s/tau_m): V = -i q^2 + (v + i) q. Both roots lie in (0, 1);
  // the larger q is the earlier time, the upward crossing.
  const double b = x.v + x.i;
  const double disc = b * b - 4.0 * x.i * p.theta;
  if (b <= 0.0 || disc < 0.0) return 0.0;
  return std::min(1.0, (b + std::sqrt(disc)) / (2.0 * x.i));
}

}  // namespace spiketime
