#include "spiketime/config.hpp"

#include <cmath>
#include <functional>
#include <variant>

#include "spiketime/dataset.hpp"
#include "spiketime/error.hpp"
#include "spiketime/json_text.hpp"
#include "spiketime/model.hpp"
#include "spiketime/names.hpp"

namespace spiketime {

using nlohmann::json;

namespace {

using FieldPtr = std::variant<std::string TrainConfig::*, Precision TrainConfig::*, Readout TrainConfig::*,
                              Optimizer TrainConfig::*, Schedule TrainConfig::*, SilentOutput TrainConfig::*,
                              double TrainConfig::*, int TrainConfig::*, std::int64_t TrainConfig::*,
                              std::vector<int> TrainConfig::*, std::vector<double> TrainConfig::*>;
struct Field {
  const char* key;
  FieldPtr member;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      {"dataset", &TrainConfig::dataset},
      {"data_dir", &TrainConfig::data_dir},
      {"validation_size", &TrainConfig::validation_size},
      {"train_limit", &TrainConfig::train_limit},
      {"hidden", &TrainConfig::hidden},
      {"tau_m", &TrainConfig::tau_m},
      {"tau_s", &TrainConfig::tau_s},
      {"theta", &TrainConfig::theta},
      {"max_spikes", &TrainConfig::max_spikes},
      {"t_end", &TrainConfig::t_end},
      {"t_in_max", &TrainConfig::t_in_max},
      {"bias_times", &TrainConfig::bias_times},
      {"readout", &TrainConfig::readout},
      {"tau_out", &TrainConfig::tau_out},
      {"optimizer", &TrainConfig::optimizer},
      {"lr", &TrainConfig::lr},
      {"momentum", &TrainConfig::momentum},
      {"beta1", &TrainConfig::beta1},
      {"beta2", &TrainConfig::beta2},
      {"adam_eps", &TrainConfig::adam_eps},
      {"schedule", &TrainConfig::schedule},
      {"step_epochs", &TrainConfig::step_epochs},
      {"step_gamma", &TrainConfig::step_gamma},
      {"epochs", &TrainConfig::epochs},
      {"batch_size", &TrainConfig::batch_size},
      {"seed", &TrainConfig::seed},
      {"threads", &TrainConfig::threads},
      {"precision", &TrainConfig::precision},
      {"min_vdot", &TrainConfig::min_vdot},
      {"grad_clip", &TrainConfig::grad_clip},
      {"weight_decay", &TrainConfig::weight_decay},
      {"input_jitter", &TrainConfig::input_jitter},
      {"input_dropout", &TrainConfig::input_dropout},
      {"input_shift", &TrainConfig::input_shift},
      {"input_flip", &TrainConfig::input_flip},
      {"hidden_dropout", &TrainConfig::hidden_dropout},
      {"silent_push", &TrainConfig::silent_push},
      {"silent_output", &TrainConfig::silent_output},
      {"init_mean_drive", &TrainConfig::init_mean_drive},
      {"init_std_drive", &TrainConfig::init_std_drive},
      {"init_hidden_spikes", &TrainConfig::init_hidden_spikes},
      {"spike_limit_per_neuron", &TrainConfig::spike_limit_per_neuron},
      {"spike_limit_per_sample", &TrainConfig::spike_limit_per_sample},
  };
  return all;
}

// The enums a config key takes, by name.
const char* name_of(Precision p) { return precision_name(p); }
const char* name_of(Readout r) { return readout_name(r); }
const char* name_of(Optimizer o) { return optimizer_name(o); }
const char* name_of(Schedule s) { return schedule_name(s); }
const char* name_of(SilentOutput s) { return silent_output_name(s); }
template <class E>
E parse_name(const std::string& name) {
  if constexpr (std::is_same_v<E, Precision>) return parse_precision(name);
  if constexpr (std::is_same_v<E, Readout>) return parse_readout(name);
  if constexpr (std::is_same_v<E, Optimizer>) return parse_optimizer(name);
  if constexpr (std::is_same_v<E, Schedule>) return parse_schedule(name);
  if constexpr (std::is_same_v<E, SilentOutput>) return parse_silent_output(name);
}

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& problem) {
  throw InputError(source + ": config key '" + key + "': " + problem);
}

