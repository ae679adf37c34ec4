// The per-event evaluator of an HS3 graph (graph.h): F(θ) = Σ_s Σ_j w_sj · root_s(θ, x_sj)
// + Σ_t scalar_t(θ) and its exact gradient, evaluated block by block (SIMD kernels of
// graph_simd.h for the hot operations, the scalar op table for the rest) with a reverse sweep.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "hs3/graph.h"

namespace hs3fit::hs3 {

// Evaluation of  F(θ) = Σ_s Σ_j w_sj · root_s(θ, x_sj) + Σ_t scalar_t(θ)  and its gradient.
// Each event source s has columns (one per axis), weights and a root node.
struct EventSource {
  std::vector<std::vector<double>> columns;  // [axis][event]
  std::vector<double> weights;               // empty = all 1
  uint32_t root = 0;                         // per-event node (or scalar: then multiplied by Σw)
  double coefficient = 1.0;                  // F gets coefficient · Σ_j w_j root_j
  size_t events() const { return columns.empty() ? weights.size() : columns[0].size(); }
};

class Program {
 public:
  Program() = default;
  Program(Graph graph, std::vector<EventSource> sources, std::vector<std::pair<uint32_t, double>> scalar_terms, size_t nparams);
  // How events are evaluated: Fast (fused kernels where the graph allows, SIMD blocks
  // otherwise), Blocks (SIMD block kernels only), Scalar (the scalar op table, apply/partials,
  // event by event: the reference the others are tested against).
  enum class Mode { Fast, Blocks, Scalar };
  void set_mode(Mode m) { mode_ = m; }
  // Event sources evaluated by the fused mixture kernel (in Mode::Fast).
  size_t fused_sources() const;
  double value(const double* params);
  double value_and_gradient(const double* params, double* gradient);
  const Graph& graph() const { return graph_; }
  const std::vector<EventSource>& sources() const { return sources_; }
  size_t events() const;

 private:
  static constexpr size_t kBlock = 256;
  struct Plan {
    std::vector<uint32_t> nodes;     // event nodes in order
    std::vector<uint32_t> slot;      // per graph node: buffer slot (or UINT32_MAX)
    std::vector<uint32_t> scalars;   // scalar nodes used by event nodes (broadcast slots)
    std::vector<uint32_t> zero;      // adjoint slots to clear per block (not the root, the LogMix
                                     // e0/e1 buffers, or observables only fused ops read)
    uint32_t nslots = 0;
    // The fused two-component mixture (graph_simd.h mix2): the source is exactly
    // LogMix(c0, c1, l0, l1) of GaussLog/LinLog over observables with scalar parameters.
    struct Mix2 {
      bool on = false;
      uint8_t gauss[2] = {0, 0};                          // 1: GaussLog (μ, s, κ), 0: LinLog (a, b)
      uint32_t c[2] = {0, 0};                             // coefficient nodes
      uint32_t p[2][3] = {{0, 0, 0}, {0, 0, 0}};          // parameter nodes (UINT32_MAX: none)
      size_t column[2] = {0, 0};                          // observable columns
    } mix2;
  };
  static Plan::Mix2 find_mix2(const Graph& g, const Plan& p, uint32_t root);
  void scalar_forward(const double* params);
  double source_sum(size_t s, bool gradient);
  double dot(const double* w, const double* x, size_t n) const;  // Σ w·x (w null: Σ x)
  Graph graph_;
  std::vector<EventSource> sources_;
  std::vector<std::pair<uint32_t, double>> scalar_terms_;
  size_t nparams_ = 0;
  Mode mode_ = Mode::Fast;
  std::vector<Plan> plans_;
  std::vector<uint32_t> scalar_order_;
  std::vector<double> val_, adj_;       // per graph node (scalar nodes)
  std::vector<double> buf_, bufadj_;    // [slot][kBlock]
  std::vector<double> argv_, argd_;
  std::vector<const double*> ptr_;      // per slot: this block's values
};

}  // namespace hs3fit::hs3
