#include "hs3/program.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "hs3/graph_simd.h"

namespace hs3fit::hs3 {

namespace {
constexpr uint32_t kNoSlot = UINT32_MAX;
}  // namespace

// ---- Program --------------------------------------------------------------------------------

Program::Program(Graph graph, std::vector<EventSource> sources, std::vector<std::pair<uint32_t, double>> scalar_terms, size_t nparams)
    : graph_(std::move(graph)), sources_(std::move(sources)), scalar_terms_(std::move(scalar_terms)), nparams_(nparams) {
  const size_t N = graph_.size();
  size_t max_slots = 0, max_args = 3;
  scalar_order_.reserve(N);
  for (uint32_t id = 0; id < N; ++id) {
    if (!graph_[id].event) scalar_order_.push_back(id);
    max_args = std::max(max_args, graph_[id].args.size());
  }
  val_.assign(N, 0);
  adj_.assign(N, 0);
  plans_.reserve(sources_.size());
  std::vector<char> seen(N, 0), needs(N, 0);  // per source; cleared again after it (only its nodes were set)
  std::vector<uint32_t> stack;
  for (size_t s = 0; s < sources_.size(); ++s) {
    Plan p;
    p.slot.assign(N, kNoSlot);
    stack.assign(1, sources_[s].root);
    while (!stack.empty()) {
      const uint32_t id = stack.back();
      stack.pop_back();
      if (seen[id] || !graph_[id].event) continue;
      seen[id] = 1;
      p.nodes.push_back(id);
      const GraphNode& n = graph_[id];
      if (n.op == Op::Obs && static_cast<size_t>(n.k0) != s)
        throw Error(ErrorKind::Internal, "", "observable of another data set in an event expression");
      for (uint32_t a : n.args) stack.push_back(a);
    }
    std::sort(p.nodes.begin(), p.nodes.end());
    for (uint32_t id : p.nodes) {
      p.slot[id] = p.nslots++;
      if (graph_[id].op == Op::LogMix && graph_[id].args.size() == 4) p.nslots += 2;  // e0, e1 for the adjoint
    }
    for (uint32_t id : p.nodes)
      for (uint32_t a : graph_[id].args)
        if (!graph_[a].event && p.slot[a] == kNoSlot) {
          p.slot[a] = p.nslots++;
          p.scalars.push_back(a);
        }
    // Adjoint slots that accumulate (+=) and so must start at 0 in every block.
    for (uint32_t id : p.nodes) {
      const GraphNode& n = graph_[id];
      for (size_t k = 0; k < n.args.size(); ++k) {
        const uint32_t a = n.args[k];
        const bool fused_obs = k == 0 && (n.op == Op::GaussLog || n.op == Op::LinLog) && graph_[a].op == Op::Obs;  // null adjoint
        if (!fused_obs) needs[a] = 1;
      }
    }
    for (uint32_t id : p.nodes)
      if (needs[id] && id != sources_[s].root) p.zero.push_back(p.slot[id]);
    for (uint32_t id : p.scalars) p.zero.push_back(p.slot[id]);
    for (uint32_t id : p.nodes) {
      seen[id] = 0;
      needs[id] = 0;
      for (uint32_t a : graph_[id].args) needs[a] = 0;
    }
    max_slots = std::max<size_t>(max_slots, p.nslots);
    if (graph_[sources_[s].root].event) p.mix2 = find_mix2(graph_, p, sources_[s].root);
    plans_.push_back(std::move(p));
  }
  buf_.assign(max_slots * kBlock, 0);
  bufadj_.assign(max_slots * kBlock, 0);
  argv_.assign(max_args, 0);
  argd_.assign(max_args, 0);
}

Program::Plan::Mix2 Program::find_mix2(const Graph& g, const Plan& p, uint32_t root) {
  Plan::Mix2 m;
  const GraphNode& r = g[root];
  if (r.op != Op::LogMix || r.args.size() != 4 || g.is_event(r.args[0]) || g.is_event(r.args[1])) return m;
  std::vector<uint32_t> allowed = {root};
  for (int k = 0; k < 2; ++k) {
    const uint32_t lid = r.args[2 + k];
    const GraphNode& l = g[lid];
    const bool gauss = l.op == Op::GaussLog;
    if (!gauss && l.op != Op::LinLog) return m;
    if (g[l.args[0]].op != Op::Obs) return m;
    for (size_t a = 1; a < l.args.size(); ++a)
      if (g.is_event(l.args[a])) return m;
    m.gauss[k] = gauss ? 1 : 0;
    m.c[k] = r.args[k];
    for (size_t a = 0; a < 3; ++a) m.p[k][a] = a + 1 < l.args.size() ? l.args[a + 1] : UINT32_MAX;
    m.column[k] = static_cast<size_t>(g[l.args[0]].k1);
    allowed.push_back(lid);
    allowed.push_back(l.args[0]);
  }
  for (uint32_t id : p.nodes)
    if (std::find(allowed.begin(), allowed.end(), id) == allowed.end()) return m;
  m.on = true;
  return m;
}

size_t Program::fused_sources() const {
  size_t n = 0;
  for (const Plan& p : plans_) n += p.mix2.on ? 1 : 0;
  return n;
}

size_t Program::events() const {
  size_t n = 0;
  for (const auto& s : sources_) n += s.events();
  return n;
}

void Program::scalar_forward(const double* params) {
  for (uint32_t id : scalar_order_) {
    const GraphNode& n = graph_[id];
    if (n.op == Op::Param) {
      val_[id] = params[static_cast<size_t>(n.k0)];
    } else if (n.op == Op::Const) {
      val_[id] = n.k0;
    } else {
      for (size_t i = 0; i < n.args.size(); ++i) argv_[i] = val_[n.args[i]];
      val_[id] = apply(n, argv_.data());
    }
  }
}

double Program::dot(const double* w, const double* x, size_t n) const {
  if (mode_ != Mode::Scalar) return simd::dot(w, x, n);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += w ? w[i] * x[i] : x[i];
  return s;
}

double Program::source_sum(size_t s, bool gradient) {
  const EventSource& src = sources_[s];
  const Plan& p = plans_[s];
  const size_t nev = src.events();
  const bool weighted = !src.weights.empty();
  if (!graph_[src.root].event) {
    double sw = weighted ? 0 : static_cast<double>(nev);
    if (weighted)
      for (double w : src.weights) sw += w;
    if (gradient) adj_[src.root] += src.coefficient * sw;
    return src.coefficient * sw * val_[src.root];
  }
  if (p.mix2.on && mode_ == Mode::Fast) {
    const Plan::Mix2& f = p.mix2;
    simd::Mix2 m;
    for (int k = 0; k < 2; ++k) {
      m.kind[k] = f.gauss[k] ? simd::Comp::Gauss : simd::Comp::Lin;
      m.c[k] = val_[f.c[k]];
      for (int a = 0; a < 3; ++a) m.p[k][a] = f.p[k][a] == UINT32_MAX ? 0.0 : val_[f.p[k][a]];
    }
    double g8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const double total = simd::mix2(m, src.columns[f.column[0]].data(), src.columns[f.column[1]].data(),
                                    weighted ? src.weights.data() : nullptr, nev, gradient ? g8 : nullptr);
    if (gradient) {
      for (int k = 0; k < 2; ++k) {
        adj_[f.c[k]] += src.coefficient * g8[k];
        for (int a = 0; a < 3; ++a)
          if (f.p[k][a] != UINT32_MAX) adj_[f.p[k][a]] += src.coefficient * g8[2 + 3 * k + a];
      }
    }
    return src.coefficient * total;
  }
  // Scalars used per event are broadcast into their slots (the first block's length suffices:
  // later blocks are never longer).
  for (uint32_t id : p.scalars) std::fill_n(&buf_[p.slot[id] * kBlock], std::min(kBlock, nev), val_[id]);
  // Value of slot k in this block: the slot's buffer, or the data column itself (observables).
  ptr_.resize(p.nslots);
  for (uint32_t k = 0; k < p.nslots; ++k) ptr_[k] = &buf_[k * kBlock];
  double total = 0;
  for (size_t start = 0; start < nev; start += kBlock) {
    const size_t cnt = std::min(kBlock, nev - start);
    for (uint32_t id : p.nodes) {
      const GraphNode& n = graph_[id];
      const uint32_t slot = p.slot[id];
      if (n.op == Op::Obs) {
        ptr_[slot] = &src.columns[static_cast<size_t>(n.k1)][start];
        continue;
      }
      double* out = &buf_[slot * kBlock];
      auto arg = [&](size_t k) { return ptr_[p.slot[n.args[k]]]; };
      switch (mode_ == Mode::Scalar ? Op::Sum : n.op) {  // Scalar: always the op table (Sum has no kernel)
        case Op::Add: simd::binary(simd::Binary::Add, arg(0), arg(1), out, cnt); break;
        case Op::Sub: simd::binary(simd::Binary::Sub, arg(0), arg(1), out, cnt); break;
        case Op::Mul: simd::binary(simd::Binary::Mul, arg(0), arg(1), out, cnt); break;
        case Op::Div: simd::binary(simd::Binary::Div, arg(0), arg(1), out, cnt); break;
        case Op::Neg: { const double* a = arg(0); for (size_t i = 0; i < cnt; ++i) out[i] = -a[i]; break; }
        case Op::Exp: simd::exp(arg(0), out, cnt); break;
        case Op::Log: simd::log(arg(0), out, cnt); break;
        case Op::GaussLog: simd::gauss_log(arg(0), arg(1), arg(2), arg(3), out, cnt); break;
        case Op::LinLog: simd::lin_log(arg(0), arg(1), arg(2), out, cnt); break;
        case Op::LogMix:
          if (n.args.size() == 4) {
            simd::logmix2(arg(0), arg(1), arg(2), arg(3), out, gradient ? out + kBlock : nullptr, out + 2 * kBlock, cnt);
            break;
          }
          [[fallthrough]];
        default:
          for (size_t i = 0; i < cnt; ++i) {
            for (size_t k = 0; k < n.args.size(); ++k) argv_[k] = arg(k)[i];
            out[i] = apply(n, argv_.data());
          }
      }
    }
    const double* r = ptr_[p.slot[src.root]];
    total += dot(weighted ? &src.weights[start] : nullptr, r, cnt);
    if (!gradient) continue;
    for (uint32_t z : p.zero) std::fill_n(&bufadj_[z * kBlock], cnt, 0.0);
    double* rootadj = &bufadj_[p.slot[src.root] * kBlock];
    for (size_t i = 0; i < cnt; ++i) rootadj[i] = src.coefficient * (weighted ? src.weights[start + i] : 1.0);
    for (auto it = p.nodes.rbegin(); it != p.nodes.rend(); ++it) {
      const uint32_t id = *it;
      const GraphNode& n = graph_[id];
      if (n.op == Op::Obs) continue;
      const double* g = &bufadj_[p.slot[id] * kBlock];
      const double* v = ptr_[p.slot[id]];
      auto val = [&](size_t k) { return ptr_[p.slot[n.args[k]]]; };
      auto adj = [&](size_t k) { return &bufadj_[p.slot[n.args[k]] * kBlock]; };
      switch (mode_ == Mode::Scalar ? Op::Sum : n.op) {
        case Op::Add: { double *ga = adj(0), *gb = adj(1); for (size_t i = 0; i < cnt; ++i) { ga[i] += g[i]; gb[i] += g[i]; } break; }
        case Op::Sub: { double *ga = adj(0), *gb = adj(1); for (size_t i = 0; i < cnt; ++i) { ga[i] += g[i]; gb[i] -= g[i]; } break; }
        case Op::Mul: simd::mul_adjoint(val(0), val(1), g, adj(0), adj(1), cnt); break;
        case Op::Div: simd::div_adjoint(val(1), v, g, adj(0), adj(1), cnt); break;
        case Op::Neg: { double* ga = adj(0); for (size_t i = 0; i < cnt; ++i) ga[i] -= g[i]; break; }
        // A zero adjoint (e.g. the unselected branch of a Select) contributes nothing, even where
        // that branch is NaN or infinite.
        case Op::Exp: { double* ga = adj(0); for (size_t i = 0; i < cnt; ++i) ga[i] += g[i] == 0 ? 0 : g[i] * v[i]; break; }
        case Op::Log: { const double* a = val(0); double* ga = adj(0); for (size_t i = 0; i < cnt; ++i) ga[i] += g[i] == 0 ? 0 : g[i] / a[i]; break; }
        // Observables need no adjoint (null: skipped).
        case Op::GaussLog:
          simd::gauss_log_adjoint(val(0), val(1), val(2), g, graph_[n.args[0]].op == Op::Obs ? nullptr : adj(0), adj(1), adj(2), adj(3), cnt);
          break;
        case Op::LinLog:
          simd::lin_log_adjoint(val(0), val(1), g, graph_[n.args[0]].op == Op::Obs ? nullptr : adj(0), adj(1), adj(2), cnt);
          break;
        case Op::LogMix:
          if (n.args.size() == 4) {
            simd::logmix2_adjoint(val(0), val(1), v + kBlock, v + 2 * kBlock, g, adj(0), adj(1), adj(2), adj(3), cnt);
            break;
          }
          [[fallthrough]];
        default:
          for (size_t i = 0; i < cnt; ++i) {
            if (g[i] == 0) continue;
            for (size_t k = 0; k < n.args.size(); ++k) argv_[k] = val(k)[i];
            partials(n, argv_.data(), v[i], argd_.data());
            for (size_t k = 0; k < n.args.size(); ++k) adj(k)[i] += g[i] * argd_[k];
          }
      }
    }
    for (uint32_t id : p.scalars) adj_[id] += dot(nullptr, &bufadj_[p.slot[id] * kBlock], cnt);
  }
  return src.coefficient * total;
}

double Program::value(const double* params) {
  scalar_forward(params);
  double f = 0;
  for (size_t s = 0; s < sources_.size(); ++s) f += source_sum(s, false);
  for (const auto& [id, c] : scalar_terms_) f += c * val_[id];
  return f;
}

double Program::value_and_gradient(const double* params, double* gradient) {
  scalar_forward(params);
  std::fill(adj_.begin(), adj_.end(), 0.0);
  double f = 0;
  for (size_t s = 0; s < sources_.size(); ++s) f += source_sum(s, true);
  for (const auto& [id, c] : scalar_terms_) {
    f += c * val_[id];
    adj_[id] += c;
  }
  std::fill_n(gradient, nparams_, 0.0);
  for (auto it = scalar_order_.rbegin(); it != scalar_order_.rend(); ++it) {
    const uint32_t id = *it;
    const double g = adj_[id];
    if (g == 0) continue;
    const GraphNode& n = graph_[id];
    if (n.op == Op::Param) {
      gradient[static_cast<size_t>(n.k0)] += g;
      continue;
    }
    if (n.args.empty()) continue;
    for (size_t k = 0; k < n.args.size(); ++k) argv_[k] = val_[n.args[k]];
    partials(n, argv_.data(), val_[id], argd_.data());
    for (size_t k = 0; k < n.args.size(); ++k) adj_[n.args[k]] += g * argd_[k];
  }
  return f;
}

}  // namespace hs3fit::hs3