// A value for an error message: invalid UTF-8 replaced (dump() would throw
// on it: a `--set` byte string crashed the reader), long values cut.
std::string shown(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

double number(const json& v, const std::string& source, const std::string& key) {
  if (!v.is_number()) bad(source, key, "expected a number, got " + shown(v));
  return v.get<double>();
}

int integer(const json& v, const std::string& source, const std::string& key) {
  if (!v.is_number_integer()) bad(source, key, "expected an integer, got " + shown(v));
  const auto x = v.get<long long>();
  if (x < -2'000'000'000LL || x > 2'000'000'000LL) bad(source, key, "out of range");
  return static_cast<int>(x);
}

void set_field(TrainConfig& c, const Field& f, const json& v, const std::string& source) {
  const std::string key = f.key;
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!v.is_string()) bad(source, key, "expected a string, got " + shown(v));
          c.*member = v.get<std::string>();
        } else if constexpr (std::is_enum_v<T>) {
          if (!v.is_string()) bad(source, key, "expected a string, got " + shown(v));
          try {
            c.*member = parse_name<T>(v.get<std::string>());
          } catch (const InputError& e) {
            bad(source, key, e.what());
          }
        } else if constexpr (std::is_same_v<T, double>) {
          c.*member = number(v, source, key);
        } else if constexpr (std::is_same_v<T, int>) {
          c.*member = integer(v, source, key);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          if (!v.is_number_integer()) bad(source, key, "expected an integer, got " + shown(v));
          c.*member = v.get<std::int64_t>();
        } else {
          using E = typename T::value_type;
          const json list = v.is_array() ? v : json::array({v});
          T values;
          for (const json& x : list) {
            if constexpr (std::is_same_v<E, int>) {
              values.push_back(integer(x, source, key));
            } else {
              values.push_back(number(x, source, key));
            }
          }
          c.*member = std::move(values);
        }
      },
      f.member);
}

const Field& find_field(const std::string& key, const std::string& source) {
  for (const Field& f : fields()) {
    if (key == f.key) return f;
  }
  bad(source, key, "unknown key");
}

}  // namespace

namespace {
constexpr Named<Optimizer> kOptimizerNames[] = {{Optimizer::Adam, "adam"}, {Optimizer::Sgd, "sgd"}};
constexpr Named<Schedule> kScheduleNames[] = {
    {Schedule::Constant, "constant"}, {Schedule::Step, "step"}, {Schedule::Cosine, "cosine"}};
constexpr Named<SilentOutput> kSilentOutputNames[] = {{SilentOutput::Push, "push"}, {SilentOutput::Peak, "peak"}};
}  // namespace

const char* optimizer_name(Optimizer o) { return name_in(kOptimizerNames, o); }
Optimizer parse_optimizer(const std::string& name) { return value_in(kOptimizerNames, name, "optimizer"); }
const char* schedule_name(Schedule s) { return name_in(kScheduleNames, s); }
Schedule parse_schedule(const std::string& name) { return value_in(kScheduleNames, name, "schedule"); }
const char* silent_output_name(SilentOutput s) { return name_in(kSilentOutputNames, s); }
SilentOutput parse_silent_output(const std::string& name) {
  return value_in(kSilentOutputNames, name, "silent_output");
}

TrainConfig default_config(const std::string& dataset) {
  TrainConfig c;
  c.dataset = dataset;
  if (dataset == "fashion-mnist") {
    c.epochs = 30;
  } else if (dataset == "yinyang") {
    // Small 2-D problem: a narrower net, one bias spike, more epochs. Chosen
    // by the runs in docs/TRAINING.md.
    c.validation_size = 0;
    c.hidden = {200};
    c.bias_times = {0.0};
    c.epochs = 60;
    c.batch_size = 20;
    c.silent_push = 0.05;
    c.min_vdot = 0.1;
  }
  return c;
}

void apply_config(TrainConfig& config, const json& object, const std::string& source) {
  if (!object.is_object()) throw InputError(source + ": a config must be a JSON object");
  for (const auto& [key, value] : object.items()) set_field(config, find_field(key, source), value, source);
}

void apply_setting(TrainConfig& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError("--set " + assignment + ": expected key=value");
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = parse_json(text, "--set " + key);
  } catch (const InputError&) {
    const auto first = text.find_first_not_of(" \t");
    if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) throw;  // meant as JSON
    value = text;  // a bare word is a string
    try {
      (void)value.dump();
    } catch (const json::type_error&) {
      throw InputError("--set " + key + ": the value is not valid UTF-8 text");
    }
  }
  set_field(config, find_field(key, "--set"), value, "--set");
}

json config_to_json(const TrainConfig& c) {
  json out = json::object();
  for (const Field& f : fields()) {
    std::visit(
        [&](auto member) {
          if constexpr (std::is_enum_v<std::remove_cvref_t<decltype(c.*member)>>) {
            out[f.key] = name_of(c.*member);
          } else {
            out[f.key] = c.*member;
          }
        },
        f.member);
  }
  return out;
}

