// The child process that the NIR import runs in (io/child_process.hpp): a
// crash, a hang, an exit without an answer or a lack of memory in the child
// is one InputError in the caller, which goes on; an answer larger than a
// pipe's buffer comes back whole. Then the NIR import itself on files that
// crash Debian's libhdf5 (found by scripts/fuzz.sh nir, kept in
// tests/fuzz/hdf5-faults/): one error, and the caller lives.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "io/child_process.hpp"
#include "spiketime/error.hpp"
#include "spiketime/nir.hpp"

namespace {

namespace fs = std::filesystem;
using spiketime::InputError;
using spiketime::io::ChildLimits;
using spiketime::io::run_in_child;

// The message of the InputError that f throws (a failure if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

constexpr const char* kFailure = "thing.nir: the reader failed";

TEST(ChildProcess, AnswerAndErrorsComeBack) {
  EXPECT_EQ(run_in_child([] { return std::string("model bytes\0with a zero", 23); }, {}, kFailure),
            std::string("model bytes\0with a zero", 23));
  EXPECT_EQ(run_in_child([] { return std::string(); }, {}, kFailure), "");
  // Larger than a pipe's buffer (64 KiB): the caller reads while the child writes.
  std::string big(20 << 20, 'x');
  for (std::size_t k = 0; k < big.size(); k += 4099) big[k] = static_cast<char>(k % 251);
  EXPECT_EQ(run_in_child([&] { return big; }, {}, kFailure), big);
  // The child's own InputError, word for word.
  EXPECT_EQ(error_of([] { run_in_child([]() -> std::string { throw InputError("x.nir: node 'a' is odd"); }, {}, kFailure); }),
            "x.nir: node 'a' is odd");
  const std::string other =
      error_of([] { run_in_child([]() -> std::string { throw std::runtime_error("H5Fopen said no"); }, {}, kFailure); });
  EXPECT_EQ(other, std::string(kFailure) + " (H5Fopen said no)");
}

TEST(ChildProcess, CrashesAndExitsBecomeOneError) {
  const std::string crash = error_of([] {
    run_in_child([]() -> std::string {
      ::raise(SIGSEGV);
      return "unreachable";
    }, {}, kFailure);
  });
  EXPECT_EQ(crash.rfind(kFailure, 0), 0u) << crash;
  EXPECT_NE(crash.find("signal " + std::to_string(SIGSEGV)), std::string::npos) << crash;
  const std::string abort = error_of([] {
    run_in_child([]() -> std::string {
      ::abort();
    }, {}, kFailure);
  });
  EXPECT_NE(abort.find("signal " + std::to_string(SIGABRT)), std::string::npos) << abort;
  const std::string exited = error_of([] {
    run_in_child([]() -> std::string {
      ::_exit(7);
    }, {}, kFailure);
  });
  EXPECT_NE(exited.find("exited with status 7 without an answer"), std::string::npos) << exited;
  // The caller is unharmed and can go on.
  EXPECT_EQ(run_in_child([] { return std::string("after"); }, {}, kFailure), "after");
}

TEST(ChildProcess, AHangIsStoppedAtTheTimeLimit) {
  ChildLimits limits;
  limits.seconds = 0.3;
  const auto start = std::chrono::steady_clock::now();
  const std::string hang = error_of([&] {
    run_in_child([]() -> std::string {
      for (;;) ::pause();
    }, limits, kFailure);
  });
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(hang.find("no answer within 0.3 s"), std::string::npos) << hang;
  EXPECT_LT(took, 30.0);  // stopped, not waited for (the child never ends by itself)
}

TEST(ChildProcess, MemoryBeyondTheLimitIsOneError) {
  if (!spiketime::io::kMemoryLimitApplies) GTEST_SKIP() << "no memory limit under AddressSanitizer";
  ChildLimits limits;
  limits.memory_bytes = std::uint64_t{256} << 20;
  const std::string message = error_of([&] {
    run_in_child([]() -> std::string {
      std::vector<std::vector<char>> hog;
      for (int k = 0; k < 64; ++k) hog.emplace_back(std::size_t{64} << 20, 'x');  // 4 GiB
      return "unreachable";
    }, limits, kFailure);
  });
  EXPECT_NE(message.find("needed more than 256 MiB of memory"), std::string::npos) << message;
}

// Files on which Debian's libhdf5 1.10.8 overflows a buffer, loops or dies
// (scripts/fuzz.sh nir found them): each import is one error naming the file.
TEST(ChildProcess, NirFilesThatCrashHdf5AreOneError) {
  const fs::path dir = fs::path(SPIKETIME_SOURCE_DIR) / "tests/fuzz/hdf5-faults";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++files;
    const std::string path = entry.path().string();
    const std::string message = error_of([&] { spiketime::import_nir(path); });
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_GT(files, 0);
}

}  // namespace
