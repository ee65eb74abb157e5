// The training loop as a library: schedules, both optimizers, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "model/kernels.hpp"
#include "reference.hpp"
#include "spiketime/encoding.hpp"
#include "spiketime/error.hpp"
#include "spiketime/loss.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime {
namespace {

TEST(Trainer, LearningRateSchedules) {
  const Dataset data = make_yinyang(50, 1);
  ThreadPool pool(1);
  TrainConfig c = default_config("yinyang");
  c.lr = 1.0;
  c.epochs = 10;
  c.schedule = Schedule::Step;
  c.step_epochs = 4;
  c.step_gamma = 0.5;
  Trainer step(c, build_model(c, data), pool);
  EXPECT_EQ(step.learning_rate(0), 1.0);
  EXPECT_EQ(step.learning_rate(3), 1.0);
  EXPECT_EQ(step.learning_rate(4), 0.5);
  EXPECT_EQ(step.learning_rate(9), 0.25);
  c.schedule = Schedule::Cosine;
  Trainer cosine(c, build_model(c, data), pool);
  EXPECT_EQ(cosine.learning_rate(0), 1.0);
  EXPECT_NEAR(cosine.learning_rate(5), 0.5, 1e-15);
  EXPECT_NEAR(cosine.learning_rate(9), 0.5 * (1 + std::cos(M_PI * 0.9)), 1e-15);
}

PassStats train_epochs(TrainConfig c, int epochs, int threads, Model* out = nullptr) {
  const DataSplits data = load_splits("yinyang", "", 0);
  ThreadPool pool(threads);
  Trainer trainer(c, build_model(c, data.train), pool);
  PassStats last;
  for (int e = 0; e < epochs; ++e) last = trainer.train_epoch(data.train, e, nullptr);
  if (out) *out = trainer.model();
  return last;
}

TEST(Trainer, BothOptimizersLearn) {
  for (Optimizer optimizer : {Optimizer::Adam, Optimizer::Sgd}) {
    TrainConfig c = default_config("yinyang");
    c.optimizer = optimizer;
    c.lr = optimizer == Optimizer::Sgd ? 0.01 : 3e-3;
    c.hidden = {40};
    c.train_limit = 2000;
    c.epochs = 4;
    const PassStats first = train_epochs(c, 1, 2), fourth = train_epochs(c, 4, 2);
    EXPECT_LT(fourth.loss(), first.loss()) << optimizer_name(optimizer);
    EXPECT_GT(fourth.accuracy(), 0.5) << optimizer_name(optimizer);
  }
}

TEST(Trainer, EpochTimeIsSplitIntoItsTwoPhases) {
  // Both phases take time, and together no more than the whole epoch; the
  // waiting for the slowest thread is part of the samples phase, and none
  // with one thread; the split is reset by each epoch.
  TrainConfig c = default_config("yinyang");
  c.hidden = {30};
  c.train_limit = 600;
  const DataSplits data = load_splits("yinyang", "", 0);
  for (const int threads : {1, 2}) {
    ThreadPool pool(threads);
    Trainer trainer(c, build_model(c, data.train), pool);
    for (int epoch = 0; epoch < 2; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      trainer.train_epoch(data.train, epoch, nullptr);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const Trainer::PhaseSeconds phases = trainer.last_epoch_seconds();
      EXPECT_GT(phases.samples, 0.0);
      EXPECT_GT(phases.optimizer, 0.0);
      EXPECT_LE(phases.samples + phases.optimizer, wall);
      EXPECT_GE(phases.samples_wait, 0.0);
      EXPECT_LT(phases.samples_wait, phases.samples);
      if (threads == 1) {
        EXPECT_EQ(phases.samples_wait, 0.0);
      }
    }
  }
}

TEST(Trainer, SameSeedAndThreadsGiveIdenticalWeights) {
  // In both precisions: float32 sums its threads' gradients in float32.
  for (const Precision precision : {Precision::Float64, Precision::Float32}) {
    TrainConfig c = default_config("yinyang");
    c.hidden = {30};
    c.train_limit = 600;
    c.precision = precision;
    Model a, b, other_seed;
    train_epochs(c, 2, 2, &a);
    train_epochs(c, 2, 2, &b);
    c.seed = 2;
    train_epochs(c, 2, 2, &other_seed);
    for (std::size_t l = 0; l < a.net.layers.size(); ++l) {
      EXPECT_EQ(a.net.layers[l].weights, b.net.layers[l].weights) << precision_name(precision);
      EXPECT_NE(a.net.layers[l].weights, other_seed.net.layers[l].weights) << precision_name(precision);
    }
  }
}

TEST(Trainer, DecoupledWeightDecayShrinksEachWeightByLrTimesDecay) {
  // One SGD step without momentum from the same weights: the only
  // difference weight decay makes is -lr * weight_decay * w.
  TrainConfig c = default_config("yinyang");
  c.optimizer = Optimizer::Sgd;
  c.momentum = 0.0;
  c.lr = 0.05;
  c.hidden = {20};
  c.train_limit = c.batch_size;  // one batch
  Model initial, plain, decayed;
  train_epochs(c, 0, 1, &initial);
  train_epochs(c, 1, 1, &plain);
  c.weight_decay = 0.3;
  train_epochs(c, 1, 1, &decayed);
  double largest_shift = 0.0;
  for (std::size_t l = 0; l < initial.net.layers.size(); ++l) {
    const auto& w0 = initial.net.layers[l].weights;
    for (std::size_t k = 0; k < w0.size(); ++k) {
      const double expected = plain.net.layers[l].weights[k] - c.lr * c.weight_decay * w0[k];
      EXPECT_NEAR(decayed.net.layers[l].weights[k], expected, 1e-15) << "layer " << l << " weight " << k;
      largest_shift = std::max(largest_shift, std::abs(c.lr * c.weight_decay * w0[k]));
    }
  }
  EXPECT_GT(largest_shift, 1e-3);
}

TEST(Trainer, RowsNoSampleCanSpikeOnStepAsAfterTheBatch) {
  // The first layer's rows of features that are zero in a whole batch take
  // their zero-gradient optimizer step while the batch's samples run.
  // Clipping turns that off (every row then steps after the batch), and a
  // bound that no gradient reaches leaves the arithmetic as it is: both ways
  // must give the same weights, bit for bit, on any number of threads.
  const Dataset yinyang = make_yinyang(640, 3);
  Dataset data = yinyang;
  const int extra = 5;  // features 4..7 fire in a few samples, feature 8 in none
  data.n_features = yinyang.n_features + extra;
  data.features.assign(data.size() * static_cast<std::size_t>(data.n_features), 0.0f);
  for (std::size_t s = 0; s < data.size(); ++s) {
    std::copy_n(yinyang.sample(s), yinyang.n_features, data.features.begin() + static_cast<std::ptrdiff_t>(s) * data.n_features);
    for (int f = 0; f + 1 < extra; ++f) {
      if (s % 53 == static_cast<std::size_t>(f)) data.features[s * static_cast<std::size_t>(data.n_features) + 4 + f] = 0.3f;
    }
  }
  TrainConfig c = default_config("yinyang");
  c.hidden = {30};
  const Model initial = build_model(c, data);
  for (int threads : {1, 2, 3}) {
    Model after[2];
    for (int clipped = 0; clipped < 2; ++clipped) {
      c.grad_clip = clipped ? 1e300 : 0.0;
      ThreadPool pool(threads);
      Trainer trainer(c, initial, pool);
      for (int epoch = 0; epoch < 2; ++epoch) trainer.train_epoch(data, epoch, nullptr);
      after[clipped] = trainer.model();
    }
    for (std::size_t l = 0; l < initial.net.layers.size(); ++l) {
      EXPECT_EQ(after[0].net.layers[l].weights, after[1].net.layers[l].weights) << threads << " threads, layer " << l;
    }
    // The sparse features' rows did move, in batches with and without them.
    const Layer& first = after[0].net.layers[0];
    EXPECT_NE(first.weight(0, 4), initial.net.layers[0].weight(0, 4));
    EXPECT_EQ(first.weight(0, 8), initial.net.layers[0].weight(0, 8)) << "no gradient ever, no weight decay";
  }
}

TEST(Trainer, InputNoiseChangesTrainingButNotItsDependenceOnThreads) {
  // Noise is drawn per (seed, epoch, sample), so the weights with noise on
  // 1 and 3 threads differ only by the order of the gradient sums.
  TrainConfig c = default_config("yinyang");
  c.hidden = {30};
  c.train_limit = 400;
  Model quiet, one, three;
  train_epochs(c, 1, 1, &quiet);
  c.input_jitter = 0.5;
  c.input_dropout = 0.1;
  train_epochs(c, 1, 1, &one);
  train_epochs(c, 1, 3, &three);
  double diff_threads = 0.0, diff_noise = 0.0;
  for (std::size_t l = 0; l < one.net.layers.size(); ++l) {
    for (std::size_t k = 0; k < one.net.layers[l].weights.size(); ++k) {
      diff_threads = std::max(diff_threads, std::abs(one.net.layers[l].weights[k] - three.net.layers[l].weights[k]));
      diff_noise = std::max(diff_noise, std::abs(one.net.layers[l].weights[k] - quiet.net.layers[l].weights[k]));
    }
  }
  EXPECT_LT(diff_threads, 1e-9);
  EXPECT_GT(diff_noise, 1e-4);
}

// 8 x 8 images of a few bright pixels, some at the border (so that shifts
// move them out and bring zeros in), ten classes.
Dataset small_images(std::size_t n) {
  Dataset d;
  d.name = "small images";
  d.rows = d.cols = 8;
  d.n_features = 64;
  d.n_classes = 10;
  std::mt19937_64 rng(5);
  d.features.assign(n * 64, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    d.labels.push_back(static_cast<uint8_t>(i % 10));
    for (int k = 0; k < 10; ++k) d.features[i * 64 + rng() % 64] = 0.2f + 0.08f * static_cast<float>(rng() % 10);
  }
  return d;
}

TEST(Trainer, AugmentationTrainsAsTheTransformedImagesWould) {
  // Training with input_shift and input_flip gives the bits of training
  // without them on each epoch's images transformed beforehand (by the
  // draws the trainer reports): the transformed images reach every use,
  // the rows of quiet inputs included. And it changes training.
  TrainConfig c = default_config("mnist");
  c.hidden = {24};
  c.batch_size = 8;
  c.input_shift = 2;
  c.input_flip = 0.5;
  const Dataset data = small_images(40);
  ThreadPool pool(2);
  Trainer augmented(c, build_model(c, data), pool);
  TrainConfig plain_config = c;
  plain_config.input_shift = 0;
  plain_config.input_flip = 0.0;
  Trainer plain(plain_config, build_model(plain_config, data), pool);
  Trainer untransformed(plain_config, build_model(plain_config, data), pool);
  int moved = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    Dataset transformed = data;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const ImageTransform t = augmented.image_transform(epoch, i);
      moved += !t.identity();
      transform_image(data.sample(i), 8, 8, t, transformed.features.data() + i * 64);
    }
    augmented.train_epoch(data, epoch, nullptr);
    plain.train_epoch(transformed, epoch, nullptr);
    untransformed.train_epoch(data, epoch, nullptr);
  }
  EXPECT_GT(moved, 100);
  double differs = 0.0;
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(augmented.model().net.layers[l].weights, plain.model().net.layers[l].weights) << "layer " << l;
    const auto& a = augmented.model().net.layers[l].weights;
    const auto& u = untransformed.model().net.layers[l].weights;
    for (std::size_t k = 0; k < a.size(); ++k) differs = std::max(differs, std::abs(a[k] - u[k]));
  }
  EXPECT_GT(differs, 1e-4);
  // Draws differ between epochs and samples.
  EXPECT_FALSE(augmented.image_transform(0, 3).dx == augmented.image_transform(1, 3).dx &&
               augmented.image_transform(0, 3).dy == augmented.image_transform(1, 3).dy &&
               augmented.image_transform(0, 4).dx == augmented.image_transform(1, 4).dx);
}

