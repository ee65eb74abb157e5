#include "spiketime/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <numbers>
#include <random>
#include <type_traits>

#include "spiketime/error.hpp"
#include "spiketime/init.hpp"
#include "spiketime/loss.hpp"
#include "model/kernels.hpp"
#include "model/splitmix.hpp"

namespace spiketime {

void PassStats::reset(const Model& model) {
  *this = PassStats{};
  n_classes = model.n_classes;
  for (const Layer& l : model.net.layers) {
    layer_sizes.push_back(l.n_out);
    neuron_spikes.emplace_back(static_cast<std::size_t>(l.n_out), 0);
    count_histogram.emplace_back();
  }
  confusion.assign(static_cast<std::size_t>(n_classes * (n_classes + 1)), 0);
}

void PassStats::merge(const PassStats& o) {
  n += o.n;
  correct += o.correct;
  ties += o.ties;
  all_silent += o.all_silent;
  loss_sum += o.loss_sum;
  for (std::size_t l = 0; l < neuron_spikes.size(); ++l) {
    for (std::size_t i = 0; i < neuron_spikes[l].size(); ++i) neuron_spikes[l][i] += o.neuron_spikes[l][i];
    auto& hist = count_histogram[l];
    const auto& other = o.count_histogram[l];
    if (hist.size() < other.size()) hist.resize(other.size(), 0);
    for (std::size_t k = 0; k < other.size(); ++k) hist[k] += other[k];
  }
  for (std::size_t k = 0; k < confusion.size(); ++k) confusion[k] += o.confusion[k];
}

std::vector<double> PassStats::spikes_per_neuron() const {
  std::vector<double> out;
  for (const auto& counts : neuron_spikes) {
    double total = 0.0;
    for (int64_t c : counts) total += static_cast<double>(c);
    out.push_back(n ? total / (static_cast<double>(n) * static_cast<double>(counts.size())) : 0.0);
  }
  return out;
}

std::vector<double> PassStats::silent_fraction() const {
  std::vector<double> out;
  for (const auto& counts : neuron_spikes) {
    const auto silent = std::count(counts.begin(), counts.end(), 0);
    out.push_back(static_cast<double>(silent) / static_cast<double>(counts.size()));
  }
  return out;
}

Model build_model(const TrainConfig& c, const Dataset& train) {
  Model model;
  model.dataset = c.dataset;
  model.n_features = train.n_features;
  model.n_classes = train.n_classes;
  model.encoding.t_in_max = c.t_in_max;
  model.encoding.bias_times = c.bias_times;
  model.net.t_end = c.t_end;
  model.readout = c.readout;
  model.tau_out = c.tau_out;

  // Expected input spikes per sample, from the first samples of the training set.
  const std::size_t probe = std::min<std::size_t>(train.size(), 1000);
  double active = 0.0;
  for (std::size_t s = 0; s < probe; ++s)
    for (int f = 0; f < train.n_features; ++f) active += train.sample(s)[f] > 0.0f;
  double arriving = (probe ? active / static_cast<double>(probe) : train.n_features) +
                    static_cast<double>(c.bias_times.size());

  std::mt19937_64 rng(static_cast<uint64_t>(c.seed));
  std::vector<int> sizes = {model.encoding.n_inputs(train.n_features)};
  sizes.insert(sizes.end(), c.hidden.begin(), c.hidden.end());
  sizes.push_back(train.n_classes);
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    NeuronParams p;
    p.tau_m = per_layer(c.tau_m, l);
    p.tau_s = per_layer(c.tau_s, l);
    p.theta = per_layer(c.theta, l);
    p.max_spikes = per_layer(c.max_spikes, l);
    Layer layer(p, sizes[l], sizes[l + 1]);
    initialize_weights(layer, rng, std::max(arriving, 1.0), c.init_mean_drive, c.init_std_drive);
    model.net.layers.push_back(std::move(layer));
    arriving = sizes[l + 1] * c.init_hidden_spikes;
  }
  return model;
}

