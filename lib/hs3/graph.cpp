#include "hs3/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "hs3/graph_simd.h"

namespace hs3fit::hs3 {

namespace {
constexpr double kTwoOverSqrtPi = 1.1283791670955126;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr uint32_t kNoSlot = UINT32_MAX;

int op_arity(Op op) {
  switch (op) {
#define HS3FIT_X(name, arity) \
  case Op::name:              \
    return arity;
    HS3FIT_GRAPH_OPS(HS3FIT_X)
#undef HS3FIT_X
  }
  return 0;
}

double digamma(double x) {
  if (!(x > -1e6) || !(x < 1e300)) return kNaN;
  double r = 0;
  while (x < 6) {
    r -= 1 / x;
    x += 1;
  }
  const double f = 1 / (x * x);
  return r + std::log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

bool approx_equal(double a, double b) {
  return std::fabs(a - b) <= 4 * std::numeric_limits<double>::epsilon() * std::max(std::fabs(a), std::fabs(b));
}

double erf_diff(double a, double b) {
  if (a >= 0 && b >= 0) return std::erfc(a) - std::erfc(b);
  if (a <= 0 && b <= 0) return std::erfc(-b) - std::erfc(-a);
  return std::erf(b) - std::erf(a);
}

double log_exp_norm(double c, double lo, double hi) {
  const double L = hi - lo;
  if (std::fabs(c * L) < 1e-9) return std::log(L) - c * lo - 0.5 * c * L;
  if (c > 0) return -c * lo + std::log(-std::expm1(-c * L)) - std::log(c);
  return -c * hi + std::log(-std::expm1(c * L)) - std::log(-c);
}

// d/dc ln ∫ e^{−cx} = −E[x].
double log_exp_norm_d(double c, double lo, double hi) {
  const double L = hi - lo;
  double m;
  if (std::fabs(c * L) < 1e-5) m = L / 2 - c * L * L / 12;
  else m = 1 / c - L / std::expm1(c * L);
  return -(lo + m);
}

double pois_log(double x, double lam) {
  if (x == 0) return -lam;
  return x * std::log(lam) - lam - std::lgamma(x + 1);
}

void pois_norm(double lam, double lo, double hi, double* value, double* deriv) {
  // Terms beyond λ ± (60√λ + 100) are below 1e-300 of the sum: skip them (bounded work).
  const double spread = 60 * std::sqrt(std::max(lam, 0.0)) + 100;
  const double k0 = std::ceil(std::max({lo, 0.0, lam - spread})), k1 = std::floor(std::min(hi, lam + spread));
  double s = 0, ds = 0;
  for (double k = k0; k <= k1; k += 1) {
    const double p = std::exp(pois_log(k, lam));
    s += p;
    ds += p * (k / lam - 1);
  }
  *value = std::log(s);
  if (deriv) *deriv = ds / s;
}

double log_mix(const double* a, size_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) m = std::max(m, a[n + i]);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * std::exp(a[n + i] - m);
  return m + std::log(s);
}
}  // namespace

const char* to_string(Op op) {
  switch (op) {
#define HS3FIT_X(name, arity) \
  case Op::name:              \
    return #name;
    HS3FIT_GRAPH_OPS(HS3FIT_X)
#undef HS3FIT_X
  }
  return "?";
}

double apply(const GraphNode& n, const double* a) {
  switch (n.op) {
    case Op::Const: return n.k0;
    case Op::Param:
    case Op::Obs: return kNaN;  // supplied by the evaluator
    case Op::Add: return a[0] + a[1];
    case Op::Sub: return a[0] - a[1];
    case Op::Mul: return a[0] * a[1];
    case Op::Div: return a[0] / a[1];
    case Op::Neg: return -a[0];
    case Op::Pow: return std::pow(a[0], a[1]);
    case Op::Exp: return std::exp(a[0]);
    case Op::Log: return std::log(a[0]);
    case Op::Sqrt: return std::sqrt(a[0]);
    case Op::Abs: return std::fabs(a[0]);
    case Op::Sin: return std::sin(a[0]);
    case Op::Cos: return std::cos(a[0]);
    case Op::Tan: return std::tan(a[0]);
    case Op::Asin: return std::asin(a[0]);
    case Op::Acos: return std::acos(a[0]);
    case Op::Atan: return std::atan(a[0]);
    case Op::Atan2: return std::atan2(a[0], a[1]);
    case Op::Sinh: return std::sinh(a[0]);
    case Op::Cosh: return std::cosh(a[0]);
    case Op::Tanh: return std::tanh(a[0]);
    case Op::Erf: return std::erf(a[0]);
    case Op::Erfc: return std::erfc(a[0]);
    case Op::LGamma: return std::lgamma(a[0]);
    case Op::Floor: return std::floor(a[0]);
    case Op::Ceil: return std::ceil(a[0]);
    case Op::Min: return std::min(a[0], a[1]);
    case Op::Max: return std::max(a[0], a[1]);
    case Op::Lt: return a[0] < a[1];
    case Op::Le: return a[0] <= a[1];
    case Op::Gt: return a[0] > a[1];
    case Op::Ge: return a[0] >= a[1];
    case Op::Eq: return approx_equal(a[0], a[1]);
    case Op::Ne: return !approx_equal(a[0], a[1]);
    case Op::EqExact: return a[0] == a[1];
    case Op::NeExact: return a[0] != a[1];
    case Op::And: return a[0] != 0 && a[1] != 0;
    case Op::Or: return a[0] != 0 || a[1] != 0;
    case Op::Not: return a[0] == 0;
    case Op::Select: return a[0] != 0 ? a[1] : a[2];
    case Op::ErfDiff: return erf_diff(a[0], a[1]);
    case Op::LogExpNorm: return log_exp_norm(a[0], n.k0, n.k1);
    case Op::LogPoisNorm: {
      double v;
      pois_norm(a[0], n.k0, n.k1, &v, nullptr);
      return v;
    }
    case Op::PoisLog: return pois_log(a[0], a[1]);
    case Op::LogMix: return log_mix(a, n.args.size() / 2);
    case Op::GaussLog: {
      const double w = (a[0] - a[1]) * a[2];
      return -a[3] - w * w;
    }
    case Op::LinLog: return a[0] * a[1] - a[2];
    case Op::Sum: {
      double s = 0;
      for (size_t i = 0; i < n.args.size(); ++i) s += a[i];
      return s;
    }
  }
  return kNaN;
}

void partials(const GraphNode& n, const double* a, double v, double* d) {
  switch (n.op) {
    case Op::Const:
    case Op::Param:
    case Op::Obs: return;
    case Op::Add: d[0] = 1; d[1] = 1; return;
    case Op::Sub: d[0] = 1; d[1] = -1; return;
    case Op::Mul: d[0] = a[1]; d[1] = a[0]; return;
    case Op::Div: d[0] = 1 / a[1]; d[1] = -v / a[1]; return;
    case Op::Neg: d[0] = -1; return;
    case Op::Pow:
      d[0] = a[1] == 0 ? 0 : a[1] * std::pow(a[0], a[1] - 1);
      d[1] = a[0] > 0 ? v * std::log(a[0]) : 0;
      return;
    case Op::Exp: d[0] = v; return;
    case Op::Log: d[0] = 1 / a[0]; return;
    case Op::Sqrt: d[0] = 0.5 / v; return;
    case Op::Abs: d[0] = a[0] > 0 ? 1 : (a[0] < 0 ? -1 : 0); return;
    case Op::Sin: d[0] = std::cos(a[0]); return;
    case Op::Cos: d[0] = -std::sin(a[0]); return;
    case Op::Tan: d[0] = 1 + v * v; return;
    case Op::Asin: d[0] = 1 / std::sqrt(1 - a[0] * a[0]); return;
    case Op::Acos: d[0] = -1 / std::sqrt(1 - a[0] * a[0]); return;
    case Op::Atan: d[0] = 1 / (1 + a[0] * a[0]); return;
    case Op::Atan2: {
      const double r2 = a[0] * a[0] + a[1] * a[1];
      d[0] = a[1] / r2;
      d[1] = -a[0] / r2;
      return;
    }
    case Op::Sinh: d[0] = std::cosh(a[0]); return;
    case Op::Cosh: d[0] = std::sinh(a[0]); return;
    case Op::Tanh: d[0] = 1 - v * v; return;
    case Op::Erf: d[0] = kTwoOverSqrtPi * std::exp(-a[0] * a[0]); return;
    case Op::Erfc: d[0] = -kTwoOverSqrtPi * std::exp(-a[0] * a[0]); return;
    case Op::LGamma: d[0] = digamma(a[0]); return;
    case Op::Floor:
    case Op::Ceil: d[0] = 0; return;
    case Op::Min: d[0] = a[0] <= a[1] ? 1 : 0; d[1] = 1 - d[0]; return;
    case Op::Max: d[0] = a[0] >= a[1] ? 1 : 0; d[1] = 1 - d[0]; return;
    case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne:
    case Op::EqExact: case Op::NeExact: case Op::And: case Op::Or:
      d[0] = d[1] = 0;
      return;
    case Op::Not: d[0] = 0; return;
    case Op::Select:
      d[0] = 0;
      d[1] = a[0] != 0 ? 1 : 0;
      d[2] = 1 - d[1];
      return;
    case Op::ErfDiff:
      d[0] = -kTwoOverSqrtPi * std::exp(-a[0] * a[0]);
      d[1] = kTwoOverSqrtPi * std::exp(-a[1] * a[1]);
      return;
    case Op::LogExpNorm: d[0] = log_exp_norm_d(a[0], n.k0, n.k1); return;
    case Op::LogPoisNorm: {
      double val;
      pois_norm(a[0], n.k0, n.k1, &val, &d[0]);
      return;
    }
    case Op::PoisLog:
      d[0] = a[0] == 0 ? std::log(a[1]) + 0.5772156649015329 : std::log(a[1]) - digamma(a[0] + 1);
      d[1] = a[0] == 0 ? -1 : a[0] / a[1] - 1;
      return;
    case Op::GaussLog: {
      const double dx = a[0] - a[1], w = dx * a[2];
      d[0] = -2 * w * a[2];
      d[1] = -d[0];
      d[2] = -2 * w * dx;
      d[3] = -1;
      return;
    }
    case Op::LinLog:
      d[0] = a[1];
      d[1] = a[0];
      d[2] = -1;
      return;
    case Op::LogMix: {
      const size_t m = n.args.size() / 2;
      for (size_t i = 0; i < m; ++i) {
        const double e = std::exp(a[m + i] - v);
        d[i] = e;
        d[m + i] = a[i] * e;
      }
      return;
    }
    case Op::Sum:
      for (size_t i = 0; i < n.args.size(); ++i) d[i] = 1;
      return;
  }
}

// ---- Graph ----------------------------------------------------------------------------------

uint32_t Graph::intern(GraphNode n) {
  std::string key;
  key.reserve(24 + 4 * n.args.size());
  key.push_back(static_cast<char>(n.op));
  key.append(reinterpret_cast<const char*>(&n.k0), sizeof(double));
  key.append(reinterpret_cast<const char*>(&n.k1), sizeof(double));
  for (uint32_t a : n.args) key.append(reinterpret_cast<const char*>(&a), sizeof(uint32_t));
  auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(std::move(n));
  index_.emplace(std::move(key), id);
  return id;
}

uint32_t Graph::constant(double v) {
  GraphNode n;
  n.op = Op::Const;
  n.k0 = v == 0 ? 0.0 : v;  // one node for +0 and −0
  return intern(std::move(n));
}

uint32_t Graph::param(uint32_t index) {
  GraphNode n;
  n.op = Op::Param;
  n.k0 = index;
  return intern(std::move(n));
}

uint32_t Graph::obs(uint32_t source, uint32_t axis) {
  GraphNode n;
  n.op = Op::Obs;
  n.event = true;
  n.k0 = source;
  n.k1 = axis;
  return intern(std::move(n));
}

uint32_t Graph::add(Op op, std::vector<uint32_t> args, double k0, double k1) {
  const int arity = op_arity(op);
  if (arity >= 0 && static_cast<size_t>(arity) != args.size())
    throw Error(ErrorKind::Internal, "", std::string("graph op ") + to_string(op) + " with wrong arity");
  GraphNode n;
  n.op = op;
  n.k0 = k0;
  n.k1 = k1;
  n.args = std::move(args);
  bool all_const = true;
  for (uint32_t a : n.args) {
    if (nodes_[a].event) n.event = true;
    if (nodes_[a].op != Op::Const) all_const = false;
  }
  // Algebraic identities that keep the graph small (x+0, x*1, x*0 with finite x is not folded).
  if (op == Op::Add && is_const(n.args[1]) && const_value(n.args[1]) == 0) return n.args[0];
  if (op == Op::Add && is_const(n.args[0]) && const_value(n.args[0]) == 0) return n.args[1];
  if (op == Op::Sub && is_const(n.args[1]) && const_value(n.args[1]) == 0) return n.args[0];
  if (op == Op::Mul && is_const(n.args[1]) && const_value(n.args[1]) == 1) return n.args[0];
  if (op == Op::Mul && is_const(n.args[0]) && const_value(n.args[0]) == 1) return n.args[1];
  if (op == Op::Div && is_const(n.args[1]) && const_value(n.args[1]) == 1) return n.args[0];
  if (all_const) {
    std::vector<double> vals;
    for (uint32_t a : n.args) vals.push_back(nodes_[a].k0);
    return constant(apply(n, vals.data()));
  }
  return intern(std::move(n));
}

// ---- Program --------------------------------------------------------------------------------

Program::Program(Graph graph, std::vector<EventSource> sources, std::vector<std::pair<uint32_t, double>> scalar_terms, size_t nparams)
    : graph_(std::move(graph)), sources_(std::move(sources)), scalar_terms_(std::move(scalar_terms)), nparams_(nparams) {
  const size_t N = graph_.size();
  size_t max_slots = 0, max_args = 3;
  for (uint32_t id = 0; id < N; ++id) {
    if (!graph_[id].event) scalar_order_.push_back(id);
    max_args = std::max(max_args, graph_[id].args.size());
  }
  val_.assign(N, 0);
  adj_.assign(N, 0);
  for (size_t s = 0; s < sources_.size(); ++s) {
    Plan p;
    p.slot.assign(N, kNoSlot);
    std::vector<char> seen(N, 0);
    std::vector<uint32_t> stack{sources_[s].root};
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
    std::vector<char> needs(N, 0);
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
    max_slots = std::max<size_t>(max_slots, p.nslots);
    plans_.push_back(std::move(p));
  }
  buf_.assign(max_slots * kBlock, 0);
  bufadj_.assign(max_slots * kBlock, 0);
  argv_.assign(max_args, 0);
  argd_.assign(max_args, 0);
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
  for (uint32_t id : p.scalars) std::fill_n(&buf_[p.slot[id] * kBlock], kBlock, val_[id]);
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
      switch (n.op) {
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
    total += simd::dot(weighted ? &src.weights[start] : nullptr, r, cnt);
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
      switch (n.op) {
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
    for (uint32_t id : p.scalars) adj_[id] += simd::dot(nullptr, &bufadj_[p.slot[id] * kBlock], cnt);
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
