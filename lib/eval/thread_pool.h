// A small fixed pool for the evaluator: run(n, fn) calls fn(i, worker) for i in [0, n) on the
// calling thread plus the pool's workers and returns when all are done. Tasks are handed out
// in order through an atomic counter; which worker runs a task does not matter to the caller
// (every task writes only its own data), so results never depend on the thread count.
// Workers spin briefly between jobs (evaluations come back to back in a fit), then sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace hs3fit::eval {

class ThreadPool {
 public:
  using Task = void (*)(void* context, size_t index, int worker);

  explicit ThreadPool(int threads);  // threads - 1 workers; the caller is worker 0
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  void run(size_t n, Task task, void* context);

 private:
  void worker_loop(int id);
  void work(int id);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> next_{0};
  std::atomic<size_t> remaining_{0};
  std::atomic<int> active_{0};  // workers inside work() for the current job
  bool stop_ = false;
  Task task_ = nullptr;
  void* context_ = nullptr;
  size_t count_ = 0;
};

}  // namespace hs3fit::eval
