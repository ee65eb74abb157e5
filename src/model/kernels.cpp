// The engine's vector kernels (kernels.hpp), compiled once per SIMD target by
// Highway's foreach_target and dispatched at run time to the best target the
// CPU supports, or the one chosen with select_target (simd.cpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>

#include "model/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace spiketime::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<double>;
using V = hn::Vec<D>;
constexpr int kLanes = static_cast<int>(hn::MaxLanes(D()));

// Both passes go neuron block by neuron block over the whole input train:
// the neurons of a layer do not interact, so each block of 64 can be
// simulated (and reversed) on its own, with its state and sums in L1.
// Keeping a forward block's state in vector registers instead (48 neurons
// on AVX-512, as this engine did before it was portable) was slower: on an
// AVX-512 Xeon the MNIST hidden layer's forward pass took 107 us per sample
// that way against 93 us in memory, and AVX2's 16 registers would hold only
// 12 neurons (docs/measurements/2026-11-30-xeon-avx512-device.log).
static_assert(kForwardBlock <= 64);  // the screen's flags are 64 bits
static_assert(Layer::kRowMultiple % hn::MaxLanes(hn::ScalableTag<float>()) == 0, "rows of whole float vectors");
static_assert(kSlopeLanes % kLanes == 0 && kForwardBlock % kLanes == 0);
// Weight rows are prefetched this many input spikes ahead: a block visits
// each row once per sample, so nothing else brings them in ahead of time.
// The forward pass also prefetches the segment of each row that the next
// block will read, a whole pass ahead (on AVX2, with the 12-neuron register
// blocks of the first port, the hidden layer's forward pass took about a
// fifth less time with it over repeated runs on a noisy host).
constexpr uint32_t kPrefetchAhead = 8;
// Vectors of `bytes` each that make one 64-byte cache line: the step of the
// prefetches along a row.
constexpr int VectorsPerLine(int bytes) { return bytes < 64 ? 64 / bytes : 1; }

// Of an argument struct's float64 and float32 pointers to the same thing
// (weights, gradient), the one in the precision T.
template <class T, class P64, class P32>
auto* in_precision(P64* p64, P32* p32) {
  if constexpr (std::is_same_v<T, float>) {
    return p32;
  } else {
    return p64;
  }
}

// x, a vector of float or double with as many lanes as a float64 vector,
// as float64.
template <class VM>
HWY_INLINE V wide64(D d, VM x) {
  if constexpr (std::is_same_v<hn::TFromV<VM>, float>) {
    return hn::PromoteTo(d, x);
  } else {
    return x;
  }
}

// The float32 screen's thresholds: the float at or below theta (+inf stays
// +inf), so that rounding flags more neurons, never fewer.
float threshold32(double theta) {
  float t = static_cast<float>(theta);
  if (static_cast<double>(t) > theta) t = std::nextafter(t, 0.0f);
  return t;
}