TEST(Trainer, AugmentationNeedsImages) {
  TrainConfig c = default_config("mnist");
  c.hidden = {10};
  c.input_shift = 1;
  Dataset data = small_images(8);
  data.rows = data.cols = 0;  // not an image
  ThreadPool pool(1);
  Trainer trainer(c, build_model(c, data), pool);
  try {
    trainer.train_epoch(data, 0, nullptr);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "config key 'input_shift': moves image pixels, and the training data (small images) are not images "
              "of 64 pixels");
  }
}

// Yin-Yang with 30 hidden neurons, trained by plain SGD (no momentum) one
// sample per step, without the push: each step is -lr times one sample's gradient.
TrainConfig one_sgd_step_per_sample() {
  TrainConfig c = default_config("yinyang");
  c.hidden = {30};
  c.optimizer = Optimizer::Sgd;
  c.momentum = 0.0;
  c.lr = 0.1;
  c.batch_size = 1;
  c.silent_push = 0.0;
  return c;
}

TEST(Trainer, SilentTrueClassLearnsFromThePeakOfItsPotential) {
  // One sample, one SGD step without momentum, no push: with silent_output
  // peak, the silent true-class output's weights move by lr (1 - p) /
  // (tau_out theta / tau_m) dV(t*)/dw, with t* the peak of its potential and p
  // its softmax; the test finds t* by a fine RK4 scan of its own and the
  // softmax from the other outputs' first spikes. With push (and no push)
  // they do not move at all.
  const Dataset data = make_yinyang(1, 5);
  TrainConfig c = one_sgd_step_per_sample();
  c.tau_out = 30.0;  // a softmax far from 0 and 1, so that (1 - p) matters
  const int label = data.labels[0];
  Model initial = build_model(c, data);
  Layer& out = initial.net.layers.back();
  for (int j = 0; j < out.n_in; ++j) out.weight(label, j) = 0.02 * (1 + j % 3);  // below threshold, above 0
  SpikeTrain input;
  NetworkWorkspace ws;
  encode_latency(data.sample(0), data.n_features, initial.encoding, input);
  network_forward(initial.net, input, ws);
  const SpikeTrain& hidden = ws.traces[0].spikes;
  ASSERT_EQ(ws.traces.back().spike_counts[static_cast<std::size_t>(label)], 0);
  ASSERT_GT(hidden.size(), 10u);

  // The softmax of the true class over first-spike scores (silent: t_end).
  std::vector<double> first(static_cast<std::size_t>(initial.n_classes), initial.net.t_end);
  const SpikeTrain& fired = ws.traces.back().spikes;
  for (std::size_t e = fired.size(); e-- > 0;) first[static_cast<std::size_t>(fired.neurons[e])] = fired.times[e];
  double denom = 0.0;
  for (double t : first) denom += std::exp(-(t - first[static_cast<std::size_t>(label)]) / initial.tau_out);
  const double p_label = 1.0 / denom;
  ASSERT_GT(p_label, 0.02);
  ASSERT_LT(p_label, 0.9);

  // The peak of the silent output's potential, by RK4 steps of at most 1e-4.
  const NeuronParams& np = out.neuron;
  double v = 0.0, cur = 0.0, t = hidden.times[0], best_v = 0.0, t_peak = t;
  for (std::size_t e = 0; t < initial.net.t_end;) {
    for (; e < hidden.size() && hidden.times[e] <= t; ++e) cur += out.weight(label, hidden.neurons[e]);
    const double stop = e < hidden.size() ? std::min(hidden.times[e], initial.net.t_end) : initial.net.t_end;
    const int steps = static_cast<int>(std::ceil((stop - t) / 1e-4));
    for (int k = 1; k <= steps; ++k) {
      std::tie(v, cur) = testing::rk4_step(v, cur, (stop - t) / steps, np.tau_m, np.tau_s);
      if (v > best_v) best_v = v, t_peak = t + k * (stop - t) / steps;
    }
    t = stop;
  }
  ASSERT_GT(best_v, 0.0);
  ASSERT_LT(best_v, np.theta);
  // dV(t*)/dw_j: the closed-form PSP of each of j's spikes before t*.
  std::vector<double> dv_dw(static_cast<std::size_t>(out.n_in), 0.0);
  for (std::size_t e = 0; e < hidden.size(); ++e) {
    const double s = t_peak - hidden.times[e];
    if (s > 0.0) {
      dv_dw[static_cast<std::size_t>(hidden.neurons[e])] +=
          np.tau_s / (np.tau_m - np.tau_s) * (std::exp(-s / np.tau_m) - std::exp(-s / np.tau_s));
    }
  }
  // The slope of the virtual crossing: theta / tau_m, or the min_vdot floor
  // where that is higher (Yin-Yang's floor, 0.1 theta / tau_m, is not).
  ASSERT_LT(c.min_vdot, 1.0);
  const double vdot_floor = np.theta / np.tau_m;
  for (SilentOutput mode : {SilentOutput::Push, SilentOutput::Peak}) {
    c.silent_output = mode;
    ThreadPool pool(1);
    Trainer trainer(c, initial, pool);
    trainer.train_epoch(data, 0, nullptr);
    const Layer& after = trainer.model().net.layers.back();
    double largest = 0.0;
    for (int j = 0; j < out.n_in; ++j) {
      const double moved = after.weight(label, j) - out.weight(label, j);
      const double expected = mode == SilentOutput::Peak
                                  ? c.lr * (1.0 - p_label) / initial.tau_out / vdot_floor * dv_dw[static_cast<std::size_t>(j)]
                                  : 0.0;
      EXPECT_NEAR(moved, expected, 1e-4 * std::abs(expected) + 1e-15) << silent_output_name(mode) << " input " << j;
      largest = std::max(largest, std::abs(moved));
    }
    if (mode == SilentOutput::Peak) {
      EXPECT_GT(largest, 1e-3);
    }
  }
}

