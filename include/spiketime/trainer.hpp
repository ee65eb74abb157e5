// The training loop, separate from the model: mini-batches whose samples run
// in parallel, averaged exact gradients, Adam or SGD with momentum, learning
// rate schedules, and the remedies for silent neurons.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "spiketime/config.hpp"
#include "spiketime/dataset.hpp"
#include "spiketime/encoding.hpp"
#include "spiketime/model.hpp"
#include "spiketime/thread_pool.hpp"

namespace spiketime {

// What a pass over a split measured.
struct PassStats {
  int64_t n = 0, correct = 0, ties = 0, all_silent = 0;
  double loss_sum = 0.0;
  std::vector<int> layer_sizes;
  std::vector<std::vector<int64_t>> neuron_spikes;  // [layer][neuron], summed over samples
  std::vector<std::vector<int64_t>> count_histogram;  // [layer][k]: (sample, neuron) pairs with k spikes
  std::vector<int64_t> confusion;                   // [label][predicted], predicted == n_classes: no output fired
  int n_classes = 0;

  void reset(const Model& model);
  void merge(const PassStats& other);
  double accuracy() const { return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0; }
  double loss() const { return n ? loss_sum / static_cast<double>(n) : 0.0; }
  std::vector<double> spikes_per_neuron() const;  // mean spikes per neuron and sample, per layer
  std::vector<double> silent_fraction() const;    // per layer: neurons that never fired in the pass
};

// A model shaped by the config, weights drawn with its seed (see init.hpp).
Model build_model(const TrainConfig& config, const Dataset& train);

// Accuracy, loss, spike statistics and confusion of a model on a data set.
PassStats evaluate(const Model& model, const Dataset& data, ThreadPool& pool);

// The class of each of n samples (features sample-major, model.n_features
// each, in [0, 1]); -1 where every output stays silent.
std::vector<int> predict(const Model& model, const float* features, std::size_t n, ThreadPool& pool);

class Trainer {
 public:
  Trainer(const TrainConfig& config, Model model, ThreadPool& pool);
  ~Trainer();

  const Model& model() const { return model_; }
  double learning_rate(int epoch) const;  // epoch counts from 0

  using Progress = std::function<void(std::size_t done, std::size_t total, const PassStats& so_far)>;
  // One epoch over `train`, shuffled by (seed, epoch): the same call gives the
  // same weights, whatever happened before a resume.
  PassStats train_epoch(const Dataset& train, int epoch, const Progress& progress);

  // Wall-clock seconds of the last train_epoch in its two phases: the
  // samples (encoding, forward, backward, pushes; in parallel over the
  // threads) and the optimizer steps after each batch. samples_wait is the
  // part of `samples` that the threads spent, on average, waiting at the end
  // of a batch for the slowest of them (their shares of the batch differ in
  // spikes, so in work): what the samples phase loses to imbalance.
  struct PhaseSeconds {
    double samples = 0.0, optimizer = 0.0, samples_wait = 0.0;
  };
  PhaseSeconds last_epoch_seconds() const { return last_epoch_seconds_; }

  // Optimizer state, for checkpoints (which lay it out in their file:
  // checkpoint.hpp): per layer, packed as model files hold weights (n_in x
  // n_out), Adam's first and second moments, or SGD's velocity in `first`
  // with `second` holding empty arrays. Float32 training's moments come as
  // doubles, exactly.
  struct OptimizerState {
    std::vector<std::vector<double>> first, second;
  };
  OptimizerState optimizer_state() const;
  void restore_optimizer_state(const OptimizerState& state, int64_t steps);
  int64_t steps() const { return steps_; }

  // The hidden dropout of one training sample in one epoch (config key
  // hidden_dropout), drawn apart from its input noise.
  HiddenDropout hidden_dropout(int epoch, std::size_t sample) const {
    return {config_.hidden_dropout, ~noise_seed(epoch, sample)};
  }
  // The augmentation of one training image in one epoch (config keys
  // input_shift and input_flip; encoding.hpp), drawn apart from the rest.
  ImageTransform image_transform(int epoch, std::size_t sample) const {
    return draw_image_transform(config_.input_shift, config_.input_flip, noise_seed(epoch, sample));
  }

 private:
  struct ThreadState;
  void train_batch(const Dataset& train, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end,
                   int epoch, double lr);
  uint64_t noise_seed(int epoch, std::size_t sample) const;  // input noise of one sample in one epoch
  bool augmenting() const { return config_.input_shift > 0 || config_.input_flip > 0.0; }
  // silent_output peak: adds to the thread's gradient that of output o
  // (silent in the sample, p_label its class's softmax) as if it had fired
  // at its potential's peak; false when its potential never rises above 0.
  bool peak_gradient(const Layer& out, int o, const SpikeTrain& below, double p_label, ThreadState& ts) const;
  void apply_update(std::size_t batch, double lr);
  template <class G>
  void apply_update_as(std::size_t batch, double lr);  // with the gradient summed in G
  struct OptimizerPass;
  OptimizerPass optimizer_pass(double lr, int64_t step);  // the optimizer update of step number `step`

  TrainConfig config_;
  Model model_;
  ThreadPool& pool_;
  std::vector<std::unique_ptr<ThreadState>> threads_;
  // Adam's m and v, or SGD's velocity in moment1_, in the layout of
  // Layer::weights; in float32 training the *32 ones instead (kernels.hpp,
  // OptimizerArgs), the others empty.
  std::vector<std::vector<double>> moment1_, moment2_;
  std::vector<std::vector<float>> moment1_32_, moment2_32_;
  int64_t steps_ = 0;
  PhaseSeconds last_epoch_seconds_;
  // The first layer's rows that no sample of the current batch can spike on
  // (features zero in all of them), as a list and as a flag per row.
  std::vector<uint32_t> quiet_rows_;
  std::vector<uint8_t> quiet_row_;
  std::vector<float> batch_images_;  // with augmentation: the current batch's images, transformed
};

}  // namespace spiketime
