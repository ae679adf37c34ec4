// The flat instruction tape: one op table, one arena of slots, no object graph.
//
// Arena layout: [ parameters | shard 0 work | shard 1 work | ... | result | constant slots ].
// An instruction reads slots `a`, `b` (offsets into the arena) and writes `n` elements at `out`
// (or one value for the reductions); `k` points into `consts` (precomputed per-op
// coefficients, structure-of-arrays: coefficient c of element e is consts[k + c·n + e]), `idx`
// into `indices` (slot lists and segment offsets for the gather-style ops).
//
// Ops are batched over the whole shard (every normsys of every sample in one InterpProduct4, every
// bin in one PoissonMain), so a tape has a handful of long, vectorisable loops instead of one
// op per modifier. A shard is a block of channels (or the constraint terms) that reads its own
// copies of the parameters it needs and writes only its own work region: shards are
// independent, can run on different threads, and their −ln L terms and gradients are summed in
// shard order, so results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hs3fit::tape {

// The instruction set. Forward and adjoint kernels: eval/kernels.cpp, one struct per row.
// Interpolation ops work on m entries grouped in n segments (idx: n+1 offsets, then the θ slot
// of each entry; K: coefficient c of entry e at K[k + c·m + e]; b: m slots the forward sweep
// fills, for gradients, with the entries' derivative data: F'/F, or Δ'):
//   InterpProduct: out[s] = Π_{e∈seg s} F_e(θ_e)   F = (hi/nom)^θ-like factor (multiplicative codes)
//                                                     or 1 + Δ(θ) (additive codes); normsys per sample
//   InterpSum:     out[s] = a[s] + Σ_{e∈seg s} Δ_e(θ_e)   histosys deltas per sample·bin
#define HS3FIT_TAPE_OPS(X)                                                                                      \
  X(InterpProduct0, "out[s] = Π (1 + Δ_code0(θ_e))    piecewise linear")                                     \
  X(InterpProduct1, "out[s] = Π F_code1(θ_e)          piecewise exponential")                                \
  X(InterpProduct2, "out[s] = Π (1 + Δ_code2(θ_e))    quadratic inside |θ|≤1, linear outside")               \
  X(InterpProduct4, "out[s] = Π F_code4(θ_e)          poly6 inside |θ|<1, exponential outside")              \
  X(InterpProduct4p, "out[s] = Π (1 + Δ_code4p(θ_e))  poly6 inside |θ|<1, linear outside")                   \
  X(InterpSum0, "out[s] = a[s] + Σ Δ_code0(θ_e)")                                                              \
  X(InterpSum2, "out[s] = a[s] + Σ Δ_code2(θ_e)")                                                              \
  X(InterpSum4p, "out[s] = a[s] + Σ Δ_code4p(θ_e)")                                                            \
  X(Product, "out[i] = a[i] · Π_{j∈seg i} slot(list_j)   (a = kNoSlot: 1; idx: n+1 offsets, then list)")      \
  X(SegmentSum, "out[i] = a[i] + Σ_{j∈seg i} b[j]        (segments of b consecutive; idx: n+1 offsets)")      \
  X(PoissonMain, "out = Σ_i ν_i − n_i ln ν_i + lnΓ(n_i+1)  as n(q−ln(1+q)), q = ν/n−1; constants in K[k]")   \
  X(GaussConstraint, "out = Σ_j ½((aux_j − θ_j)/σ_j)² + Σ ln σ_j + ½ln2π   (θ_j = idx; K: aux, 1/σ, const)") \
  X(PoissonConstraint, "out = Σ_j θ_jτ_j − aux_j ln(θ_jτ_j) + lnΓ(aux_j+1)   (θ_j = idx; K: aux, τ/aux, τ, const)") \
  X(Sum, "out = Σ_j slot idx_j   (n = count)")

enum class Op : uint8_t {
#define HS3FIT_OP_ENUM(name, doc) name,
  HS3FIT_TAPE_OPS(HS3FIT_OP_ENUM)
#undef HS3FIT_OP_ENUM
};

#define HS3FIT_OP_COUNT(name, doc) +1
inline constexpr int kNumOps = 0 HS3FIT_TAPE_OPS(HS3FIT_OP_COUNT);
#undef HS3FIT_OP_COUNT

const char* op_name(Op op);

inline constexpr uint32_t kNoSlot = 0xffffffffu;

struct Instr {
  Op op;
  uint32_t n = 0;    // element count (entries, bins, segments)
  uint32_t out = 0;  // arena offset written
  uint32_t a = 0;    // arena offset read
  uint32_t b = 0;    // arena offset read (or written: interpolation entries)
  uint32_t k = 0;    // offset into Tape::consts
  uint32_t idx = 0;  // offset into Tape::indices
};

struct ChannelInfo {
  std::string name;
  uint32_t yields = 0;  // arena slot of the expected yields ν (nbins elements)
  uint32_t nbins = 0;
  uint32_t shard = 0;   // shard that computes the channel
};

// A block of channels (or the constraint terms) evaluated as one unit. Its local parameter
// slots (work_begin ... work_begin + num_params) are filled from the parameter vector before
// its instructions run; their adjoints are added to the gradient after its reverse sweep.
struct Shard {
  uint32_t code_begin = 0, code_end = 0;  // instructions [begin, end)
  uint32_t work_begin = 0, work_end = 0;  // arena region written by the shard
  uint32_t adjoint_end = 0;               // [work_begin, adjoint_end): slots with adjoints (the rest
                                          // holds interpolation entries' derivative data)
  uint32_t params = 0;                    // offset into indices: global parameter of each local slot
  uint32_t num_params = 0;                // local parameter slots
  uint32_t result = 0;                    // slot of the shard's −ln L term
  uint64_t cost = 0;                      // estimated work (bin·sample·modifier units)
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
  std::vector<Shard> shards;
  uint32_t max_segment = 0;        // longest product segment (evaluator scratch)
  // What the compiler removed or merged (tape::summary and `hs3fit bench` report it).
  struct Folding {
    size_t pruned_modifiers = 0;   // normsys/histosys entries that are identically 1 or 0
    size_t shared_entries = 0;     // normsys entries of identical per-sample sets computed once (CSE)
    size_t shared_products = 0;    // identical per-sample factor lists computed once
    size_t constant_yields = 0;    // sample·bin yields folded into constants
  } folding;

  size_t arena_size() const { return arena_init.size(); }
  bool is_constant_slot(uint32_t offset) const { return offset >= work_end; }
  size_t bytes() const;            // memory of code, coefficients, indices and arena
  std::string summary() const;     // "N ops, M slots (P params, W work, C const), K coefficients, S shards"

  // Parameters that share a term of −ln L (a bin, or a constraint): the sparsity pattern of
  // the Hessian. Row i lists, sorted, every j with ∂²(−ln L)/∂θ_i∂θ_j possibly ≠ 0 (i itself
  // included). Computed on demand from the instructions.
  std::vector<std::vector<uint32_t>> parameter_coupling() const;
};

}  // namespace hs3fit::tape
