// Which SIMD target the engine's vector kernels run on. One build carries
// kernels for every target of its architecture (x86: avx512, avx2, sse4,
// scalar; Arm: neon, scalar) and uses the best one the CPU supports, unless
// told otherwise. Every target gives the same bits (docs/TRAINING.md,
// Determinism), so the choice changes only the speed.
#pragma once

#include <string>
#include <vector>

namespace spiketime {

// The targets this build has kernels for and this CPU can run, best first.
std::vector<std::string> available_targets();

// The target in use.
std::string active_target();

// Uses `name`: "best" or one of available_targets(). Anything else throws
// InputError naming it and the targets available. Process-wide; not to be
// called while another thread runs the engine.
void select_target(const std::string& name);

// select_target($SPIKETIME_TARGET) when the variable is set and not empty;
// `spiketime` and the benchmarks call it before anything else.
void select_target_from_environment();

}  // namespace spiketime