TEST(Trainer, HiddenDropoutStepsAsTheInvertedDropoutNetwork) {
  // One SGD step on one sample with hidden_dropout 0.5. The reference is
  // inverted dropout written out: a copy of the model whose rows from the
  // dropped hidden neurons are zero and whose other rows above the hidden
  // layer are divided by the keep probability, run by the plain engine. The
  // first layer moves by -lr dL/dw of that network; the layer above by -lr
  // dL/dw' / keep (w' = w / keep), except the rows of dropped neurons, which
  // do not move; and the thresholds are as they were after the epoch.
  const Dataset data = make_yinyang(1, 7);
  TrainConfig c = one_sgd_step_per_sample();
  c.silent_output = SilentOutput::Push;
  c.hidden_dropout = 0.5;
  const double keep = 1.0 - c.hidden_dropout;
  const int label = data.labels[0];
  Model initial = build_model(c, data);
  for (double& w : initial.net.layers[1].weights) w = 3.0 * std::abs(w);  // every output fires (the padding stays zero)
  ThreadPool pool(1);
  Trainer trainer(c, initial, pool);
  const HiddenDropout dropout = trainer.hidden_dropout(0, 0);

  Model inverted = initial;
  Layer& top = inverted.net.layers[1];
  for (int j = 0; j < top.n_in; ++j)
    for (int i = 0; i < top.n_out; ++i) top.weight(i, j) = dropout.dropped(0, j) ? 0.0 : top.weight(i, j) / keep;
  SpikeTrain input;
  NetworkWorkspace ws;
  encode_latency(data.sample(0), data.n_features, inverted.encoding, input);
  network_forward(inverted.net, input, ws);
  int dropped_firing = 0, kept_firing = 0;
  for (int j = 0; j < top.n_in; ++j) {
    if (ws.traces[0].spike_counts[static_cast<std::size_t>(j)] > 0) (dropout.dropped(0, j) ? dropped_firing : kept_firing)++;
  }
  ASSERT_GT(dropped_firing, 2);
  ASSERT_GT(kept_firing, 2);
  for (int count : ws.traces[1].spike_counts) ASSERT_GT(count, 0) << "a silent output would take another path";
  std::vector<double> grad_out;
  readout_loss(inverted.readout, ws.traces.back(), inverted.n_classes, label, inverted.net.t_end, inverted.tau_out,
               grad_out);
  NetworkGradient grad;
  grad.reset(inverted.net);
  grad.with_input_times = false;
  network_backward(inverted.net, input, grad_out, GradientGuard{c.min_vdot}, grad, ws);

  trainer.train_epoch(data, 0, nullptr);
  const Network& after = trainer.model().net;
  double largest = 0.0;
  for (std::size_t l = 0; l < 2; ++l) {
    const Layer& before = initial.net.layers[l];
    for (int j = 0; j < before.n_in; ++j) {
      for (int i = 0; i < before.n_out; ++i) {
        const std::size_t k = static_cast<std::size_t>(j) * before.stride() + static_cast<std::size_t>(i);
        const bool cut = l == 1 && dropout.dropped(0, j);
        const double expected = cut ? 0.0 : -c.lr * grad.weights[l][k] / (l == 1 ? keep : 1.0);
        const double moved = after.layers[l].weights[k] - before.weights[k];
        EXPECT_NEAR(moved, expected, 1e-9 * std::abs(expected) + 1e-15) << "layer " << l << " input " << j << " neuron " << i;
        largest = std::max(largest, std::abs(moved));
      }
    }
    EXPECT_EQ(after.layers[l].neuron.theta, before.neuron.theta) << "layer " << l;
  }
  EXPECT_GT(largest, 1e-3);
}

