// What the fuzz targets share: the fuzzer's bytes as a file (the readers
// take paths and insist on regular files: a memfd is one, named by its
// /proc/self/fd path), and bounds on the work one input may ask for.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "spiketime/layer.hpp"

namespace spiketime::fuzz {

class MemFile {
 public:
  MemFile(const uint8_t* data, std::size_t size) : fd_(::memfd_create("fuzz", 0)) {
    if (fd_ < 0) __builtin_trap();
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) __builtin_trap();
      done += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// A network that parses may still be asked to fire without end; the limits
// (docs/LIMITS.md) stop it, and these low ones keep each input fast.
inline constexpr SpikeLimits kFuzzLimits{1000, 20000};

}  // namespace spiketime::fuzz
