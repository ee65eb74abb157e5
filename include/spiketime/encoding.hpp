// Input encoding (MODEL.md section 4): a latency code, plus optional bias
// input neurons that spike at fixed times.
#pragma once

#include <cstdint>
#include <vector>

#include "spiketime/layer.hpp"

namespace spiketime {

struct Encoding {
  double t_in_max = 10.0;          // a feature of 1 spikes at 0, one near 0 at t_in_max
  std::vector<double> bias_times;  // one extra input neuron per entry, after the features

  int n_inputs(int n_features) const { return n_features + static_cast<int>(bias_times.size()); }
};

// Feature f with value x in (0, 1] spikes once at t_in_max * (1 - x); x <= 0
// does not spike. (x above 1 would spike before 0: the data loaders give
// [0, 1], and the Python module refuses other values.) Bias neuron b (index
// n_features + b) spikes at bias_times[b].
void encode_latency(const float* features, int n_features, const Encoding& encoding, SpikeTrain& out);

// Orders a spike train by time, ties by neuron index.
void sort_spike_train(SpikeTrain& train);

// Training-time noise: drops each spike with probability `drop`, adds
// Gaussian noise of standard deviation `sigma` to the time of each one kept
// (clamped to [0, t_max]) and re-sorts. The noise is a pure function of
// `seed`, so a sample gets the same noise on any thread.
void perturb_spike_train(SpikeTrain& train, double drop, double sigma, double t_max, uint64_t seed);

// Training-time augmentation of an image (rows x cols features, row-major):
// mirrored left to right, then moved dx pixels right and dy down; a pixel
// moved in from outside the image is 0.
struct ImageTransform {
  int dx = 0, dy = 0;
  bool mirror = false;

  bool identity() const { return dx == 0 && dy == 0 && !mirror; }
};
// dx and dy uniform in [-max_shift, max_shift], mirror with probability
// p_mirror: a pure function of `seed`, the same on every platform.
ImageTransform draw_image_transform(int max_shift, double p_mirror, uint64_t seed);
// out[r * cols + c] = image[(r - dy) * cols + m(c - dx)], m(x) = cols - 1 - x
// when mirrored, else x; 0 where that lies outside the image. out must not
// overlap image.
void transform_image(const float* image, int rows, int cols, const ImageTransform& t, float* out);

}  // namespace spiketime