// Neurons [b, b + width) through all steps, in whole vectors of them (the
// rows are padded with zeros to whole vectors, Layer::kRowMultiple), in
// float64 or float32 (T). Each step decays the states, then adds the weight
// rows of the step's input spikes to the currents (a spike at exactly
// t0 + dt is found before the jump, which cannot cause it). The state is
// kept twice, at the start of the step and at its end, the two trading
// places every step.
//
// The screen flags the neurons that may have crossed threshold in the step,
// given the state (v, c) at its start and (v1, c1) at its end: a crossing
// needs V(t0+dt) >= theta, or an interior peak, whose height is I at the peak
// (< I(t0), so I(t0) >= theta) and which requires V to be falling at t0 + dt
// (I < V). A peak also needs V rising at t0 (I > V), which holds whenever
// V < theta <= I there: not testing it can only flag more neurons. Only the
// flagged neurons get the exact scalar search (ResolveFn), in float64 from
// the state rounded to T.
template <class T>
void ForwardBlock(const ForwardArgs& a, int b, int width) {
  using DT = hn::ScalableTag<T>;
  const DT d;
  constexpr int kTLanes = static_cast<int>(hn::MaxLanes(DT()));
  const int used = (width + kTLanes - 1) / kTLanes;
  constexpr int kVecs = kForwardBlock / kTLanes;
  constexpr int kLineVecs = VectorsPerLine(kTLanes * static_cast<int>(sizeof(T)));
  static_assert(kForwardBlock % kTLanes == 0 && kTLanes <= 16);
  const T* weights = in_precision<T>(a.weights, a.weights32) + b;
  HWY_ALIGN T v[2][kVecs * kTLanes], c[2][kVecs * kTLanes];
  // float64 reads the thresholds in place; float32 keeps a rounded copy,
  // and widens the state of a block with a flagged neuron for ResolveFn.
  HWY_ALIGN float threshold_copy[kForwardBlock];
  HWY_ALIGN double v0d[kForwardBlock], c0d[kForwardBlock], v1d[kForwardBlock];
  const T* threshold;
  if constexpr (std::is_same_v<T, float>) {
    for (int i = 0; i < used * kTLanes; ++i) threshold_copy[i] = threshold32(a.threshold[b + i]);
    threshold = threshold_copy;
  } else {
    threshold = a.threshold + b;
  }
  int now = 0;
  for (int vec = 0; vec < used; ++vec) {
    hn::Store(hn::Zero(d), d, v[0] + vec * kTLanes);
    hn::Store(hn::Zero(d), d, c[0] + vec * kTLanes);
  }
  for (uint32_t k = 0; k < a.n_steps; ++k) {
    const InputStep& step = a.steps[k];
    if (step.dt > 0.0) {
      const auto fm = hn::Set(d, static_cast<T>(step.f.membrane)), fkappa = hn::Set(d, static_cast<T>(step.f.kappa)),
                 fs = hn::Set(d, static_cast<T>(step.f.synapse));
      uint64_t flagged = 0;
      const T *v0 = v[now], *c0 = c[now];
      T *v1 = v[1 - now], *c1 = c[1 - now];
      for (int vec = 0; vec < used; ++vec) {
        const auto v_start = hn::Load(d, v0 + vec * kTLanes), c_start = hn::Load(d, c0 + vec * kTLanes);
        const auto v_end = hn::Add(hn::Mul(fm, v_start), hn::Mul(fkappa, c_start)), c_end = hn::Mul(fs, c_start);
        hn::Store(v_end, d, v1 + vec * kTLanes);
        hn::Store(c_end, d, c1 + vec * kTLanes);
        const auto th = hn::LoadU(d, threshold + vec * kTLanes);
        const auto may_cross = hn::Or(hn::Ge(v_end, th), hn::And(hn::Lt(c_end, v_end), hn::Ge(c_start, th)));
        uint8_t bits[8] = {};
        hn::StoreMaskBits(d, may_cross, bits);
        uint64_t word;
        std::memcpy(&word, bits, sizeof word);
        flagged |= (word & ((uint64_t{1} << kTLanes) - 1)) << (vec * kTLanes);
      }
      if (flagged != 0) {
        if constexpr (std::is_same_v<T, float>) {
          // ResolveFn reads and writes the flagged lanes only.
          for (uint64_t rest = flagged; rest != 0; rest &= rest - 1) {
            const int lane = std::countr_zero(rest);
            v0d[lane] = v0[lane];
            c0d[lane] = c0[lane];
            v1d[lane] = v1[lane];
          }
          a.resolve(a.context, b, k, flagged, v0d, c0d, v1d);
          for (uint64_t rest = flagged; rest != 0; rest &= rest - 1) {
            const int lane = std::countr_zero(rest);
            v1[lane] = static_cast<float>(v1d[lane]);
            threshold_copy[lane] = threshold32(a.threshold[b + lane]);  // max_spikes may have silenced it
          }
        } else {
          a.resolve(a.context, b, k, flagged, v0, c0, v1);
        }
      }
      now = 1 - now;
    }
    T* cn = c[now];
    for (uint32_t e = step.first; e < step.last; ++e) {
      if (e + kPrefetchAhead < a.n_inputs) {  // one prefetch a cache line
        const T* ahead = weights + static_cast<std::size_t>(a.inputs[e + kPrefetchAhead]) * a.stride;
        for (int vec = 0; vec < used; vec += kLineVecs) hwy::Prefetch(ahead + vec * kTLanes);
      }
      const T* row = weights + static_cast<std::size_t>(a.inputs[e]) * a.stride;
      hwy::Prefetch(row + kForwardBlock);
      hwy::Prefetch(row + 2 * kForwardBlock - 1);
      for (int vec = 0; vec < used; ++vec) {
        hn::Store(hn::Add(hn::Load(d, cn + vec * kTLanes), hn::LoadU(d, row + vec * kTLanes)), d, cn + vec * kTLanes);
      }
    }
  }
}

