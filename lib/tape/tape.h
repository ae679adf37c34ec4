// The flat instruction tape: one op table, one arena of slots, no object graph.
//
// Arena layout: [ parameters | work slots (written by the forward sweep) | constant slots ].
// An instruction reads slots `a`, `b` (offsets into the arena, `n` elements each unless the op
// says "scalar") and writes `n` elements at `out`; `k` points into `consts` (precomputed
// per-op coefficients), `idx` into `indices` (slot lists for gather-style ops).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hs3fit::tape {

// The instruction set. Forward and adjoint kernels: eval/kernels.h, one struct per row.
#define HS3FIT_TAPE_OPS(X)                                                                       \
  X(Add, "out[i] = a[i] + b[i]")                                                                 \
  X(Mul, "out[i] = a[i] * b[i]")                                                                 \
  X(Scale, "out[i] = a[i] * b  (b scalar)")                                                      \
  X(MulGather, "out[i] = a[i] * slot(idx_i)  (idx_i = kNone: factor 1)")                        \
  X(Interp0, "out[i] = a[i] + Δ_code0(θ=b; k)      piecewise linear")                            \
  X(Interp1, "out[i] = a[i] * F_code1(θ=b; k)      piecewise exponential")                       \
  X(Interp2, "out[i] = a[i] + Δ_code2(θ=b; k)      quadratic / linear")                          \
  X(Interp4, "out[i] = a[i] * F_code4(θ=b; k)      poly6 / exponential")                         \
  X(Interp4p, "out[i] = a[i] + Δ_code4p(θ=b; k)    poly6 / linear")                              \
  X(PoissonMain, "out = Σ_i ν_i − n_i ln ν_i + Σ lnΓ(n_i+1)   (ν = a, n = b; constant in k)")    \
  X(GaussConstraint, "out = Σ_j ½((aux_j − θ_j)/σ_j)² + ln σ_j + ½ln2π   (θ_j = idx, k pairs)") \
  X(PoissonConstraint, "out = Σ_j θ_jτ_j − aux_j ln(θ_jτ_j) + lnΓ(aux_j+1)  (θ_j = idx)")        \
  X(Sum, "out = Σ_j slot idx_j   (n = count)")

enum class Op : uint8_t {
#define HS3FIT_OP_ENUM(name, doc) name,
  HS3FIT_TAPE_OPS(HS3FIT_OP_ENUM)
#undef HS3FIT_OP_ENUM
};

const char* op_name(Op op);

inline constexpr uint32_t kNoSlot = 0xffffffffu;

struct Instr {
  Op op;
  uint32_t n = 0;    // element count (bins), or entry count for gather ops
  uint32_t out = 0;  // arena offset written
  uint32_t a = 0;    // arena offset read
  uint32_t b = 0;    // arena offset read (scalar for Scale/Interp*)
  uint32_t k = 0;    // offset into Tape::consts
  uint32_t idx = 0;  // offset into Tape::indices
};

struct ChannelInfo {
  std::string name;
  uint32_t yields = 0;  // arena slot of the expected yields ν (nbins elements)
  uint32_t nbins = 0;
  uint32_t nll = 0;     // arena slot of the channel's main-term NLL
};

struct Tape {
  std::vector<Instr> code;
  std::vector<double> consts;
  std::vector<uint32_t> indices;
  std::vector<double> arena_init;  // initial arena contents (constant slots filled)
  uint32_t num_params = 0;
  uint32_t work_end = 0;           // end of the work region
  uint32_t result = 0;             // slot of the total NLL
  std::vector<ChannelInfo> channels;

  size_t arena_size() const { return arena_init.size(); }
  bool is_constant_slot(uint32_t offset) const { return offset >= work_end; }
  std::string summary() const;  // "N ops, M slots (P params, W work, C const), K coefficients"
};

}  // namespace hs3fit::tape
