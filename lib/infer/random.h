// Random numbers for toys, reproducible everywhere: xoshiro256** (Blackman & Vigna 2018) seeded
// through SplitMix64, and samplers written out here (not std:: distributions, whose algorithms
// differ between standard libraries). A toy's stream depends only on (seed, stream, index), so
// toy results do not depend on the number of threads or the order the toys run in.
#pragma once
#include <cstdint>

namespace hs3fit::infer {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  // An independent stream for toy `index` of sample `stream` under the user's `seed`.
  static Rng for_toy(uint64_t seed, uint64_t stream, uint64_t index);

  uint64_t next();
  double uniform();  // [0, 1), 53 random bits

 private:
  uint64_t s_[4];
};

// N(0, 1) by Box–Muller (one of the pair; two uniforms per call).
double standard_normal(Rng& rng);
// Poisson(mean): multiplication (inversion) method below 10, Hörmann's PTRS transformed
// rejection (1993; numpy's algorithm) from 10 on. mean ≤ 0 or not finite gives 0.
double poisson(Rng& rng, double mean);

}  // namespace hs3fit::infer