namespace {

// Everything one thread needs for its samples; reused across batches.
struct SampleState {
  NetworkWorkspace ws;
  SpikeTrain input;
  std::vector<double> grad_out;
  PassStats stats;
};

// Training noise: on the input spikes (see perturb_spike_train), and
// dropout of hidden neurons (HiddenDropout), each drawn per sample.
struct TrainingNoise {
  double input_drop = 0.0, jitter = 0.0;
  uint64_t seed = 0;
  HiddenDropout hidden;
};

// Runs one sample forward and records its statistics.
ReadoutResult run_sample(const Model& model, const float* features, int label, SampleState& state,
                         const TrainingNoise& noise = {}) {
  encode_latency(features, model.n_features, model.encoding, state.input);
  if (noise.input_drop > 0.0 || noise.jitter > 0.0) {
    perturb_spike_train(state.input, noise.input_drop, noise.jitter, model.net.t_end, noise.seed);
  }
  network_forward(model.net, state.input, state.ws, CrossingSolver::Automatic, noise.hidden);
  const ReadoutResult r = readout_loss(model.readout, state.ws.traces.back(), model.n_classes, label, model.net.t_end,
                                       model.tau_out, state.grad_out);
  PassStats& stats = state.stats;
  ++stats.n;
  stats.loss_sum += r.loss;
  stats.correct += r.predicted == label;
  stats.ties += r.tie;
  stats.all_silent += r.all_silent;
  const int predicted = r.predicted < 0 ? model.n_classes : r.predicted;
  ++stats.confusion[static_cast<std::size_t>(label * (model.n_classes + 1) + predicted)];
  for (std::size_t l = 0; l < state.ws.traces.size(); ++l) {
    const auto& counts = state.ws.traces[l].spike_counts;
    auto& hist = stats.count_histogram[l];
    for (std::size_t i = 0; i < counts.size(); ++i) {
      stats.neuron_spikes[l][i] += counts[i];
      const auto k = static_cast<std::size_t>(counts[i]);
      if (k >= hist.size()) hist.resize(k + 1, 0);
      ++hist[k];
    }
  }
  return r;
}

// The thresholds of every layer above the first times (1 - p), until
// restore() or the end of the scope (see Trainer::train_batch).
class ScaledThresholds {
 public:
  ScaledThresholds(Network& net, double p) : net_(net) {
    if (p == 0.0) return;
    for (std::size_t l = 1; l < net_.layers.size(); ++l) {
      saved_.push_back(net_.layers[l].neuron.theta);
      net_.layers[l].neuron.theta *= 1.0 - p;
    }
  }
  ScaledThresholds(const ScaledThresholds&) = delete;
  ScaledThresholds& operator=(const ScaledThresholds&) = delete;
  ~ScaledThresholds() { restore(); }
  void restore() {
    for (std::size_t k = 0; k < saved_.size(); ++k) net_.layers[k + 1].neuron.theta = saved_[k];
    saved_.clear();
  }

 private:
  Network& net_;
  std::vector<double> saved_;
};

}  // namespace

// f(i, state) for the samples [0, n), one contiguous range per thread, each
// thread with a state of its own; returns the states.
template <class F>
std::vector<SampleState> over_samples(const Model& model, std::size_t n, ThreadPool& pool, F&& f) {
  std::vector<SampleState> states(static_cast<std::size_t>(pool.size()));
  for (auto& state : states) state.stats.reset(model);
  pool.run([&](int t) {
    const auto [begin, end] = split_range(n, pool.size(), t);
    for (std::size_t i = begin; i < end; ++i) f(i, states[t]);
  });
  return states;
}

PassStats evaluate(const Model& model, const Dataset& data, ThreadPool& pool) {
  const auto states = over_samples(model, data.size(), pool, [&](std::size_t i, SampleState& state) {
    run_sample(model, data.sample(i), data.labels[i], state);
  });
  PassStats total;
  total.reset(model);
  for (const auto& state : states) total.merge(state.stats);
  return total;
}

std::vector<int> predict(const Model& model, const float* features, std::size_t n, ThreadPool& pool) {
  std::vector<int> classes(n);
  const auto width = static_cast<std::size_t>(model.n_features);
  over_samples(model, n, pool, [&](std::size_t i, SampleState& state) {
    classes[i] = run_sample(model, features + i * width, 0, state).predicted;
  });
  return classes;
}

// The weight-gradient sums of a NetworkGradient in the precision G.
template <class G>
std::vector<std::vector<G>>& sums_of(NetworkGradient& grad) {
  if constexpr (std::is_same_v<G, float>) {
    return grad.weights32;
  } else {
    return grad.weights;
  }
}

