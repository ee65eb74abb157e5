#pragma once

namespace spiketime {

inline constexpr const char* kVersion = SPIKETIME_VERSION;

}  // namespace spiketime
