// Progress of a training epoch: a live bar on a terminal, nothing in between
// otherwise (the per-epoch summary line is printed by the caller).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace spiketime::cli {

class ProgressBar {
 public:
  ProgressBar(int epoch, int epochs);
  // done of total samples; running loss and accuracy of the epoch so far.
  void update(std::size_t done, std::size_t total, double loss, double accuracy);
  void finish();
  double seconds() const;

 private:
  bool tty_;
  int epoch_, epochs_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace spiketime::cli