struct Trainer::ThreadState : SampleState {
  NetworkGradient grad;  // summed in the training precision
  // Adds x to the gradient of weight k (the layout of Layer::weights) of the last layer.
  void add_to_last(std::size_t k, double x) {
    if (grad.precision() == Precision::Float32) {
      grad.weights32.back()[k] += static_cast<float>(x);
    } else {
      grad.weights.back()[k] += x;
    }
  }
  // Per layer, over this thread's part of the batch: spikes of each input
  // neuron and of each neuron, for the silent-neuron push.
  std::vector<std::vector<double>> inputs_fired, neurons_fired;
  std::vector<double> peak_weights;  // peak_gradient's gathered weights
};

Trainer::Trainer(const TrainConfig& config, Model model, ThreadPool& pool)
    : config_(config), model_(std::move(model)), pool_(pool) {
  model_.net.limits = {config_.spike_limit_per_neuron, config_.spike_limit_per_sample};
  model_.net.set_precision(config_.precision);
  for (int t = 0; t < pool_.size(); ++t) {
    auto ts = std::make_unique<ThreadState>();
    ts->grad.reset(model_.net, config_.precision);
    ts->grad.with_input_times = false;
    for (const Layer& l : model_.net.layers) {
      ts->inputs_fired.emplace_back(static_cast<std::size_t>(l.n_in), 0.0);
      ts->neurons_fired.emplace_back(static_cast<std::size_t>(l.n_out), 0.0);
    }
    threads_.push_back(std::move(ts));
  }
  const bool adam = config_.optimizer == Optimizer::Adam;
  for (const Layer& l : model_.net.layers) {
    if (config_.precision == Precision::Float32) {
      moment1_32_.emplace_back(l.weights.size(), 0.0f);
      moment2_32_.emplace_back(adam ? l.weights.size() : 0, 0.0f);
    } else {
      moment1_.emplace_back(l.weights.size(), 0.0);
      moment2_.emplace_back(adam ? l.weights.size() : 0, 0.0);
    }
  }
}

Trainer::~Trainer() = default;

double Trainer::learning_rate(int epoch) const {
  if (config_.schedule == Schedule::Step) return config_.lr * std::pow(config_.step_gamma, epoch / config_.step_epochs);
  if (config_.schedule == Schedule::Cosine) {
    return config_.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * epoch / config_.epochs));
  }
  return config_.lr;
}

PassStats Trainer::train_epoch(const Dataset& train, int epoch, const Progress& progress) {
  if (augmenting() && (train.rows <= 0 || train.cols <= 0 ||
                     static_cast<int64_t>(train.rows) * train.cols != model_.n_features)) {
    throw InputError(std::string("config key '") + (config_.input_shift > 0 ? "input_shift" : "input_flip") +
                     "': moves image pixels, and the training data (" + train.name + ") are not images of " +
                     std::to_string(model_.n_features) + " pixels");
  }
  std::size_t n = train.size();
  if (config_.train_limit > 0) n = std::min(n, static_cast<std::size_t>(config_.train_limit));
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(static_cast<uint64_t>(config_.seed) * 1000003u + static_cast<uint64_t>(epoch));
  for (std::size_t i = n; i > 1; --i) {  // Fisher-Yates, spelled out so that every platform shuffles alike
    std::swap(order[i - 1], order[rng() % i]);
  }
  for (auto& ts : threads_) ts->stats.reset(model_);
  last_epoch_seconds_ = {};
  const double lr = learning_rate(epoch);
  PassStats so_far;
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  for (std::size_t begin = 0; begin < n; begin += batch) {
    const std::size_t end = std::min(n, begin + batch);
    train_batch(train, order, begin, end, epoch, lr);
    if (progress) {
      so_far.reset(model_);
      for (const auto& ts : threads_) so_far.merge(ts->stats);
      progress(end, n, so_far);
    }
  }
  so_far.reset(model_);
  for (const auto& ts : threads_) so_far.merge(ts->stats);
  return so_far;
}

// The optimizer's update of the model's weights in one step: n contiguous
// weights of layer l with gradient g * factor (clearing g), a null g standing
// for a zero gradient.
struct Trainer::OptimizerPass {
  kernels::OptimizerArgs opt;  // the step's constants; the rest is set per call
  bool adam;
  Trainer& trainer;
  // The step of n weights of layer l from `offset`, with gradient g * factor
  // (cleared), in the precision of g; null: a zero gradient.
  void step(std::size_t l, std::size_t offset, std::size_t n, double* g, double factor) const;
  void step(std::size_t l, std::size_t offset, std::size_t n, float* g, double factor) const;
  void zero_gradient_row(std::size_t l, std::size_t row) const;
 private:
  kernels::OptimizerArgs args(std::size_t l, std::size_t offset, std::size_t n, double factor) const;
};