void ForwardLayer(const ForwardArgs& a) {
  const int n = static_cast<int>(a.n_out);
  for (int b = 0; b < n; b += kForwardBlock) {
    const int width = std::min(kForwardBlock, n - b);
    a.weights32 ? ForwardBlock<float>(a, b, width) : ForwardBlock<double>(a, b, width);
  }
}

// The reverse sweep of neurons [b, b + width), latest input first, keeping
// the block's three sums (see layer_backward) in memory (measured faster
// than in registers), in float64 or float32 (T). Adds to the weight
// gradient, in float64 or float32 (G: float only with T float), and, with
// kInputGradient, to the partial sums of dL/dt in float64. The loops that
// widen go by vectors of as many T as a float64 vector holds (DS), so that a
// float32 sum widens to one float64 vector; those that stay in T go by full
// vectors of T. kFull: a whole block, whose vector count is a constant.
template <class T, class G, bool kFull, bool kInputGradient>
void BackwardBlock(const BackwardArgs& a, int block, int width) {
  const D d;
  using DS = hn::Rebind<T, D>;
  const DS ds;
  using DT = hn::ScalableTag<T>;
  constexpr int kTLanes = static_cast<int>(hn::MaxLanes(DT()));
  static_assert(kBackwardBlock % kTLanes == 0);
  constexpr int kBackwardVecs = kBackwardBlock / kLanes;
  // One prefetch a cache line of the gradient (a float32 weight row has half
  // as many lines as a float64 gradient: each is then prefetched twice).
  constexpr int kLineVecs = VectorsPerLine(kLanes * static_cast<int>(sizeof(G)));
  const DT dfull;
  const T* weights = in_precision<T>(a.weights, a.weights32);
  G* grad = in_precision<G>(a.grad_weights, a.grad_weights32);
  const int b = block * kBackwardBlock;
  const int used = kFull ? kBackwardVecs : (width + kLanes - 1) / kLanes;  // whole vectors: padded rows
  // The same lanes in full vectors of T (in float32 half as many vectors;
  // the lanes past `used` are zero in the sums and stay zero).
  const int used_full = (used * kLanes + kTLanes - 1) / kTLanes;
  const uint32_t start = a.block_start[block];
  uint32_t next = a.block_start[block + 1];  // the block's spikes [start, next) are not in the sums yet
  HWY_ALIGN T acc_m[kBackwardBlock] = {}, acc_s[kBackwardBlock] = {}, acc_kappa[kBackwardBlock] = {};
  bool active = false;
  for (std::size_t m = a.n_inputs; m-- > 0;) {
    // Output spikes enter (scalar).
    for (; next > start && a.entry[a.order[next - 1]] == static_cast<int32_t>(m); --next) {
      const uint32_t e = a.order[next - 1];
      const int l = a.out_neuron[e] - b;
      const double lambda = a.lambda[e];
      const Decay& f = a.entry_decay[e];
      acc_m[l] += static_cast<T>(lambda * f.membrane);
      acc_s[l] += static_cast<T>(lambda * f.synapse);
      acc_kappa[l] += static_cast<T>(lambda * f.kappa);
      active = true;
    }
    if (!active) continue;  // no later spike of this block: nothing here depends on the input
    if (m >= kPrefetchAhead) {  // one prefetch a cache line
      const std::size_t ahead = static_cast<std::size_t>(a.inputs[m - kPrefetchAhead]) * a.stride + b;
      for (int vec = 0; vec < used; vec += kLineVecs) {
        hwy::Prefetch(grad + ahead + vec * kLanes);
        if constexpr (kInputGradient) hwy::Prefetch(weights + ahead + vec * kLanes);
      }
    }
    const std::size_t row = static_cast<std::size_t>(a.inputs[m]) * a.stride + b;
    if constexpr (std::is_same_v<G, T>) {
      for (int vec = 0; vec < used_full; ++vec) {
        G* gw = grad + row + vec * kTLanes;
        hn::StoreU(hn::Add(hn::LoadU(dfull, gw), hn::Load(dfull, acc_kappa + vec * kTLanes)), dfull, gw);
      }
    } else {
      for (int vec = 0; vec < used; ++vec) {
        double* gw = grad + row + vec * kLanes;
        hn::StoreU(hn::Add(hn::LoadU(d, gw), wide64(d, hn::Load(ds, acc_kappa + vec * kLanes))), d, gw);
      }
    }
    if constexpr (kInputGradient) {
      // Neuron b + i into partial sum (b + i) % kSlopeLanes: kLanes divides
      // both b and kSlopeLanes, so a vector maps onto consecutive sums. The
      // lanes past the layer's last neuron add w = 0 times 0.
      double* slope = a.slope + m * kSlopeLanes;
      for (int vec = 0; vec < used; ++vec) {
        const auto w = hn::LoadU(ds, weights + row + vec * kLanes);
        const auto diff = hn::Sub(hn::Load(ds, acc_s + vec * kLanes), hn::Load(ds, acc_kappa + vec * kLanes));
        double* sum = slope + (b + vec * kLanes) % kSlopeLanes;
        hn::StoreU(hn::Add(hn::LoadU(d, sum), wide64(d, hn::Mul(w, diff))), d, sum);
      }
    }
    const Decay& f = a.shift[m];
    // An input at the same time as the one before it (most of an image's
    // pixels share their time with others: 150 spikes at 67 times on
    // MNIST) shifts by nothing: the sums stay as they are, bit for bit.
    if (f.kappa == 0.0 && f.membrane == 1.0 && f.synapse == 1.0) continue;
    // The shift touches the sums alone, so it goes by full vectors of T.
    const auto fm = hn::Set(dfull, static_cast<T>(f.membrane)), fs = hn::Set(dfull, static_cast<T>(f.synapse)),
               fkappa = hn::Set(dfull, static_cast<T>(f.kappa));
    for (int vec = 0; vec < used_full; ++vec) {
      const auto am = hn::Load(dfull, acc_m + vec * kTLanes);
      const auto ak = hn::Load(dfull, acc_kappa + vec * kTLanes);
      hn::Store(hn::Add(hn::Mul(fkappa, am), hn::Mul(fs, ak)), dfull, acc_kappa + vec * kTLanes);
      hn::Store(hn::Mul(am, fm), dfull, acc_m + vec * kTLanes);
      if constexpr (kInputGradient) {
        hn::Store(hn::Mul(hn::Load(dfull, acc_s + vec * kTLanes), fs), dfull, acc_s + vec * kTLanes);
      }
    }
  }
}