// The hyperparameters of the optimizer tests, the kernel's arguments for
// step t over n weights, and the textbook update of one weight given its new
// moments (Adam with decoupled weight decay, the bias corrections applied to
// m and v; SGD with momentum, m the velocity).
struct TextbookStep {
  double lr = 3e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, decay = 0.01, momentum = 0.9, factor = 1.0 / 32;

  kernels::OptimizerArgs args(int64_t t, std::size_t n) const {
    kernels::OptimizerArgs a{};
    kernels::adam_constants(a, lr, b1, b2, eps, t);
    a.momentum = momentum;
    a.weight_decay = decay;
    a.factor = factor;
    a.n = n;
    return a;
  }
  double weight(bool adam, int64_t t, double w, double m, double v) const {
    if (!adam) return w - lr * (m + decay * w);
    const double m_hat = m / (1.0 - std::pow(b1, static_cast<double>(t)));
    const double v_hat = v / (1.0 - std::pow(b2, static_cast<double>(t)));
    return w - lr * (m_hat / (std::sqrt(v_hat) + eps) + decay * w);
  }
};

TEST(Trainer, OptimizerStepMatchesTheTextbookFormulas) {
  // The vector kernel of the optimizer (on the target in use) against Adam
  // and SGD written out per weight as textbooks do. 37 weights: whole
  // vectors and a tail on every target.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t n = 37;
  const TextbookStep o;
  for (const bool adam : {true, false}) {
    std::vector<double> w(n), m(n), v(n), g(n);
    for (std::size_t k = 0; k < n; ++k) w[k] = normal(rng), m[k] = 0.1 * normal(rng), v[k] = 0.01 * std::abs(normal(rng));
    for (const int64_t t : {1, 2, 10, 1000}) {
      for (std::size_t k = 0; k < n; ++k) g[k] = k % 5 == 0 ? 0.0 : normal(rng);
      std::vector<double> w_ref = w, m_ref = m, v_ref = v;
      for (std::size_t k = 0; k < n; ++k) {
        const double gk = g[k] * o.factor;
        if (adam) {
          m_ref[k] = o.b1 * m[k] + (1.0 - o.b1) * gk;
          v_ref[k] = o.b2 * v[k] + (1.0 - o.b2) * gk * gk;
        } else {
          m_ref[k] = o.momentum * m[k] + gk;
        }
        w_ref[k] = o.weight(adam, t, w[k], m_ref[k], v_ref[k]);
      }
      kernels::OptimizerArgs a = o.args(t, n);
      a.weights = w.data();
      a.first_moment = m.data();
      a.second_moment = adam ? v.data() : nullptr;
      a.gradient = g.data();
      // The float32 copy, written in the same pass (but for t = 1: none).
      std::vector<float> w32(n, -1.0f);
      a.weights32 = t == 1 ? nullptr : w32.data();
      const std::vector<double> w_before = w;
      kernels::optimizer_step(a);
      for (std::size_t k = 0; k < n; ++k) {
        // m and v are the same operations; w differs by the rounding of
        // the rearranged bias corrections (a few ulp of the step).
        EXPECT_EQ(m[k], m_ref[k]) << (adam ? "adam" : "sgd") << " t " << t << " weight " << k;
        if (adam) {
          EXPECT_EQ(v[k], v_ref[k]) << "t " << t << " weight " << k;
        }
        EXPECT_NEAR(w[k], w_ref[k], 1e-12 * std::abs(w_ref[k] - w_before[k]) + 4e-16 * std::abs(w_ref[k]))
            << (adam ? "adam" : "sgd") << " t " << t << " weight " << k;
        EXPECT_EQ(g[k], 0.0);
        EXPECT_EQ(w32[k], t == 1 ? -1.0f : static_cast<float>(w[k])) << "float32 copy, t " << t << " weight " << k;
      }
    }
  }
}