Trainer::OptimizerPass Trainer::optimizer_pass(double lr, int64_t step) {
  kernels::OptimizerArgs opt{};
  kernels::adam_constants(opt, lr, config_.beta1, config_.beta2, config_.adam_eps, step);
  opt.momentum = config_.momentum;
  opt.weight_decay = config_.weight_decay;
  return {opt, config_.optimizer == Optimizer::Adam, *this};
}

// The weights and the moments (in the training precision) of the step.
kernels::OptimizerArgs Trainer::OptimizerPass::args(std::size_t l, std::size_t offset, std::size_t n,
                                                    double factor) const {
  kernels::OptimizerArgs a = opt;
  a.factor = factor;
  a.n = n;
  Layer& layer = trainer.model_.net.layers[l];
  a.weights = layer.weights.data() + offset;
  a.weights32 = layer.weights32.empty() ? nullptr : layer.weights32.data() + offset;
  if (trainer.config_.precision == Precision::Float32) {
    a.first_moment32 = trainer.moment1_32_[l].data() + offset;
    a.second_moment32 = adam ? trainer.moment2_32_[l].data() + offset : nullptr;
  } else {
    a.first_moment = trainer.moment1_[l].data() + offset;
    a.second_moment = adam ? trainer.moment2_[l].data() + offset : nullptr;
  }
  return a;
}

// The step itself is a vector kernel (kernels.hpp): Adam's square root and
// divisions at the full vector width of the CPU, the same bits on every target;
// in float32 it also writes the rounded copy (Layer::weights32) in that pass.
void Trainer::OptimizerPass::step(std::size_t l, std::size_t offset, std::size_t n, double* g, double factor) const {
  kernels::OptimizerArgs a = args(l, offset, n, factor);
  a.gradient = g;
  kernels::optimizer_step(a);
}

void Trainer::OptimizerPass::step(std::size_t l, std::size_t offset, std::size_t n, float* g, double factor) const {
  kernels::OptimizerArgs a = args(l, offset, n, factor);
  a.gradient32 = g;
  kernels::optimizer_step(a);
}

void Trainer::OptimizerPass::zero_gradient_row(std::size_t l, std::size_t row) const {
  const Layer& layer = trainer.model_.net.layers[l];
  kernels::optimizer_step(args(l, row * layer.stride(), static_cast<std::size_t>(layer.n_out), 1.0));
}

