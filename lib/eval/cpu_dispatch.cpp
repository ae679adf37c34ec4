// The three run-time symbols Highway's dynamic dispatch needs (HWY_EXPORT / HWY_DYNAMIC_DISPATCH
// in eval/kernels.cpp and hs3/graph_simd.cpp): which targets this CPU supports, the chosen-target
// state, and the test override. They normally come from libhwy.so, whose load-time initializer
// measures its benchmark timer's resolution — about 5 ms of busy-waiting in every process, half
// of a small fit's whole run. Highway's kernels themselves are header-only; so hs3fit detects
// the CPU here, with the same requirements as the compiler flags of each Highway target
// (HWY_TARGET_STR in hwy/ops/set_macros-inl.h), and does not link libhwy at all.
#include <hwy/targets.h>

#include <atomic>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace hwy {

namespace {

std::atomic<int64_t> g_targets_for_test{0};

#if defined(__x86_64__) || defined(__i386__)
bool cpuid_bit(unsigned leaf, unsigned subleaf, int reg, int bit) {
  unsigned r[4] = {0, 0, 0, 0};
  if (!__get_cpuid_count(leaf, subleaf, &r[0], &r[1], &r[2], &r[3])) return false;
  return (r[reg] >> bit) & 1u;
}
#endif

// Targets this CPU (and its operating system: AVX and AVX-512 register state, which
// __builtin_cpu_supports checks through XGETBV) can run, as HWY_* bits.
int64_t detect() {
  int64_t bits = HWY_EMU128 | HWY_SCALAR;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool ssse3 = __builtin_cpu_supports("sse2") && __builtin_cpu_supports("ssse3");
  const bool sse4 = ssse3 && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
                    __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("aes");
  const bool f16c = cpuid_bit(1, 0, 2, 29);                    // CPUID.1:ECX.F16C[bit 29]
  const bool lzcnt = cpuid_bit(0x80000001u, 0, 2, 5);          // CPUID.80000001H:ECX.LZCNT[bit 5]
  const bool avx2 = sse4 && __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
                    __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma") && f16c && lzcnt;
  const bool avx3 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  if (ssse3) bits |= HWY_SSSE3;
  if (sse4) bits |= HWY_SSE4;
  if (avx2) bits |= HWY_AVX2;
  if (avx3) bits |= HWY_AVX3;
#endif
  return bits;
}

}  // namespace

ChosenTarget& GetChosenTarget() {
  static ChosenTarget chosen;
  return chosen;
}

int64_t SupportedTargets() {
  int64_t targets = g_targets_for_test.load();
  if (targets == 0) {
    static const int64_t detected = detect();
    targets = detected;
  }
  return targets;
}

void SetSupportedTargetsForTest(int64_t targets) {
  g_targets_for_test.store(targets);
  GetChosenTarget().DeInit();  // the next dispatch re-reads SupportedTargets()
}

}  // namespace hwy
