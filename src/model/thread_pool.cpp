#include "spiketime/thread_pool.hpp"

#include <algorithm>

namespace spiketime {

ThreadPool::ThreadPool(int n_threads) {
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

namespace {

// Polls `ready` for a few microseconds; true if it turned true meanwhile.
template <class Ready>
bool poll_briefly(Ready ready) {
  constexpr int kPolls = 4000;  // about 20 us
  for (int i = 0; i < kPolls; ++i) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return ready();
}

}  // namespace

void ThreadPool::run(const std::function<void(int)>& job) {
  if (workers_.empty()) {
    job(0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &job;
    pending_.store(static_cast<int>(workers_.size()));
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  job(0);
  const auto all_done = [this] { return pending_.load() == 0; };
  if (!poll_briefly(all_done)) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, all_done);
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  unsigned long seen = 0;
  for (;;) {
    const std::function<void(int)>* job;
    poll_briefly([&] { return generation_.load() != seen; });
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_.load() != seen; });
      if (stopping_) return;
      seen = generation_.load();
      job = job_;
    }
    (*job)(index);
    if (pending_.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex_);  // so that run() cannot miss the notification
      done_.notify_one();
    }
  }
}

int thread_count(int requested) {
  return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace spiketime