void Trainer::train_batch(const Dataset& train, const std::vector<std::size_t>& order, std::size_t begin,
                          std::size_t end, int epoch, double lr) {
  const GradientGuard guard{config_.min_vdot};
  const double push = config_.silent_push;
  const int n_threads = pool_.size();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  // With augmentation the batch's images are transformed first, each by its
  // own draw, and everything below reads them instead of the data set's.
  const auto n_features = static_cast<std::size_t>(model_.n_features);
  const bool transformed = augmenting();
  if (transformed) {
    batch_images_.resize((end - begin) * n_features);
    for (std::size_t k = begin; k < end; ++k) {
      transform_image(train.sample(order[k]), train.rows, train.cols, image_transform(epoch, order[k]),
                      batch_images_.data() + (k - begin) * n_features);
    }
  }
  const auto features_of = [&](std::size_t k) {
    return transformed ? batch_images_.data() + (k - begin) * n_features : train.sample(order[k]);
  };
  // The first layer's rows of the features that are zero in every sample of
  // the batch get no spike, so no gradient and no push, and no sample of the
  // batch reads them: their optimizer step (the same arithmetic as after the
  // batch) is taken by whichever thread has finished its samples, in the time
  // it would otherwise wait for the other. (Not with clipping, whose factor
  // needs the whole batch.)
  quiet_rows_.clear();
  quiet_row_.assign(static_cast<std::size_t>(model_.net.layers[0].n_in), 0);
  if (config_.grad_clip <= 0.0) {
    std::fill_n(quiet_row_.begin(), n_features, 1);
    for (std::size_t k = begin; k < end; ++k) {
      const float* x = features_of(k);
      for (std::size_t f = 0; f < n_features; ++f) quiet_row_[f] &= !(x[f] > 0.0f);  // encode_latency's test
    }
    for (std::size_t f = 0; f < n_features; ++f) {
      if (quiet_row_[f]) quiet_rows_.push_back(static_cast<uint32_t>(f));
    }
  }
  const OptimizerPass optimizer = optimizer_pass(lr, steps_ + 1);
  std::atomic<std::size_t> next_quiet{0};
  // Inverted dropout: with a fraction p of the hidden neurons dropped, the
  // layers above see the survivors at 1 / (1 - p) times their weight, so
  // that their drive matches that of the whole network at evaluation. In a
  // LIF layer, weights times c and threshold theta give the same spikes as
  // weights and threshold theta / c (the potential is linear in the weights,
  // and the reset subtracts the threshold): the layers above the first get
  // threshold theta (1 - p) for the batch's samples, and the gradient is
  // that of this network. Evaluation, and everything after the batch, sees
  // the thresholds as they were.
  ScaledThresholds scaled(model_.net, config_.hidden_dropout);
  std::vector<Clock::time_point> finished(static_cast<std::size_t>(n_threads));
  pool_.run([&](int t) {
    ThreadState& ts = *threads_[t];  // its gradient was cleared by the last update
    for (auto& v : ts.inputs_fired) std::fill(v.begin(), v.end(), 0.0);
    for (auto& v : ts.neurons_fired) std::fill(v.begin(), v.end(), 0.0);
    const auto [first, last] = split_range(end - begin, n_threads, t);
    for (std::size_t k = begin + first; k < begin + last; ++k) {
      const std::size_t i = order[k];
      const int label = train.labels[i];
      const TrainingNoise noise{config_.input_dropout, config_.input_jitter, noise_seed(epoch, i),
                                hidden_dropout(epoch, i)};
      ReadoutResult result;
      try {
        result = run_sample(model_, features_of(k), label, ts, noise);
      } catch (const SpikeLimitError& e) {
        throw SpikeLimitError("epoch " + std::to_string(epoch + 1) + ", training sample " + std::to_string(i) + ": " +
                              e.what() + "; the run directory keeps the last finished epoch");
      }
      network_backward(model_.net, ts.input, ts.grad_out, guard, ts.grad, ts.ws);
      const std::size_t n_layers = model_.net.layers.size();
      for (std::size_t l = 0; l < n_layers; ++l) {
        for (int32_t j : ts.ws.input_of(l, ts.input).neurons) ts.inputs_fired[l][static_cast<std::size_t>(j)] += 1.0;
        const auto& counts = ts.ws.traces[l].spike_counts;
        for (std::size_t o = 0; o < counts.size(); ++o) ts.neurons_fired[l][o] += counts[o];
      }
      // A silent output gets no timing gradient, and a silent true-class
      // output could never learn to fire: push the weights from the inputs
      // that fired up instead (or, with silent_output peak, give the true
      // class the gradient it would have with a spike at its potential's
      // peak). Wrong classes are pushed alike, so that the loss moves their
      // spikes late rather than out of the window (where they would be lost
      // for the samples of their own class).
      const Layer& out = model_.net.layers.back();
      const auto& out_counts = ts.ws.traces.back().spike_counts;
      const SpikeTrain& below = ts.ws.input_of(n_layers - 1, ts.input);
      for (int o = 0; o < out.n_out; ++o) {
        if (out_counts[static_cast<std::size_t>(o)] > 0) continue;
        if (o == label && config_.silent_output == SilentOutput::Peak &&
            peak_gradient(out, o, below, std::exp(-result.loss), ts)) {
          continue;
        }
        if (push == 0.0) continue;
        for (int32_t j : below.neurons) ts.add_to_last(static_cast<std::size_t>(j) * out.stride() + o, -push);
      }
    }
    constexpr std::size_t kQuietChunk = 8;  // rows per claim
    for (std::size_t chunk; (chunk = next_quiet.fetch_add(kQuietChunk)) < quiet_rows_.size();) {
      for (std::size_t r = chunk; r < std::min(chunk + kQuietChunk, quiet_rows_.size()); ++r) {
        optimizer.zero_gradient_row(0, quiet_rows_[r]);
      }
    }
    finished[static_cast<std::size_t>(t)] = Clock::now();
  });
  scaled.restore();
  const auto samples_done = Clock::now();
  const auto last = *std::max_element(finished.begin(), finished.end());
  for (const auto f : finished) {
    last_epoch_seconds_.samples_wait += std::chrono::duration<double>(last - f).count() / n_threads;
  }
  apply_update(end - begin, lr);
  last_epoch_seconds_.samples += std::chrono::duration<double>(samples_done - start).count();
  last_epoch_seconds_.optimizer += std::chrono::duration<double>(Clock::now() - samples_done).count();
}