TEST(Trainer, Float32OptimizerStepMatchesTheFormulasInFloat32) {
  // The float32 path's state (OptimizerArgs' *32 pointers): the moments are
  // the float32 operations of the formulas, bit for bit; the weight, still
  // float64, moves by the float32 step within the rounding of its few
  // float32 operations (1e-6 of the step); the gradient is cleared and the
  // float32 copy is the weight rounded. 37 weights: whole vectors and a tail.
  std::mt19937_64 rng(12);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t n = 37;
  const TextbookStep o;
  const auto single = [](double x) { return static_cast<float>(x); };
  for (const bool adam : {true, false}) {
    std::vector<double> w(n);
    std::vector<float> m(n), v(n), g(n), w32(n);
    for (std::size_t k = 0; k < n; ++k) {
      w[k] = normal(rng);
      m[k] = single(0.1 * normal(rng));
      v[k] = single(0.01 * std::abs(normal(rng)));
    }
    for (const int64_t t : {1, 2, 10, 1000}) {
      for (std::size_t k = 0; k < n; ++k) g[k] = k % 5 == 0 ? 0.0f : single(normal(rng));
      std::vector<float> m_ref(n), v_ref(n);
      std::vector<double> w_ref(n);
      for (std::size_t k = 0; k < n; ++k) {
        const float gk = g[k] * single(o.factor);
        if (adam) {
          m_ref[k] = single(o.b1) * m[k] + single(1.0 - o.b1) * gk;
          v_ref[k] = single(o.b2) * v[k] + single(1.0 - o.b2) * gk * gk;
        } else {
          m_ref[k] = single(o.momentum) * m[k] + gk;
        }
        w_ref[k] = o.weight(adam, t, w[k], m_ref[k], v_ref[k]);
      }
      kernels::OptimizerArgs a = o.args(t, n);
      a.weights = w.data();
      a.weights32 = w32.data();
      a.first_moment32 = m.data();
      a.second_moment32 = adam ? v.data() : nullptr;
      a.gradient32 = g.data();
      const std::vector<double> w_before = w;
      kernels::optimizer_step(a);
      for (std::size_t k = 0; k < n; ++k) {
        const std::string where = std::string(adam ? "adam" : "sgd") + " t " + std::to_string(t) + " weight " +
                                  std::to_string(k);
        EXPECT_EQ(m[k], m_ref[k]) << where;
        if (adam) {
          EXPECT_EQ(v[k], v_ref[k]) << where;
        }
        EXPECT_NEAR(w[k], w_ref[k], 1e-6 * std::abs(w_ref[k] - w_before[k]) + 4e-16 * std::abs(w_ref[k])) << where;
        EXPECT_NE(w[k], w_before[k]) << where;
        EXPECT_EQ(g[k], 0.0f) << where;
        EXPECT_EQ(w32[k], single(w[k])) << where;
      }
    }
  }
}

}  // namespace
}  // namespace spiketime
