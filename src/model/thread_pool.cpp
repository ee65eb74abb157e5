#include "spiketime/thread_pool.hpp"

#include <algorithm>
#include <string>

#include "spiketime/error.hpp"

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
  errors_.assign(static_cast<std::size_t>(size()), nullptr);
  // Every thread finishes its part whatever another throws, so that no
  // worker is left running a job whose caller has gone.
  const std::function<void(int)> guarded = [&](int t) {
    try {
      job(t);
    } catch (...) {
      errors_[static_cast<std::size_t>(t)] = std::current_exception();
    }
  };
  if (workers_.empty()) {
    guarded(0);
  } else {
    {
      std::lock_guard lock(mutex_);
      job_ = &guarded;
      pending_.store(static_cast<int>(workers_.size()));
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    guarded(0);
    const auto all_done = [this] { return pending_.load() == 0; };
    if (!poll_briefly(all_done)) {
      std::unique_lock lock(mutex_);
      done_.wait(lock, all_done);
    }
    job_ = nullptr;
  }
  for (const auto& error : errors_) {
    if (error) std::rethrow_exception(error);
  }
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
  if (requested < 0 || requested > kMaxThreads) {
    throw InputError("threads: " + std::to_string(requested) + " is out of range: 0 (every core) to " +
                     std::to_string(kMaxThreads));
  }
  return requested > 0 ? requested : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, static_cast<unsigned>(kMaxThreads)));
}

}  // namespace spiketime
