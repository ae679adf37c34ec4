// The kernel table: forward and adjoint kernel of every tape op (one row of HS3FIT_TAPE_OPS
// each), compiled once per SIMD target with Highway (eval/kernels.cpp) and chosen at run time.
// Kernels never allocate and never throw.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tape/tape.h"

namespace hs3fit::eval {

// What a kernel works on: `x` the arena (values), `g` the adjoint arena, `K` the tape's
// coefficients, `I` its index table, `scratch` ≥ kScratch(tape) doubles of the calling
// thread. Adjoint kernels accumulate g[in] += g[out]·∂out/∂in and skip constant slots.
struct Ctx {
  double* x;
  double* g;
  const double* K;
  const uint32_t* I;
  double* scratch;
  uint32_t work_end;
  bool derivatives;  // forward sweep of a gradient evaluation: store ∂out/∂θ where ops keep them
  bool varies(uint32_t slot) const { return slot < work_end; }
};

// Scratch doubles a thread needs: a block of interpolation entries, or two per element of the
// longest product segment.
inline size_t scratch_size(const tape::Tape& tape) { return std::max<size_t>(256, 2 * size_t(tape.max_segment)); }

using KernelFn = void (*)(const tape::Instr&, const Ctx&);

struct KernelTable {
  KernelFn forward[tape::kNumOps];
  KernelFn adjoint[tape::kNumOps];
  const char* target;  // Highway's name: "AVX3", "AVX2", "SSE4", "SSSE3", "Scalar" (EMU128)
};

// The kernels for a SIMD target by name (case-insensitive, e.g. "avx2", "scalar" for the
// portable one-lane fallback); "" picks the best target this CPU supports. Throws
// Error(Usage) for a target that was not compiled in or that the CPU cannot run.
const KernelTable& kernel_table(const std::string& target = "");

// Targets compiled into this binary that this CPU supports, best first.
std::vector<std::string> simd_targets();

}  // namespace hs3fit::eval
