// The interpreted tape evaluator: a forward sweep for −ln L, a reverse sweep for its exact
// gradient, shard by shard (tape/tape.h). Owns the arena and adjoint buffers; evaluation never
// allocates. Shards run on `threads` threads; their terms and gradients are added in shard
// order, so the result is bit-identical for any thread count.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tape/tape.h"

namespace hs3fit::eval {

struct KernelTable;
class ThreadPool;

// The process-wide default of EvaluatorOptions::threads (`hs3fit --threads N`): 0 = automatic
// (SLURM_CPUS_PER_TASK when set, else every CPU), until set_default_threads() says otherwise.
void set_default_threads(int threads);
int default_threads();

// Below this much work per evaluation (tape::Shard::cost, bin·sample·modifier units, ~1 ns
// each) waking other threads costs more than it saves: such tapes run on the calling thread.
inline constexpr uint64_t kMinCostForThreads = 32768;

struct EvaluatorOptions {
  int threads = default_threads();  // threads evaluating shards (the caller's included); 0 = all CPUs
  std::string simd_target;  // "" = the best the CPU has; "avx3", "avx2", "sse4", "scalar", ...
};

class Evaluator {
 public:
  explicit Evaluator(const tape::Tape& tape, const EvaluatorOptions& options = {});
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // −ln L at the full parameter vector `params` (Tape::num_params values).
  double nll(const double* params);
  // −ln L and its gradient (written to `gradient`, num_params values).
  double nll_and_gradient(const double* params, double* gradient);

  // Expected yields of a channel after the last evaluation (tape.channels[i]).
  std::vector<double> channel_yields(size_t channel) const;
  const tape::Tape& tape() const { return tape_; }
  size_t num_params() const { return tape_.num_params; }
  const char* simd_target() const;  // the kernels' target ("AVX3", "AVX2", ..., "EMU128")
  int threads() const;              // threads actually used (≤ number of shards)

 private:
  static void shard_task(void* self, size_t shard, int worker);
  void run_shard(size_t shard, int worker);
  double evaluate(const double* params, double* gradient);

  const tape::Tape& tape_;
  const KernelTable* kernels_;
  std::vector<double> x_;                     // arena values
  std::vector<double> g_;                     // arena adjoints
  std::vector<std::vector<double>> scratch_;  // per worker
  std::unique_ptr<ThreadPool> pool_;
  // The evaluation in flight (read by the shard tasks).
  const double* params_ = nullptr;
  bool gradient_ = false;
};

}  // namespace hs3fit::eval