template <class T, class G>
void BackwardBlocks(const BackwardArgs& a) {
  const int n = static_cast<int>(a.n_out);
  for (int b = 0; b < n; b += kBackwardBlock) {
    const int width = std::min(kBackwardBlock, n - b);
    const int block = b / kBackwardBlock;
    if (a.block_start[block] == a.block_start[block + 1]) continue;  // no spike: no gradient
    const bool full = width == kBackwardBlock;
    if (a.slope) {
      full ? BackwardBlock<T, G, true, true>(a, block, width) : BackwardBlock<T, G, false, true>(a, block, width);
    } else {
      full ? BackwardBlock<T, G, true, false>(a, block, width) : BackwardBlock<T, G, false, false>(a, block, width);
    }
  }
}

void BackwardLayer(const BackwardArgs& a) {
  if (!a.weights32) return BackwardBlocks<double, double>(a);
  a.grad_weights32 ? BackwardBlocks<float, float>(a) : BackwardBlocks<float, double>(a);
}

// The optimizer state of OptimizerArgs in the precision M: the moments and
// the gradient.
struct OptimizerState64 {
  using M = double;
  static double* first(const OptimizerArgs& a) { return a.first_moment; }
  static double* second(const OptimizerArgs& a) { return a.second_moment; }
  static double* gradient(const OptimizerArgs& a) { return a.gradient; }
};
struct OptimizerState32 {
  using M = float;
  static float* first(const OptimizerArgs& a) { return a.first_moment32; }
  static float* second(const OptimizerArgs& a) { return a.second_moment32; }
  static float* gradient(const OptimizerArgs& a) { return a.gradient32; }
};

