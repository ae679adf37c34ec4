#include "hs3/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.h"
#include "hs3/landau.h"
#include "hs3/special.h"

namespace hs3fit::hs3 {

namespace {
constexpr double kTwoOverSqrtPi = 1.1283791670955126;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr int kArity[] = {
#define HS3FIT_X(name, arity) arity,
    HS3FIT_GRAPH_OPS(HS3FIT_X)
#undef HS3FIT_X
};
int op_arity(Op op) { return kArity[static_cast<size_t>(op)]; }

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
    case Op::LandauPdf: return landau_pdf(a[0]);
    case Op::LandauCdf: return landau_cdf(a[0]);
    case Op::GammaP: return gamma_p(a[0], a[1]);
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
    case Op::LandauPdf: landau_pdf(a[0], &d[0]); return;
    case Op::LandauCdf: landau_cdf(a[0], &d[0]); return;
    case Op::GammaP: gamma_p(a[0], a[1], &d[0], &d[1]); return;
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

namespace {
uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 32);
}
// The table index is the hash's low bits: every input bit must reach them (constants such as
// 0.5 or 2 have all-zero low mantissa bits), hence MurmurHash3's finalizer at the end.
uint64_t node_hash(Op op, double k0, double k1, const uint32_t* args, size_t nargs) {
  uint64_t h = mix(static_cast<uint64_t>(op) + 1, bits(k0));
  h = mix(h, bits(k1));
  for (size_t i = 0; i < nargs; ++i) h = mix(h, args[i]);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}
}  // namespace

uint32_t Graph::intern(Op op, bool event, double k0, double k1, const uint32_t* args, size_t nargs) {
  const uint64_t h = node_hash(op, k0, k1, args, nargs);
  if (table_.empty()) table_.assign(256, UINT32_MAX);
  size_t mask = table_.size() - 1, i = static_cast<size_t>(h) & mask;
  for (; table_[i] != UINT32_MAX; i = (i + 1) & mask) {
    const uint32_t id = table_[i];
    if (hashes_[id] != h) continue;
    const GraphNode& n = nodes_[id];
    if (n.op == op && bits(n.k0) == bits(k0) && bits(n.k1) == bits(k1) && n.args.size() == nargs &&
        std::equal(args, args + nargs, n.args.begin()))
      return id;
  }
  const uint32_t id = static_cast<uint32_t>(nodes_.size());
  if (nodes_.capacity() == nodes_.size()) {
    nodes_.reserve(std::max<size_t>(256, 2 * nodes_.size()));
    hashes_.reserve(nodes_.capacity());
  }
  GraphNode& n = nodes_.emplace_back();
  n.op = op;
  n.event = event;
  n.k0 = k0;
  n.k1 = k1;
  n.args.assign(args, args + nargs);
  hashes_.push_back(h);
  table_[i] = id;
  if (2 * nodes_.size() > table_.size()) {  // grow: re-insert every node
    table_.assign(2 * table_.size(), UINT32_MAX);
    mask = table_.size() - 1;
    for (uint32_t k = 0; k < nodes_.size(); ++k) {
      size_t j = static_cast<size_t>(hashes_[k]) & mask;
      while (table_[j] != UINT32_MAX) j = (j + 1) & mask;
      table_[j] = k;
    }
  }
  return id;
}

uint32_t Graph::constant(double v) {
  return intern(Op::Const, false, v == 0 ? 0.0 : v, 0, nullptr, 0);  // one node for +0 and −0
}

uint32_t Graph::param(uint32_t index) { return intern(Op::Param, false, index, 0, nullptr, 0); }

uint32_t Graph::obs(uint32_t source, uint32_t axis) { return intern(Op::Obs, true, source, axis, nullptr, 0); }

uint32_t Graph::add(Op op, const uint32_t* args, size_t nargs, double k0, double k1) {
  const int arity = op_arity(op);
  if (arity >= 0 && static_cast<size_t>(arity) != nargs)
    throw Error(ErrorKind::Internal, "", std::string("graph op ") + to_string(op) + " with wrong arity");
  bool event = false, all_const = true;
  for (size_t i = 0; i < nargs; ++i) {
    const GraphNode& a = nodes_[args[i]];
    if (a.event) event = true;
    if (a.op != Op::Const) all_const = false;
  }
  // Algebraic identities that keep the graph small (x+0, x*1, x*0 with finite x is not folded).
  if (op == Op::Add && is_const(args[1]) && const_value(args[1]) == 0) return args[0];
  if (op == Op::Add && is_const(args[0]) && const_value(args[0]) == 0) return args[1];
  if (op == Op::Sub && is_const(args[1]) && const_value(args[1]) == 0) return args[0];
  if (op == Op::Mul && is_const(args[1]) && const_value(args[1]) == 1) return args[0];
  if (op == Op::Mul && is_const(args[0]) && const_value(args[0]) == 1) return args[1];
  if (op == Op::Div && is_const(args[1]) && const_value(args[1]) == 1) return args[0];
  if (all_const) {
    GraphNode n;
    n.op = op;
    n.k0 = k0;
    n.k1 = k1;
    if (arity < 0) n.args.assign(args, args + nargs);  // variadic ops read their argument count
    double small[4];
    std::vector<double> large;
    double* vals = small;
    if (nargs > 4) {
      large.resize(nargs);
      vals = large.data();
    }
    for (size_t i = 0; i < nargs; ++i) vals[i] = nodes_[args[i]].k0;
    return constant(apply(n, vals));
  }
  return intern(op, event, k0, k1, args, nargs);
}

}  // namespace hs3fit::hs3
