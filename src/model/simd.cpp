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

// The targets compiled in and supported by the CPU, best (lowest bit) first,
// ignoring any earlier restriction.
std::vector<int64_t> supported() {
  hwy::SetSupportedTargetsForTest(0);
  std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets;
}

int64_t active = 0;  // 0: the best

}  // namespace

std::vector<std::string> available_targets() {
  const int64_t keep = active;
  std::vector<std::string> names;
  for (int64_t t : supported()) names.emplace_back(target_name(t));
  hwy::SetSupportedTargetsForTest(keep);
  return names;
}

std::string active_target() {
  if (active != 0) return target_name(active);
  const std::vector<int64_t> targets = supported();
  return targets.empty() ? "none" : target_name(targets.front());
}

void select_target(const std::string& name) {
  int64_t chosen = 0;
  std::string names;
  for (int64_t t : supported()) {
    if (name == target_name(t)) chosen = t;
    names += (names.empty() ? "" : ", ") + std::string(target_name(t));
  }
  if (name != "best" && chosen == 0) {
    hwy::SetSupportedTargetsForTest(active);
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