// One vector of the optimizer step at the weights w (and their float32 copy
// w32, or null) with moments m, v and gradient g of type M (see
// OptimizerArgs), as many of them as a float64 vector holds. The arithmetic
// is that of the scalar formulas, operation by operation, in M.
template <bool kAdam, bool kGradient, class M>
HWY_INLINE void OptimizerVector(const OptimizerArgs& a, double* w, M* m, M* v, M* g, float* w32) {
  const D d;
  const hn::Rebind<M, D> dm;
  const auto c = [&](double x) { return hn::Set(dm, static_cast<M>(x)); };
  const auto gk = kGradient ? hn::Mul(hn::LoadU(dm, g), c(a.factor)) : hn::Zero(dm);
  const V wk = hn::LoadU(d, w);
  V next;
  if constexpr (kAdam) {
    // m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;
    // w -= (lr / bias1) m / (sqrt(v) / sqrt(bias2) + eps) + lr decay w,
    // PyTorch's arrangement: one division and one square root per weight
    // (the bias corrections are scalars, a.step_size and a.inv_sqrt_bias2).
    // Division and square root dominate the step's time: with three
    // divisions it took 3.0 ns per weight on the Xeon VM (avx512 and avx2).
    const auto mk = hn::Add(hn::Mul(c(a.beta1), hn::LoadU(dm, m)), hn::Mul(c(1.0 - a.beta1), gk));
    const auto vk = hn::Add(hn::Mul(c(a.beta2), hn::LoadU(dm, v)), hn::Mul(hn::Mul(c(1.0 - a.beta2), gk), gk));
    const auto denom = hn::Add(hn::Mul(hn::Sqrt(vk), c(a.inv_sqrt_bias2)), c(a.eps));
    const auto step = hn::Div(hn::Mul(c(a.step_size), mk), denom);
    hn::StoreU(mk, dm, m);
    hn::StoreU(vk, dm, v);
    next = hn::Sub(wk, hn::Add(wide64(d, step), hn::Mul(hn::Set(d, a.lr * a.weight_decay), wk)));
  } else {
    // velocity = mu velocity + g;  w -= lr (velocity + decay w)
    const auto vel = hn::Add(hn::Mul(c(a.momentum), hn::LoadU(dm, m)), gk);
    hn::StoreU(vel, dm, m);
    next = hn::Sub(wk, hn::Mul(hn::Set(d, a.lr), hn::Add(wide64(d, vel), hn::Mul(hn::Set(d, a.weight_decay), wk))));
  }
  hn::StoreU(next, d, w);
  // Rounded to nearest, as static_cast<float> (Layer::refresh_float32) rounds.
  if (w32) hn::StoreU(hn::DemoteTo(hn::Rebind<float, D>(), next), hn::Rebind<float, D>(), w32);
  if constexpr (kGradient) hn::StoreU(hn::Zero(dm), dm, g);
}

