#include "spiketime/json_text.hpp"

#include <vector>

#include "spiketime/error.hpp"

namespace spiketime {

using nlohmann::json;

namespace {

// Follows the key path through a SAX parse so that an error in the document
// (bad syntax, a number out of range) can name the field where it happens.
class PathTracker : public nlohmann::json_sax<json> {
 public:
  std::string error;  // set when the parse stops

  std::string path() const {
    std::string p;
    for (const Level& level : stack_) {
      if (level.array) {
        p += "[" + std::to_string(level.index) + "]";
      } else if (!level.key.empty()) {
        p += (p.empty() ? "" : ".") + level.key;
      }
    }
    return p;
  }

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return push(false); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override { return push(true); }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    if (const auto pos = error.find("] "); pos != std::string::npos) error = error.substr(pos + 2);
    return false;
  }

 private:
  struct Level {
    bool array;
    std::size_t index;
    std::string key;
  };
  std::vector<Level> stack_;

  bool value() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
    return true;
  }
  bool push(bool array) {
    if (stack_.size() == kMaxJsonDepth) {
      error = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    stack_.push_back({array, 0, ""});
    return true;
  }
  bool pop() {
    stack_.pop_back();
    return value();
  }
};

}  // namespace

json parse_json(const std::string& text, const std::string& source) {
  PathTracker tracker;
  if (!json::sax_parse(text, &tracker)) {
    const std::string where = tracker.path();
    const bool too_deep = tracker.error.rfind("nested", 0) == 0;
    throw InputError((source.empty() ? "" : source + ": ") + (where.empty() ? "" : where + ": ") +
                     (too_deep ? "" : "malformed JSON: ") + tracker.error);
  }
  return json::parse(text);
}

}  // namespace spiketime
