#include "infer/random.h"

#include <cmath>

namespace hs3fit::infer {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
constexpr double kTwoPi = 6.283185307179586;
}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) s = splitmix64(x);
}

Rng Rng::for_toy(uint64_t seed, uint64_t stream, uint64_t index) {
  // Hash the three numbers into one 64-bit seed, each step a SplitMix64 finaliser.
  uint64_t x = seed;
  uint64_t h = splitmix64(x);
  x = h ^ (stream * 0xd1b54a32d192ed03ULL);
  h = splitmix64(x);
  x = h ^ (index * 0x8cb92ba72f3d8dd7ULL);
  return Rng(splitmix64(x));
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double standard_normal(Rng& rng) {
  const double u1 = 1.0 - rng.uniform();  // (0, 1]
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

double poisson(Rng& rng, double mean) {
  if (!(mean > 0) || !std::isfinite(mean)) return 0;
  if (mean < 10) {
    const double limit = std::exp(-mean);
    double k = 0, prod = rng.uniform();
    while (prod > limit) {
      k += 1;
      prod *= rng.uniform();
    }
    return k;
  }
  // W. Hörmann, "The transformed rejection method for generating Poisson random variables",
  // Insurance: Mathematics and Economics 12 (1993) 39–45.
  const double slam = std::sqrt(mean), loglam = std::log(mean);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const double vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double u = rng.uniform() - 0.5;
    const double v = rng.uniform();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <= -mean + k * loglam - std::lgamma(k + 1)) return k;
  }
}

}  // namespace hs3fit::infer