template <bool kAdam, bool kGradient, class State>
void OptimizerLoop(const OptimizerArgs& a) {
  using M = typename State::M;
  M* const first = State::first(a);
  M* const second = kAdam ? State::second(a) : nullptr;
  M* const gradient = kGradient ? State::gradient(a) : nullptr;
  std::size_t k = 0;
  for (; k + kLanes <= a.n; k += kLanes) {
    OptimizerVector<kAdam, kGradient>(a, a.weights + k, first + k, kAdam ? second + k : nullptr,
                                      kGradient ? gradient + k : nullptr, a.weights32 ? a.weights32 + k : nullptr);
  }
  if (k == a.n) return;
  // The tail through a whole vector of copies (the other lanes are zero).
  const std::size_t rest = a.n - k;
  HWY_ALIGN double w[kLanes] = {};
  HWY_ALIGN M m[kLanes] = {}, v[kLanes] = {}, g[kLanes] = {};
  HWY_ALIGN float w32[kLanes] = {};
  std::memcpy(w, a.weights + k, rest * sizeof(double));
  std::memcpy(m, first + k, rest * sizeof(M));
  if (kAdam) std::memcpy(v, second + k, rest * sizeof(M));
  if (kGradient) std::memcpy(g, gradient + k, rest * sizeof(M));
  OptimizerVector<kAdam, kGradient>(a, w, m, v, g, a.weights32 ? w32 : nullptr);
  std::memcpy(a.weights + k, w, rest * sizeof(double));
  if (a.weights32) std::memcpy(a.weights32 + k, w32, rest * sizeof(float));
  std::memcpy(first + k, m, rest * sizeof(M));
  if (kAdam) std::memcpy(second + k, v, rest * sizeof(M));
  if (kGradient) std::memcpy(gradient + k, g, rest * sizeof(M));
}

template <class State>
void OptimizerSteps(const OptimizerArgs& a) {
  const bool adam = State::second(a) != nullptr;
  const bool gradient = State::gradient(a) != nullptr;
  if (adam && gradient) OptimizerLoop<true, true, State>(a);
  if (adam && !gradient) OptimizerLoop<true, false, State>(a);
  if (!adam && gradient) OptimizerLoop<false, true, State>(a);
  if (!adam && !gradient) OptimizerLoop<false, false, State>(a);
}

void OptimizerStep(const OptimizerArgs& a) {
  a.first_moment32 ? OptimizerSteps<OptimizerState32>(a) : OptimizerSteps<OptimizerState64>(a);
}

}  // namespace HWY_NAMESPACE
}  // namespace spiketime::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spiketime::kernels {

HWY_EXPORT(ForwardLayer);
HWY_EXPORT(BackwardLayer);
HWY_EXPORT(OptimizerStep);

void forward_layer(const ForwardArgs& args) { HWY_DYNAMIC_DISPATCH(ForwardLayer)(args); }
void backward_layer(const BackwardArgs& args) { HWY_DYNAMIC_DISPATCH(BackwardLayer)(args); }
void optimizer_step(const OptimizerArgs& args) { HWY_DYNAMIC_DISPATCH(OptimizerStep)(args); }

void adam_constants(OptimizerArgs& args, double lr, double beta1, double beta2, double eps, int64_t t) {
  args.lr = lr;
  args.beta1 = beta1;
  args.beta2 = beta2;
  args.eps = eps;
  args.step_size = lr / (1.0 - std::pow(beta1, static_cast<double>(t)));
  args.inv_sqrt_bias2 = 1.0 / std::sqrt(1.0 - std::pow(beta2, static_cast<double>(t)));
}

}  // namespace spiketime::kernels
#endif