void validate_config(const TrainConfig& c) {
  auto require = [](bool ok, const std::string& key, const std::string& problem) {
    if (!ok) throw InputError("config key '" + key + "': " + problem);
  };
  bool known = false;
  for (const auto& name : kDatasetNames) known |= name == c.dataset;
  require(known, "dataset", "unknown data set '" + c.dataset + "' (mnist, fashion-mnist or yinyang)");
  require(c.validation_size >= 0, "validation_size", "must be >= 0");
  // Yin-Yang's splits are drawn apart (load_splits): a validation_size
  // there would be ignored without a word.
  require(c.dataset != "yinyang" || c.validation_size == 0, "validation_size",
          "yinyang has fixed splits (5000 training, 1000 validation and 1000 test samples: docs/YINYANG.md), so it "
          "must stay 0");
  require(c.train_limit >= 0, "train_limit", "must be >= 0");
  for (int h : c.hidden) require(h > 0, "hidden", "layer sizes must be positive");
  // The sizes before any memory is taken: a layer of 10^8 neurons ran for
  // 20 s and 3.9 GB before it aborted. Every data set has at most 784
  // features.
  long long width = 784 + static_cast<long long>(c.bias_times.size()), weights = 0;
  for (std::size_t l = 0; l <= c.hidden.size(); ++l) {
    const long long n_out = l < c.hidden.size() ? c.hidden[l] : 10;
    try {
      check_layer_size(width, n_out, weights, "layer " + std::to_string(l));
    } catch (const InputError& e) {
      require(false, "hidden", e.what());
    }
    weights += width * n_out;
    width = n_out;
  }
  const std::size_t n_layers = c.hidden.size() + 1;
  auto per_layer_ok = [&](std::size_t size, const char* key) {
    require(size == 1 || size == n_layers, key,
            "give one value or one per layer (" + std::to_string(n_layers) + " layers)");
  };
  per_layer_ok(c.tau_m.size(), "tau_m");
  per_layer_ok(c.tau_s.size(), "tau_s");
  per_layer_ok(c.theta.size(), "theta");
  per_layer_ok(c.max_spikes.size(), "max_spikes");
  require(std::isfinite(c.t_end) && c.t_end > 0, "t_end", "must be positive");
  // A window of at most kMaxWindow time constants (network.hpp).
  const auto time_constant = [&](double x, const char* key) {
    require(std::isfinite(x) && x > 0, key, "must be positive");
    require(c.t_end / x <= kMaxWindow, key,
            format_number(x) + " is too short: t_end " + format_number(c.t_end) + " would span more than " +
                format_number(kMaxWindow) + " of it");
  };
  for (double x : c.tau_m) time_constant(x, "tau_m");
  for (double x : c.tau_s) time_constant(x, "tau_s");
  for (double x : c.theta) require(std::isfinite(x) && x > 0, "theta", "must be positive");
  for (int x : c.max_spikes) require(x >= 0, "max_spikes", "must be >= 0 (0: unlimited)");
  require(c.t_in_max > 0 && c.t_in_max <= c.t_end, "t_in_max", "must be in (0, t_end]");
  for (double t : c.bias_times) require(t >= 0 && t <= c.t_end, "bias_times", "must lie in [0, t_end]");
  require(c.tau_out > 0, "tau_out", "must be positive");
  // Steps beyond these only overflow the weights (lr 1e308 ended in bad_alloc).
  require(c.lr > 0 && c.lr <= 10, "lr", "must be in (0, 10]");
  require(c.momentum >= 0 && c.momentum < 1, "momentum", "must be in [0, 1)");
  require(c.beta1 >= 0 && c.beta1 < 1, "beta1", "must be in [0, 1)");
  require(c.beta2 >= 0 && c.beta2 < 1, "beta2", "must be in [0, 1)");
  require(c.adam_eps > 0, "adam_eps", "must be positive");
  require(c.step_epochs > 0, "step_epochs", "must be positive");
  require(c.step_gamma > 0, "step_gamma", "must be positive");
  require(c.epochs > 0, "epochs", "must be positive");
  require(c.batch_size > 0, "batch_size", "must be positive");
  require(c.seed >= 0, "seed", "must be >= 0");
  require(c.threads >= 0 && c.threads <= kMaxThreads, "threads",
          "must be from 0 (all cores) to " + std::to_string(kMaxThreads));
  require(c.min_vdot >= 0, "min_vdot", "must be >= 0");
  require(c.grad_clip >= 0, "grad_clip", "must be >= 0 (0: off)");
  require(c.weight_decay >= 0, "weight_decay", "must be >= 0");
  require(c.input_jitter >= 0, "input_jitter", "must be >= 0");
  require(c.input_dropout >= 0 && c.input_dropout < 1, "input_dropout", "must be in [0, 1)");
  require(c.input_shift >= 0 && c.input_shift <= 1000, "input_shift", "must be from 0 to 1000 pixels");
  require(c.input_flip >= 0 && c.input_flip <= 1, "input_flip", "must be a probability, in [0, 1]");
  const auto image_only = [&](bool on, const char* key) {
    require(!on || c.dataset != "yinyang", key, "moves image pixels; yinyang's features are not an image");
  };
  image_only(c.input_shift > 0, "input_shift");
  image_only(c.input_flip > 0, "input_flip");
  require(c.hidden_dropout >= 0 && c.hidden_dropout < 1, "hidden_dropout", "must be in [0, 1)");
  require(c.silent_push >= 0, "silent_push", "must be >= 0");
  require(c.init_mean_drive >= 0 && c.init_mean_drive <= 1000, "init_mean_drive", "must be in [0, 1000]");
  require(c.init_std_drive >= 0 && c.init_std_drive <= 1000, "init_std_drive", "must be in [0, 1000]");
  require(c.spike_limit_per_neuron > 0, "spike_limit_per_neuron", "must be positive");
  require(c.spike_limit_per_sample > 0, "spike_limit_per_sample", "must be positive");
  require(c.init_hidden_spikes > 0, "init_hidden_spikes", "must be positive");
}

}  // namespace spiketime
