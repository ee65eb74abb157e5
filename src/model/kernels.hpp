// The dispatch boundary of the engine's vector kernels (Highway, one build
// for every CPU): plain argument structs of pointers and sizes in, nothing
// but memory out; no vector type crosses it. kernels.cpp compiles each
// kernel once per SIMD target and calls the best one the CPU supports (or
// the one chosen with select_target, simd.hpp).
//
// Every kernel gives the same bits on every target: no floating-point
// contraction (the build passes -ffp-contract=off, and the kernels use
// separate multiplies and adds), each lane's arithmetic in the same order as
// the scalar code, and sums across neurons in a fixed order that does not
// depend on the vector width (kSlopeLanes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "spiketime/layer.hpp"

namespace spiketime::kernels {

// The neuron-block widths of both passes, the same on every target
// (kernels.cpp explains them): multiples of every target's vector width, and
// at most 64 (the screen's flags are 64 bits).
inline constexpr int kForwardBlock = 64;
inline constexpr int kBackwardBlock = 64;

// The reverse pass sums w * (acc_s - acc_kappa) over a layer's neurons into
// this many partial sums per input spike, neuron i into sum i % kSlopeLanes,
// each in increasing neuron order; layer.cpp adds the partial sums in index
// order. A multiple of every target's vector width, so that the order of the
// additions is the same on all of them.
inline constexpr int kSlopeLanes = 16;

// Called by forward_layer for the neurons of a block that may have crossed
// threshold in a step: bit l of `flagged` is neuron block + l; v0 and c0 hold
// the block's states at the start of the step, v1 its potentials at the end,
// which the callee overwrites for the neurons that spiked. It may raise a
// neuron's threshold to +inf (max_spikes used up).
using ResolveFn = void (*)(void* context, int block, uint32_t step, uint64_t flagged, const double* v0,
                           const double* c0, double* v1);

// Both passes run in float64, or in float32 when weights32 is given
// (Layer::weights32): weights, potentials, currents and the reverse pass's
// sums in float32, at twice the lanes and half the memory traffic. The
// exact crossing search (ResolveFn) stays float64; the weight gradient is
// summed in float64, or in float32 when grad_weights32 is given (the
// trainer's float32 path: half the store traffic of the reverse pass).
struct ForwardArgs {
  const double* weights;    // input-major rows of `stride` (Layer::weights: padded with zeros)
  const float* weights32;   // the same in float32, or null
  std::size_t stride;
  std::size_t n_out;
  const int32_t* inputs;  // the input spikes' neurons, in time order
  uint32_t n_inputs;
  const InputStep* steps;
  uint32_t n_steps;
  const double* threshold;  // per neuron, padded with +inf to a whole forward block
  ResolveFn resolve;
  void* context;
};
// Simulates every neuron of the layer through all steps, block by block.
void forward_layer(const ForwardArgs& args);

struct BackwardArgs {
  const double* weights;    // input-major rows of `stride` (Layer::weights: padded with zeros)
  const float* weights32;   // the same in float32, or null
  std::size_t stride;
  std::size_t n_out;
  const int32_t* inputs;  // the input spikes' neurons, in time order
  std::size_t n_inputs;
  // The output spikes grouped by backward block (out_neuron / backward_block):
  // block k's are order[block_start[k] .. block_start[k + 1]), in time order.
  const uint32_t* block_start;
  const uint32_t* order;
  const int32_t* out_neuron;  // per output spike
  const int32_t* entry;       // per output spike: the input after which it enters the sums (-1: none)
  const double* lambda;       // per output spike
  const Decay* entry_decay;   // per output spike: its decay from that input
  const Decay* shift;         // per input spike: the decay back to the previous input
  double* grad_weights;       // the layout of weights, added to (the padding stays zero)
  float* grad_weights32;      // or this, in float32 (with weights32 only); the other is null
  double* slope;              // null, or n_inputs x kSlopeLanes partial sums, added to
};
// The reverse sweep (MODEL.md section 3) of every block, latest input first.
void backward_layer(const BackwardArgs& args);

// The optimizer's elementwise step over n contiguous weights: Adam with
// decoupled weight decay (second_moment non-null) or SGD with momentum
// (first_moment is the velocity). The gradient is g * factor, and g is
// cleared; a null g stands for a zero gradient and is not touched. Adam's
// bias corrections come as step_size = lr / (1 - beta1^t) and
// inv_sqrt_bias2 = 1 / sqrt(1 - beta2^t) (adam_constants). With weights32
// (the float32 copy of Layer::weights32, or null) the step also writes each
// new weight rounded to float there, in the same pass.
//
// The float32 path keeps the gradient and the moments in float32 instead
// (the *32 pointers, the float64 ones null): the step is computed in float32
// arithmetic, as PyTorch's Adam does for float32 parameters, and subtracted
// from the float64 weight, so that small steps still add up. Adam's square
// root and division in float64 were most of the step's time (a loop over
// the MNIST network's weights: 1.7 ns per weight, 1.0 with float32
// moments, on the Xeon VM with AVX-512).
struct OptimizerArgs {
  double lr, beta1, beta2, eps, step_size, inv_sqrt_bias2, momentum, weight_decay, factor;
  std::size_t n;
  double* weights;
  float* weights32;
  double* first_moment;
  double* second_moment;
  double* gradient;
  float* first_moment32;
  float* second_moment32;
  float* gradient32;
};
void optimizer_step(const OptimizerArgs& args);
// Sets lr, beta1, beta2, eps and Adam's bias corrections for step t >= 1.
void adam_constants(OptimizerArgs& args, double lr, double beta1, double beta2, double eps, int64_t t);

}  // namespace spiketime::kernels
