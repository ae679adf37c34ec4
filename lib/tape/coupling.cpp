// Hessian sparsity from the tape: which parameters meet in a common nonlinear term.
//
// Within a shard every slot depends on a set of parameters (propagated through the ops); every
// bin of a PoissonMain couples all parameters its yield depends on, and constraint terms couple
// a parameter only with itself. Everything else is linear in the terms (SegmentSum, Sum), so two
// parameters that never meet in one bin have ∂²(−ln L)/∂θ_i∂θ_j = 0 exactly.
#include <algorithm>
#include <unordered_set>

#include "tape/tape.h"

namespace hs3fit::tape {

namespace {

using Set = std::vector<uint32_t>;  // sorted global parameter indices

void merge_into(Set& dst, const Set& src) {
  if (src.empty()) return;
  Set out;
  out.reserve(dst.size() + src.size());
  std::set_union(dst.begin(), dst.end(), src.begin(), src.end(), std::back_inserter(out));
  dst.swap(out);
}

struct SetHash {
  size_t operator()(const Set& s) const {
    size_t h = s.size();
    for (uint32_t v : s) h = h * 1000003u ^ v;
    return h;
  }
};

}  // namespace

std::vector<std::vector<uint32_t>> Tape::parameter_coupling() const {
  const uint32_t np = num_params;
  std::unordered_set<Set, SetHash> cliques;  // distinct bin dependency sets
  std::vector<char> diagonal(np, 0);

  for (const Shard& sh : shards) {
    // Dependency set of every slot the shard writes (constant slots: none).
    std::vector<Set> dep(sh.work_end - sh.work_begin);
    static const Set kEmpty;
    auto deps = [&](uint32_t slot) -> const Set& {
      return (slot >= sh.work_begin && slot < sh.work_end) ? dep[slot - sh.work_begin] : kEmpty;
    };
    for (uint32_t j = 0; j < sh.num_params; ++j) dep[j] = {indices[sh.params + j]};
    for (uint32_t pc = sh.code_begin; pc < sh.code_end; ++pc) {
      const Instr& in = code[pc];
      const uint32_t* I = indices.data() + in.idx;
      switch (in.op) {
        case Op::InterpProduct0:
        case Op::InterpProduct1:
        case Op::InterpProduct2:
        case Op::InterpProduct4:
        case Op::InterpProduct4p:
        case Op::InterpSum0:
        case Op::InterpSum2:
        case Op::InterpSum4p: {
          const uint32_t* theta = I + in.n + 1;
          for (uint32_t s = 0; s < in.n; ++s) {
            Set set = (in.a == kNoSlot || in.op < Op::InterpSum0) ? Set{} : deps(in.a + s);
            for (uint32_t e = I[s]; e < I[s + 1]; ++e) merge_into(set, deps(theta[e]));
            dep[in.out + s - sh.work_begin] = std::move(set);
          }
          break;
        }
        case Op::Product: {
          const uint32_t* list = I + in.n + 1;
          for (uint32_t i = 0; i < in.n; ++i) {
            Set s = in.a == kNoSlot ? Set{} : deps(in.a + i);
            for (uint32_t j = I[i]; j < I[i + 1]; ++j) merge_into(s, deps(list[j]));
            dep[in.out + i - sh.work_begin] = std::move(s);
          }
          break;
        }
        case Op::SegmentSum:
          for (uint32_t i = 0; i < in.n; ++i) {
            Set s = deps(in.a + i);
            for (uint32_t j = I[i]; j < I[i + 1]; ++j) merge_into(s, deps(in.b + j));
            dep[in.out + i - sh.work_begin] = std::move(s);
          }
          break;
        case Op::PoissonMain:
          for (uint32_t i = 0; i < in.n; ++i)
            if (deps(in.a + i).size() > 0) cliques.insert(deps(in.a + i));
          break;
        case Op::GaussConstraint:
        case Op::PoissonConstraint:
          for (uint32_t j = 0; j < in.n; ++j)
            for (uint32_t p : deps(I[j])) diagonal[p] = 1;
          break;
        case Op::Sum:
          break;
      }
    }
  }

  // Row p = union of the cliques containing p (a stamp array avoids sorting duplicates).
  std::vector<std::vector<const Set*>> member(np);
  for (const Set& c : cliques)
    for (uint32_t p : c) member[p].push_back(&c);
  std::vector<std::vector<uint32_t>> rows(np);
  std::vector<uint32_t> stamp(np, 0xffffffffu);
  for (uint32_t p = 0; p < np; ++p) {
    auto& row = rows[p];
    if (diagonal[p]) {
      row.push_back(p);
      stamp[p] = p;
    }
    for (const Set* c : member[p])
      for (uint32_t q : *c)
        if (stamp[q] != p) {
          stamp[q] = p;
          row.push_back(q);
        }
    std::sort(row.begin(), row.end());
  }
  return rows;
}

}  // namespace hs3fit::tape
