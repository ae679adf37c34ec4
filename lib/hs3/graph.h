// The HS3 evaluation graph: every distribution, function and expression of an HS3 likelihood
// lowered to scalar operations on parameters and per-event observables, built once (hash-consed,
// constant-folded) and evaluated vector-at-a-time over blocks of events with a reverse sweep for
// the exact gradient. This is the scalar reference engine of the general HS3 front end
// (hs3_unbinned.h); the op table below is one row per operation (forward value and partials in
// graph.cpp side by side).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace hs3fit::hs3 {

// X(name, arity) — arity −1 = variadic.
#define HS3FIT_GRAPH_OPS(X)                                                                            \
  X(Const, 0) X(Param, 0) X(Obs, 0)                                                                    \
  X(Add, 2) X(Sub, 2) X(Mul, 2) X(Div, 2) X(Neg, 1) X(Pow, 2)                                          \
  X(Exp, 1) X(Log, 1) X(Sqrt, 1) X(Abs, 1) X(Sin, 1) X(Cos, 1) X(Tan, 1) X(Asin, 1) X(Acos, 1)         \
  X(Atan, 1) X(Atan2, 2) X(Sinh, 1) X(Cosh, 1) X(Tanh, 1) X(Erf, 1) X(Erfc, 1) X(LGamma, 1)           \
  X(Floor, 1) X(Ceil, 1) X(Min, 2) X(Max, 2)                                                           \
  X(Lt, 2) X(Le, 2) X(Gt, 2) X(Ge, 2) X(Eq, 2) X(Ne, 2) X(EqExact, 2) X(NeExact, 2)                    \
  X(And, 2) X(Or, 2) X(Not, 1) X(Select, 3)                                                            \
  /* erf(b) − erf(a), computed without cancellation in the tails */                                    \
  X(ErfDiff, 2)                                                                                        \
  /* ln ∫_{k0}^{k1} e^{−c x} dx for c = arg (stable at c → 0) */                                       \
  X(LogExpNorm, 1)                                                                                     \
  /* ln Σ_{k=ceil(k0)}^{floor(k1)} Pois(k | λ) */                                                      \
  X(LogPoisNorm, 1)                                                                                    \
  /* Poisson log-mass x ln λ − λ − lnΓ(x+1) with the x = 0 guard: args (x, λ) */                       \
  X(PoisLog, 2)                                                                                        \
  /* ln Σ_i c_i e^{l_i}: args (c_1..c_n, l_1..l_n) */                                                 \
  X(LogMix, -1)                                                                                        \
  /* fused per-event log-densities: Gaussian −k − ((x − μ)·s)², args (x, μ, s, k); linear x·a − b */    \
  X(GaussLog, 4) X(LinLog, 3)                                                                          \
  /* the standard Landau density φ(λ) and distribution function Φ(λ) (CERNLIB DENLAN/DISLAN) */          \
  X(LandauPdf, 1) X(LandauCdf, 1)                                                                      \
  /* the regularized lower incomplete gamma function P(a, x): args (a, x) */                            \
  X(GammaP, 2)                                                                                         \
  X(Sum, -1)

enum class Op : uint8_t {
#define HS3FIT_X(name, arity) name,
  HS3FIT_GRAPH_OPS(HS3FIT_X)
#undef HS3FIT_X
};
const char* to_string(Op op);

// A node's argument ids: up to kInline in place (every fixed-arity op), more (Sum, LogMix) on
// the heap, so that building a graph allocates nothing per node.
class NodeArgs {
 public:
  static constexpr size_t kInline = 4;
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const uint32_t* data() const { return size_ <= kInline ? small_ : big_.data(); }
  const uint32_t* begin() const { return data(); }
  const uint32_t* end() const { return data() + size_; }
  uint32_t operator[](size_t i) const { return data()[i]; }
  void assign(const uint32_t* first, const uint32_t* last) {
    size_ = static_cast<size_t>(last - first);
    if (size_ <= kInline) {
      std::copy(first, last, small_);
      big_.clear();
    } else {
      big_.assign(first, last);
    }
  }

 private:
  size_t size_ = 0;
  uint32_t small_[kInline] = {0, 0, 0, 0};
  std::vector<uint32_t> big_;
};

struct GraphNode {
  Op op = Op::Const;
  bool event = false;           // depends on a per-event observable
  double k0 = 0, k1 = 0;        // Const value / Param index / Obs slot / op constants
  NodeArgs args;
};

class Graph {
 public:
  uint32_t constant(double v);
  uint32_t param(uint32_t index);
  uint32_t obs(uint32_t source, uint32_t axis);  // axis `axis` of event source `source`
  // A node is looked up (hash-consed) before anything is allocated for it.
  uint32_t add(Op op, const uint32_t* args, size_t nargs, double k0 = 0, double k1 = 0);
  uint32_t add(Op op, const std::vector<uint32_t>& args, double k0 = 0, double k1 = 0) { return add(op, args.data(), args.size(), k0, k1); }
  uint32_t add(Op op, std::initializer_list<uint32_t> args, double k0 = 0, double k1 = 0) { return add(op, args.begin(), args.size(), k0, k1); }
  // Conveniences.
  uint32_t add2(Op op, uint32_t a, uint32_t b) {
    const uint32_t args[2] = {a, b};
    return add(op, args, 2);
  }
  uint32_t add1(Op op, uint32_t a) { return add(op, &a, 1); }

  const GraphNode& operator[](uint32_t id) const { return nodes_[id]; }
  size_t size() const { return nodes_.size(); }
  bool is_const(uint32_t id) const { return nodes_[id].op == Op::Const; }
  double const_value(uint32_t id) const { return nodes_[id].k0; }
  bool is_event(uint32_t id) const { return nodes_[id].event; }

 private:
  // The node (op, k0, k1, args) — constants compared bit for bit — or a new one.
  uint32_t intern(Op op, bool event, double k0, double k1, const uint32_t* args, size_t nargs);
  std::vector<GraphNode> nodes_;
  // Open-addressing hash set of node ids (UINT32_MAX: empty), a power of two in size, at most
  // half full; hashes_[id] is node id's hash.
  std::vector<uint32_t> table_;
  std::vector<uint64_t> hashes_;
};

// Scalar forward value of `op` on argument values.
double apply(const GraphNode& n, const double* a);
// Partial derivatives ∂value/∂arg_i written to d[i] (value = the node's value).
void partials(const GraphNode& n, const double* a, double value, double* d);

}  // namespace hs3fit::hs3
