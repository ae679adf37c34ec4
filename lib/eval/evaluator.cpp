#include "eval/evaluator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "eval/kernels.h"
#include "eval/thread_pool.h"

namespace hs3fit::eval {

namespace {
std::atomic<int> g_default_threads{0};

// Every CPU this process may use: the batch system's allocation when it says (Slurm), else the
// hardware's.
int automatic_threads() {
  if (const char* s = std::getenv("SLURM_CPUS_PER_TASK")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}
}  // namespace

void set_default_threads(int threads) { g_default_threads = std::max(0, threads); }
int default_threads() { return g_default_threads; }

Evaluator::Evaluator(const tape::Tape& tape, const EvaluatorOptions& options)
    : tape_(tape), kernels_(&kernel_table(options.simd_target)), x_(tape.arena_init), g_(tape.arena_size(), 0.0) {
  uint64_t cost = 0;
  for (const tape::Shard& sh : tape.shards) cost += sh.cost;
  int threads = options.threads > 0 ? options.threads : automatic_threads();
  if (options.threads <= 0 && cost < kMinCostForThreads) threads = 1;  // automatic: small tapes stay on one thread
  threads = std::max(1, std::min<int>(threads, static_cast<int>(tape.shards.size())));
  scratch_.assign(static_cast<size_t>(threads), std::vector<double>(scratch_size(tape)));
  if (threads > 1) pool_ = std::make_unique<ThreadPool>(threads);
}

Evaluator::~Evaluator() = default;

const char* Evaluator::simd_target() const { return kernels_->target; }
int Evaluator::threads() const { return pool_ ? pool_->size() : 1; }

void Evaluator::shard_task(void* self, size_t shard, int worker) { static_cast<Evaluator*>(self)->run_shard(shard, worker); }

// Forward sweep of one shard and, for gradients, its reverse sweep. Touches only the shard's
// own slots (local parameter copies, work region) and reads constants: shards are independent.
void Evaluator::run_shard(size_t s, int worker) {
  const tape::Shard& sh = tape_.shards[s];
  const uint32_t* I = tape_.indices.data();
  double* x = x_.data();
  for (uint32_t j = 0; j < sh.num_params; ++j) x[sh.work_begin + j] = params_[I[sh.params + j]];
  const Ctx ctx{x, g_.data(), tape_.consts.data(), I, scratch_[static_cast<size_t>(worker)].data(), tape_.work_end, gradient_};
  const tape::Instr* code = tape_.code.data();
  for (uint32_t pc = sh.code_begin; pc < sh.code_end; ++pc) kernels_->forward[static_cast<int>(code[pc].op)](code[pc], ctx);
  if (!gradient_) return;
  std::fill(g_.begin() + sh.work_begin, g_.begin() + sh.adjoint_end, 0.0);
  g_[sh.result] = 1.0;
  for (uint32_t pc = sh.code_end; pc-- > sh.code_begin;) kernels_->adjoint[static_cast<int>(code[pc].op)](code[pc], ctx);
}

double Evaluator::evaluate(const double* params, double* gradient) {
  params_ = params;
  gradient_ = gradient != nullptr;
  std::copy(params, params + tape_.num_params, x_.begin());
  const size_t n = tape_.shards.size();
  if (pool_) pool_->run(n, &Evaluator::shard_task, this);
  else
    for (size_t s = 0; s < n; ++s) run_shard(s, 0);
  // Terms and gradients in shard order: the same sums for any thread count.
  double total = 0;
  for (const tape::Shard& sh : tape_.shards) total += x_[sh.result];
  x_[tape_.result] = total;
  if (gradient) {
    std::fill(gradient, gradient + tape_.num_params, 0.0);
    const uint32_t* I = tape_.indices.data();
    for (const tape::Shard& sh : tape_.shards)
      for (uint32_t j = 0; j < sh.num_params; ++j) gradient[I[sh.params + j]] += g_[sh.work_begin + j];
  }
  return total;
}

double Evaluator::nll(const double* params) { return evaluate(params, nullptr); }

double Evaluator::nll_and_gradient(const double* params, double* gradient) { return evaluate(params, gradient); }

std::vector<double> Evaluator::channel_yields(size_t channel) const {
  const tape::ChannelInfo& c = tape_.channels.at(channel);
  return std::vector<double>(x_.begin() + c.yields, x_.begin() + c.yields + c.nbins);
}

}  // namespace hs3fit::eval
