// A fixed set of threads that sleep between jobs. A waiting thread polls for
// a few microseconds (training hands out two jobs per batch, back to back,
// and waking a sleeping thread costs tens of microseconds), then blocks on a
// condition variable: an idle pool never spins, which on a shared 2-core
// machine would make 2 threads slower than 1.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace spiketime {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // the caller counts as thread 0
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs job(t) once for each thread t in [0, size()) and returns when all
  // are done. An exception thrown by a job is rethrown here once every
  // thread has finished (the lowest thread's, when several throw).
  void run(const std::function<void(int)>& job);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::vector<std::exception_ptr> errors_;  // per thread, of the current job
  std::atomic<unsigned long> generation_{0};  // counts jobs handed out
  std::atomic<int> pending_{0};               // workers still on the current job
  bool stopping_ = false;
};

// More threads than this is a mistake, not a machine: refused before any is
// started (a thread pool of 100,000 failed inside std::thread).
inline constexpr int kMaxThreads = 1024;

// A thread count from a flag or config: 0 means every core. An InputError
// when requested is negative or above kMaxThreads.
int thread_count(int requested);

// Splits [0, n) into `parts` contiguous ranges of near-equal size; returns range `part`.
inline std::pair<std::size_t, std::size_t> split_range(std::size_t n, int parts, int part) {
  const std::size_t p = static_cast<std::size_t>(parts), k = static_cast<std::size_t>(part);
  return {n * k / p, n * (k + 1) / p};
}

}  // namespace spiketime
