#include "cli/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace spiketime::cli {

ProgressBar::ProgressBar(int epoch, int epochs)
    : tty_(::isatty(STDERR_FILENO) != 0), epoch_(epoch), epochs_(epochs), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double ProgressBar::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(std::size_t done, std::size_t total, double loss, double accuracy) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  const int width = 30;
  const int filled = total ? static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total)) : width;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(width - filled), '.');
  std::fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %3.0f%% %6.0f samples/s ETA %2d:%02d loss %.4f acc %.2f%%", epoch_,
               epochs_, bar.c_str(), total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
               rate, static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, loss, 100.0 * accuracy);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace spiketime::cli
