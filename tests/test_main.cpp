// The test binary's main: the SIMD target comes from SPIKETIME_TARGET, as in
// the CLI, so that ctest can run the engine's tests once per target
// (tests/CMakeLists.txt). A target this CPU lacks skips the run (exit 77).
#include <gtest/gtest.h>

#include <iostream>

#include "spiketime/error.hpp"
#include "spiketime/simd.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  try {
    spiketime::select_target_from_environment();
  } catch (const spiketime::InputError& e) {
    std::cout << e.what() << ": skipped\n";
    return 77;
  }
  std::cout << "SIMD target: " << spiketime::active_target() << "\n";
  return RUN_ALL_TESTS();
}
