#include "eval/thread_pool.h"

#include <chrono>

namespace hs3fit::eval {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
// How long an idle worker polls for the next job before it sleeps on the condition variable.
constexpr auto kSpin = std::chrono::microseconds(50);
}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int id = 1; id < threads; ++id) workers_.emplace_back([this, id] { worker_loop(id); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(int id) {
  // The job's fields were copied under the mutex by the caller of work(); next_ is only reset
  // when no worker is active, so every index below count_ belongs to the current job.
  const Task task = task_;
  void* const context = context_;
  const size_t n = count_;
  for (;;) {
    const size_t i = next_.fetch_add(1);
    if (i >= n) break;
    task(context, i, id);
    remaining_.fetch_sub(1, std::memory_order_release);
  }
}

void ThreadPool::run(size_t n, Task task, void* context) {
  if (workers_.empty() || n <= 1) {
    for (size_t i = 0; i < n; ++i) task(context, i, 0);
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // A worker may still be leaving the previous job (it found no index left); wait for it
    // before the counters are reset.
    while (active_.load() != 0) {
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
    task_ = task;
    context_ = context;
    count_ = n;
    next_.store(0);
    remaining_.store(n);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  work(0);
  for (unsigned spins = 0; remaining_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

void ThreadPool::worker_loop(int id) {
  uint64_t seen = 0;
  for (;;) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (unsigned k = 0; generation_.load(std::memory_order_acquire) == seen; ++k) {
      cpu_relax();
      if ((k & 63) == 0 && std::chrono::steady_clock::now() > until) break;
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      active_.fetch_add(1);
    }
    work(id);
    active_.fetch_sub(1);
  }
}

}  // namespace hs3fit::eval
