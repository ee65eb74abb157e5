// Target selection for the kernels of kernels.cpp, through Highway's
// dispatch: restricting the targets it may choose from makes its next
// dispatch pick the best of those.
#include "spiketime/simd.hpp"

#include <hwy/highway.h>
#include <hwy/targets.h>

#include <cstdlib>

#include "spiketime/error.hpp"

namespace spiketime {
namespace {

// Our names for Highway's targets. The build leaves out the targets that
// would only duplicate these (SSSE3, AVX3_DL) and SVE (see CMakeLists.txt).
const char* target_name(int64_t target) {
  switch (target) {
    case HWY_AVX3: return "avx512";
    case HWY_AVX2: return "avx2";
    case HWY_SSE4: return "sse4";
    case HWY_NEON: return "neon";
    case HWY_EMU128:
    case HWY_SCALAR: return "scalar";
    default: return "other";
  }
}

int64_t active = 0;  // the chosen target; 0: the best

// The targets compiled in and supported by the CPU, best (lowest bit) first:
// read once, with any restriction lifted for the moment.
const std::vector<int64_t>& supported() {
  static const std::vector<int64_t> targets = [] {
    hwy::SetSupportedTargetsForTest(0);
    std::vector<int64_t> all = hwy::SupportedAndGeneratedTargets();
    hwy::SetSupportedTargetsForTest(active);
    return all;
  }();
  return targets;
}

}  // namespace

std::vector<std::string> available_targets() {
  std::vector<std::string> names;
  for (int64_t t : supported()) names.emplace_back(target_name(t));
  return names;
}

std::string active_target() {
  if (active != 0) return target_name(active);
  return supported().empty() ? "none" : target_name(supported().front());
}

void select_target(const std::string& name) {
  int64_t chosen = 0;
  std::string names;
  for (int64_t t : supported()) {
    if (name == target_name(t)) chosen = t;
    names += (names.empty() ? "" : ", ") + std::string(target_name(t));
  }
  if (name != "best" && chosen == 0) {
    throw InputError("SIMD target '" + name + "' is not available on this CPU (available: best, " + names + ")");
  }
  active = chosen;
  hwy::SetSupportedTargetsForTest(active);  // 0: all; the next dispatch picks again
}

void select_target_from_environment() {
  const char* name = std::getenv("SPIKETIME_TARGET");
  if (name && *name) {
    try {
      select_target(name);
    } catch (const InputError& e) {
      throw InputError(std::string("SPIKETIME_TARGET: ") + e.what());
    }
  }
}

}  // namespace spiketime