bool Trainer::peak_gradient(const Layer& out, int o, const SpikeTrain& below, double p_label,
                            ThreadState& ts) const {
  // The output's potential over the sample, as if it never fired.
  auto& w = ts.peak_weights;
  w.resize(below.size());
  for (std::size_t e = 0; e < below.size(); ++e) w[e] = out.weight(o, below.neurons[e]);
  const PotentialPeak peak = potential_peak(below.times.data(), w.data(), below.size(), model_.net.t_end, out.neuron);
  if (!(peak.v > 0.0)) return false;  // nothing to raise: the push instead
  // Scored as a spike at t_end: dL/dt = (1 - p_label) / tau_out. A spike at
  // the peak would move by -dV/Vdot, and dV(t_peak)/dw_j = sum over j's
  // spikes of kappa(t_peak - t_j). The virtual crossing has no slope of its
  // own: Vdot = theta / tau_m (one that reaches theta in one membrane time
  // constant), or the min_vdot floor where that is higher. (A lower floor,
  // Yin-Yang's 0.1, made the step ten times larger and SGD diverge.)
  const double vdot = std::max(config_.min_vdot, 1.0) * out.neuron.theta / out.neuron.tau_m;
  const double scale = (1.0 - p_label) / model_.tau_out / vdot;
  for (std::size_t e = 0; e < below.size() && below.times[e] < peak.time; ++e) {
    ts.add_to_last(static_cast<std::size_t>(below.neurons[e]) * out.stride() + static_cast<std::size_t>(o),
                   -scale * kappa(peak.time - below.times[e], out.neuron));
  }
  return true;
}

uint64_t Trainer::noise_seed(int epoch, std::size_t sample) const {
  // splitmix64 over (seed, epoch, sample): distinct, well-mixed seeds.
  const uint64_t seed = splitmix64(static_cast<uint64_t>(config_.seed));
  return splitmix64(splitmix64(seed ^ static_cast<uint64_t>(epoch)) ^ sample);
}

void Trainer::apply_update(std::size_t batch, double lr) {
  config_.precision == Precision::Float32 ? apply_update_as<float>(batch, lr) : apply_update_as<double>(batch, lr);
}

template <class G>
void Trainer::apply_update_as(std::size_t batch, double lr) {
  ++steps_;
  const double scale = 1.0 / static_cast<double>(batch);
  const int n_threads = pool_.size();
  const bool clipping = config_.grad_clip > 0.0;
  const std::size_t n_layers = model_.net.layers.size();

  // Per layer, over the whole batch: spikes of each input and of each neuron.
  std::vector<std::vector<double>> inputs_fired(n_layers), fired(n_layers);
  for (std::size_t l = 0; l < n_layers; ++l) {
    inputs_fired[l].assign(static_cast<std::size_t>(model_.net.layers[l].n_in), 0.0);
    fired[l].assign(static_cast<std::size_t>(model_.net.layers[l].n_out), 0.0);
    for (const auto& ts : threads_) {
      for (std::size_t j = 0; j < inputs_fired[l].size(); ++j) inputs_fired[l][j] += ts->inputs_fired[l][j];
      for (std::size_t i = 0; i < fired[l].size(); ++i) fired[l][i] += ts->neurons_fired[l][i];
    }
  }

  const OptimizerPass optimizer = optimizer_pass(lr, steps_);

  // One pass over the weights, each thread owning a range of rows of every
  // layer: sum the per-thread gradients into thread 0's in thread order (so
  // the result depends only on the thread count) and clear the others, add
  // the push for neurons silent over the whole batch, average, and step the
  // optimizer (unless clipping needs the norm first). The row of an input
  // that did not fire in a thread's samples is zero in its gradient, so it
  // is not read (most rows of MNIST's border pixels, for instance).
  pool_.run([&](int t) {
    for (std::size_t l = 0; l < n_layers; ++l) {
      const Layer& layer = model_.net.layers[l];
      const auto n_out = static_cast<std::size_t>(layer.n_out);
      std::vector<double> push(n_out);
      for (std::size_t i = 0; i < n_out; ++i) push[i] = fired[l][i] == 0.0 ? config_.silent_push : 0.0;
      // Without a push in the layer and without clipping, the average is the
      // optimizer kernel's factor: no pass of its own over the row.
      const bool scale_in_step = !clipping && std::all_of(push.begin(), push.end(), [](double x) { return x == 0.0; });
      const auto [row_begin, row_end] = split_range(static_cast<std::size_t>(layer.n_in), n_threads, t);
      for (std::size_t j = row_begin; j < row_end; ++j) {
        if (l == 0 && quiet_row_[j]) continue;  // stepped during the batch
        const std::size_t offset = j * layer.stride();
        G* __restrict g = sums_of<G>(threads_[0]->grad)[l].data() + offset;
        for (std::size_t u = 1; u < threads_.size(); ++u) {
          if (threads_[u]->inputs_fired[l][j] == 0.0) continue;
          G* __restrict other = sums_of<G>(threads_[u]->grad)[l].data() + offset;
          for (std::size_t i = 0; i < n_out; ++i) {
            g[i] += other[i];
            other[i] = 0.0;
          }
        }
        const double fired_j = inputs_fired[l][j];
        if (fired_j == 0.0) {  // no thread's gradient has this row
          if (!clipping) optimizer.zero_gradient_row(l, j);
          continue;
        }
        if (scale_in_step) {
          optimizer.step(l, offset, n_out, g, scale);
          continue;
        }
        for (std::size_t i = 0; i < n_out; ++i) g[i] = static_cast<G>((g[i] - push[i] * fired_j) * scale);
        if (!clipping) optimizer.step(l, offset, n_out, g, 1.0);
      }
    }
  });
  if (!clipping) return;
  double norm2 = 0.0;
  for (const auto& g : sums_of<G>(threads_[0]->grad))
    for (const G x : g) norm2 += static_cast<double>(x) * x;
  const double norm = std::sqrt(norm2);
  const double factor = norm > config_.grad_clip ? config_.grad_clip / norm : 1.0;
  pool_.run([&](int t) {
    for (std::size_t l = 0; l < n_layers; ++l) {
      std::vector<G>& g = sums_of<G>(threads_[0]->grad)[l];
      const auto [begin, end] = split_range(g.size(), n_threads, t);
      optimizer.step(l, begin, end - begin, g.data() + begin, factor);
    }
  });
}

// The float32 path's moments go to checkpoints as doubles (exactly) and
// come back as the same floats.
Trainer::OptimizerState Trainer::optimizer_state() const {
  const bool single = config_.precision == Precision::Float32;
  const auto& layers = model_.net.layers;
  const auto packed = [&](std::size_t l, const auto& moments) {
    if (moments[l].empty()) return std::vector<double>{};
    if constexpr (std::is_same_v<typename std::decay_t<decltype(moments[l])>::value_type, float>) {
      return layers[l].packed(std::vector<double>(moments[l].begin(), moments[l].end()));
    } else {
      return layers[l].packed(moments[l]);
    }
  };
  OptimizerState out;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    out.first.push_back(single ? packed(l, moment1_32_) : packed(l, moment1_));
    out.second.push_back(single ? packed(l, moment2_32_) : packed(l, moment2_));
  }
  return out;
}

void Trainer::restore_optimizer_state(const OptimizerState& state, int64_t steps) {
  const auto& layers = model_.net.layers;
  const std::size_t n = layers.size();
  const auto padded = [&](std::size_t l, const std::vector<double>& packed) {
    return packed.empty() ? std::vector<double>{} : layers[l].padded(packed);
  };
  for (std::size_t l = 0; l < n; ++l) {
    std::vector<double> first = padded(l, state.first[l]), second = padded(l, state.second[l]);
    if (config_.precision == Precision::Float32) {
      moment1_32_[l].assign(first.begin(), first.end());
      moment2_32_[l].assign(second.begin(), second.end());
    } else {
      moment1_[l] = std::move(first);
      moment2_[l] = std::move(second);
    }
  }
  steps_ = steps;
}

}  // namespace spiketime
