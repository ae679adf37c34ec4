// Highway kernels of graph_simd.h, compiled once per instruction set (foreach_target) and
// chosen at run time (HWY_DYNAMIC_DISPATCH); no -march flags needed.
#include "hs3/graph_simd.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "eval/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "hs3/graph_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace hs3fit::hs3::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<double>;

void BinaryImpl(int op, const double* a, const double* b, double* out, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  switch (op) {
    case 0: for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i); for (; i < n; ++i) out[i] = a[i] + b[i]; break;
    case 1: for (; i + N <= n; i += N) hn::StoreU(hn::Sub(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i); for (; i < n; ++i) out[i] = a[i] - b[i]; break;
    case 2: for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i); for (; i < n; ++i) out[i] = a[i] * b[i]; break;
    default: for (; i + N <= n; i += N) hn::StoreU(hn::Div(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i); for (; i < n; ++i) out[i] = a[i] / b[i]; break;
  }
}

void ExpImpl(const double* a, double* out, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  const auto lo = hn::Set(d, -700.0), hi = hn::Set(d, 700.0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, a + i);
    if (hn::AllTrue(d, hn::And(hn::Ge(v, lo), hn::Le(v, hi)))) {
      hn::StoreU(hn::Exp(d, v), d, out + i);
    } else {
      for (size_t k = i; k < i + N; ++k) out[k] = std::exp(a[k]);
    }
  }
  for (; i < n; ++i) out[i] = std::exp(a[i]);
}

void LogImpl(const double* a, double* out, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  const auto lo = hn::Set(d, 2.2250738585072014e-308), hi = hn::Set(d, 1.7976931348623157e308);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, a + i);
    if (hn::AllTrue(d, hn::And(hn::Ge(v, lo), hn::Le(v, hi)))) {
      hn::StoreU(hn::Log(d, v), d, out + i);
    } else {
      for (size_t k = i; k < i + N; ++k) out[k] = std::log(a[k]);
    }
  }
  for (; i < n; ++i) out[i] = std::log(a[i]);
}

inline double logmix2_scalar(double c0, double c1, double l0, double l1, double* e0, double* e1) {
  const double m = std::max(l0, l1);
  if (!std::isfinite(m)) {
    *e0 = *e1 = 0;
    return std::isnan(l0) || std::isnan(l1) ? l0 + l1 : m;
  }
  const double a = std::exp(l0 - m), b = std::exp(l1 - m), s = c0 * a + c1 * b;
  *e0 = a / s;
  *e1 = b / s;
  return m + std::log(s);
}

void LogMix2Impl(const double* c0, const double* c1, const double* l0, const double* l1, double* out, double* e0, double* e1, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  // ln(c0 e^{l0} + c1 e^{l1}) = m + ln(c_m + c_o·t) with m = max(l0, l1), t = e^{−|l0 − l1|}:
  // one exp and one log per event. Fast lanes: finite m, |l0 − l1| ≤ 700, a normal finite sum.
  const auto big = hn::Set(d, 1e300), gap = hn::Set(d, 700.0), small = hn::Set(d, 2.2250738585072014e-308), lim = hn::Set(d, 1e300);
  const auto one = hn::Set(d, 1.0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto a = hn::LoadU(d, l0 + i), b = hn::LoadU(d, l1 + i);
    const auto m = hn::Max(a, b), ad = hn::Abs(hn::Sub(a, b));
    if (hn::AllTrue(d, hn::And(hn::Le(hn::Abs(m), big), hn::Le(ad, gap)))) {
      const auto t = hn::Exp(d, hn::Neg(ad));
      const auto first = hn::Ge(a, b);
      const auto ca = hn::LoadU(d, c0 + i), cb = hn::LoadU(d, c1 + i);
      const auto cm = hn::IfThenElse(first, ca, cb), co = hn::IfThenElse(first, cb, ca);
      const auto sum = hn::MulAdd(co, t, cm);
      if (hn::AllTrue(d, hn::And(hn::Ge(sum, small), hn::Lt(sum, lim)))) {
        hn::StoreU(hn::Add(m, hn::Log(d, sum)), d, out + i);
        if (e0) {  // e_i = e^{l_i − out}: 1/sum for the larger, t/sum for the other
          const auto inv = hn::Div(one, sum), other = hn::Mul(t, inv);
          hn::StoreU(hn::IfThenElse(first, inv, other), d, e0 + i);
          hn::StoreU(hn::IfThenElse(first, other, inv), d, e1 + i);
        }
        continue;
      }
    }
    double t0, t1;
    for (size_t k = i; k < i + N; ++k) out[k] = logmix2_scalar(c0[k], c1[k], l0[k], l1[k], e0 ? e0 + k : &t0, e0 ? e1 + k : &t1);
  }
  double t0, t1;
  for (; i < n; ++i) out[i] = logmix2_scalar(c0[i], c1[i], l0[i], l1[i], e0 ? e0 + i : &t0, e0 ? e1 + i : &t1);
}

void GaussLogImpl(const double* x, const double* mu, const double* s, const double* k, double* out, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto w = hn::Mul(hn::Sub(hn::LoadU(d, x + i), hn::LoadU(d, mu + i)), hn::LoadU(d, s + i));
    hn::StoreU(hn::Sub(hn::Neg(hn::LoadU(d, k + i)), hn::Mul(w, w)), d, out + i);
  }
  for (; i < n; ++i) {
    const double w = (x[i] - mu[i]) * s[i];
    out[i] = -k[i] - w * w;
  }
}

void GaussLogAdjointImpl(const double* x, const double* mu, const double* s, const double* g, double* gx, double* gmu, double* gs, double* gk, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  const auto two = hn::Set(d, 2.0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto gg = hn::LoadU(d, g + i);
    const auto live = hn::Ne(gg, hn::Zero(d));
    const auto sv = hn::LoadU(d, s + i);
    const auto dx = hn::Sub(hn::LoadU(d, x + i), hn::LoadU(d, mu + i));
    const auto tw = hn::IfThenElseZero(live, hn::Mul(hn::Mul(two, gg), hn::Mul(dx, sv)));  // 2·g·w
    const auto dmu = hn::Mul(tw, sv);                                                      // ∂/∂μ = 2gws
    if (gx) hn::StoreU(hn::Sub(hn::LoadU(d, gx + i), dmu), d, gx + i);
    hn::StoreU(hn::Add(hn::LoadU(d, gmu + i), dmu), d, gmu + i);
    hn::StoreU(hn::NegMulAdd(tw, dx, hn::LoadU(d, gs + i)), d, gs + i);
    hn::StoreU(hn::Sub(hn::LoadU(d, gk + i), gg), d, gk + i);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    const double dx = x[i] - mu[i], tw = 2 * g[i] * (dx * s[i]), dmu = tw * s[i];
    if (gx) gx[i] -= dmu;
    gmu[i] += dmu;
    gs[i] -= tw * dx;
    gk[i] -= g[i];
  }
}

void LinLogImpl(const double* x, const double* a, const double* b, double* out, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Sub(hn::Mul(hn::LoadU(d, x + i), hn::LoadU(d, a + i)), hn::LoadU(d, b + i)), d, out + i);
  for (; i < n; ++i) out[i] = x[i] * a[i] - b[i];
}

void LinLogAdjointImpl(const double* x, const double* a, const double* g, double* gx, double* ga, double* gb, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto gg = hn::LoadU(d, g + i);
    const auto live = hn::Ne(gg, hn::Zero(d));
    if (gx) hn::StoreU(hn::Add(hn::LoadU(d, gx + i), hn::IfThenElseZero(live, hn::Mul(gg, hn::LoadU(d, a + i)))), d, gx + i);
    hn::StoreU(hn::Add(hn::LoadU(d, ga + i), hn::IfThenElseZero(live, hn::Mul(gg, hn::LoadU(d, x + i)))), d, ga + i);
    hn::StoreU(hn::Sub(hn::LoadU(d, gb + i), gg), d, gb + i);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    if (gx) gx[i] += g[i] * a[i];
    ga[i] += g[i] * x[i];
    gb[i] -= g[i];
  }
}

void LogMix2AdjointImpl(const double* c0, const double* c1, const double* e0, const double* e1, const double* g,
                        double* gc0, double* gc1, double* gl0, double* gl1, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto gg = hn::LoadU(d, g + i);
    const auto live = hn::Ne(gg, hn::Zero(d));  // a zero adjoint (unselected branch) never spreads NaN
    const auto ea = hn::IfThenElseZero(live, hn::Mul(gg, hn::LoadU(d, e0 + i))), eb = hn::IfThenElseZero(live, hn::Mul(gg, hn::LoadU(d, e1 + i)));
    hn::StoreU(hn::Add(hn::LoadU(d, gc0 + i), ea), d, gc0 + i);
    hn::StoreU(hn::Add(hn::LoadU(d, gc1 + i), eb), d, gc1 + i);
    hn::StoreU(hn::MulAdd(hn::LoadU(d, c0 + i), ea, hn::LoadU(d, gl0 + i)), d, gl0 + i);
    hn::StoreU(hn::MulAdd(hn::LoadU(d, c1 + i), eb, hn::LoadU(d, gl1 + i)), d, gl1 + i);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    const double ea = g[i] * e0[i], eb = g[i] * e1[i];
    gc0[i] += ea;
    gc1[i] += eb;
    gl0[i] += c0[i] * ea;
    gl1[i] += c1[i] * eb;
  }
}

void MulAdjointImpl(const double* a, const double* b, const double* g, double* ga, double* gb, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto gg = hn::LoadU(d, g + i);
    const auto live = hn::Ne(gg, hn::Zero(d));
    hn::StoreU(hn::Add(hn::LoadU(d, ga + i), hn::IfThenElseZero(live, hn::Mul(gg, hn::LoadU(d, b + i)))), d, ga + i);
    hn::StoreU(hn::Add(hn::LoadU(d, gb + i), hn::IfThenElseZero(live, hn::Mul(gg, hn::LoadU(d, a + i)))), d, gb + i);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    ga[i] += g[i] * b[i];
    gb[i] += g[i] * a[i];
  }
}

void DivAdjointImpl(const double* b, const double* v, const double* g, double* ga, double* gb, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto gg = hn::LoadU(d, g + i);
    const auto live = hn::Ne(gg, hn::Zero(d));
    const auto q = hn::IfThenElseZero(live, hn::Div(gg, hn::LoadU(d, b + i)));
    hn::StoreU(hn::Add(hn::LoadU(d, ga + i), q), d, ga + i);
    hn::StoreU(hn::Sub(hn::LoadU(d, gb + i), hn::IfThenElseZero(live, hn::Mul(q, hn::LoadU(d, v + i)))), d, gb + i);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    const double q = g[i] / b[i];
    ga[i] += q;
    gb[i] -= q * v[i];
  }
}

double DotImpl(const double* w, const double* x, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t i = 0;
  if (w) {
    for (; i + N <= n; i += N) acc = hn::MulAdd(hn::LoadU(d, w + i), hn::LoadU(d, x + i), acc);
  } else {
    for (; i + N <= n; i += N) acc = hn::Add(hn::LoadU(d, x + i), acc);
  }
  double s = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) s += w ? w[i] * x[i] : x[i];
  return s;
}

// ---- Fused two-component mixture -----------------------------------------------------------
// Σ_i w_i ln(c0 e^{l0_i} + c1 e^{l1_i}) with l_k a Gaussian (−κ − ((x − μ)s)²) or linear
// (x·a − b) log-density of one observable column and scalar parameters, plus (grad) the sums of
// w_i ∂/∂(c0, c1, p0[0..2], p1[0..2]) — no per-event buffers. Groups of U vectors are computed
// stage by stage (all exps, then all logs) so their long dependency chains overlap.

inline double comp_scalar(int kind, const double* p, double x) {
  if (kind == 0) {
    const double w = (x - p[0]) * p[1];
    return -p[2] - w * w;
  }
  return x * p[0] - p[1];
}

// One event in plain C++ (lanes outside the fast range, and the scalar reference).
inline double mix2_event(const Mix2& m, double x0, double x1, double w, double* acc) {
  const double l0 = comp_scalar(static_cast<int>(m.kind[0]), m.p[0], x0), l1 = comp_scalar(static_cast<int>(m.kind[1]), m.p[1], x1);
  double e0, e1;
  const double out = logmix2_scalar(m.c[0], m.c[1], l0, l1, &e0, &e1);
  if (w == 0) return 0;
  if (acc) {
    const double g0 = w * e0, g1 = w * e1;
    acc[0] += g0;
    acc[1] += g1;
    const double r[2] = {m.c[0] * g0, m.c[1] * g1};
    const double xs[2] = {x0, x1};
    for (int k = 0; k < 2; ++k) {
      double* a = acc + 2 + 3 * k;
      if (m.kind[k] == Comp::Gauss) {
        const double dx = xs[k] - m.p[k][0], tw = 2 * r[k] * dx * m.p[k][1];
        a[0] += tw * m.p[k][1];  // ∂/∂μ
        a[1] -= tw * dx;         // ∂/∂s
        a[2] -= r[k];            // ∂/∂κ
      } else {
        a[0] += r[k] * xs[k];    // ∂/∂a
        a[1] -= r[k];            // ∂/∂b
      }
    }
  }
  return w * out;
}

// e^x for |x| ≤ 700 (the caller guarantees it): Highway's reduction and polynomial, with the
// result's exponent set by one multiplication (2^q is a normal double for |q| ≤ 1010).
HWY_INLINE hn::Vec<D> ExpBounded(D d, hn::Vec<D> x) {
  const hn::Rebind<int32_t, D> di32;
  const hn::Rebind<int64_t, D> di64;
  hn::impl::ExpImpl<double> impl;
  // q = round(x / ln 2): ±0.5 by the sign of x, then truncation.
  const auto half = hn::Or(hn::Set(d, 0.5), hn::And(x, hn::Set(d, -0.0)));
  const auto q = impl.ToInt32(d, hn::MulAdd(x, hn::Set(d, 1.442695040888963407359924681), half));
  const auto y = hn::Add(impl.ExpPoly(d, impl.ExpReduce(d, x, q)), hn::Set(d, 1.0));
  const auto scale = hn::BitCast(d, hn::ShiftLeft<52>(hn::PromoteTo(di64, hn::Add(q, hn::Set(di32, 0x3FF)))));
  return hn::Mul(y, scale);
}

template <int K>
HWY_INLINE hn::Vec<D> CompVec(D d, const hn::Vec<D> (&p)[3], hn::Vec<D> x) {
  if (K == 0) {
    const auto w = hn::Mul(hn::Sub(x, p[0]), p[1]);
    return hn::NegMulAdd(w, w, hn::Neg(p[2]));
  }
  (void)d;
  return hn::Sub(hn::Mul(x, p[0]), p[1]);
}

template <int K>
HWY_INLINE void CompGrad(const hn::Vec<D> (&p)[3], hn::Vec<D> x, hn::Vec<D> r, hn::Vec<D>* acc) {
  if (K == 0) {
    const auto dx = hn::Sub(x, p[0]);
    const auto tw = hn::Mul(hn::Add(r, r), hn::Mul(dx, p[1]));
    acc[0] = hn::MulAdd(tw, p[1], acc[0]);
    acc[1] = hn::NegMulAdd(tw, dx, acc[1]);
    acc[2] = hn::Sub(acc[2], r);
  } else {
    acc[0] = hn::MulAdd(r, x, acc[0]);
    acc[1] = hn::Sub(acc[1], r);
  }
}

template <int K0, int K1, bool G, size_t U, bool Tail>
HWY_INLINE bool Mix2Group(D d, const Mix2& m, const hn::Vec<D> (&p0)[3], const hn::Vec<D> (&p1)[3], const double* x0, const double* x1,
                          const double* w, size_t count, hn::Vec<D>& total, hn::Vec<D>* acc) {
  const size_t N = hn::Lanes(d);
  const auto c0 = hn::Set(d, m.c[0]), c1 = hn::Set(d, m.c[1]);
  const auto big = hn::Set(d, 1e300), gap = hn::Set(d, 700.0), small = hn::Set(d, 2.2250738585072014e-308);
  (void)count;
  // ln(c0 e^{l0} + c1 e^{l1}) = l1 + ln(c1 + c0·t), t = e^{l0 − l1}: one exp and one log.
  hn::Vec<D> xa[U], xb[U], l1[U], t[U], sum[U], ww[U];
  auto ok = hn::FirstN(d, N);
  for (size_t u = 0; u < U; ++u) {
    xa[u] = hn::LoadU(d, x0 + u * N);
    xb[u] = hn::LoadU(d, x1 + u * N);
    const auto l0 = CompVec<K0>(d, p0, xa[u]);
    l1[u] = CompVec<K1>(d, p1, xb[u]);
    t[u] = hn::Sub(l0, l1[u]);
    // |l0 − l1| ≤ 700 also rules out NaN and infinite l (their difference is NaN or infinite).
    ok = hn::And(ok, hn::Le(hn::Abs(t[u]), gap));
  }
  if (!hn::AllTrue(d, ok)) return false;
  for (size_t u = 0; u < U; ++u) t[u] = ExpBounded(d, t[u]);
  for (size_t u = 0; u < U; ++u) {
    sum[u] = hn::MulAdd(c0, t[u], c1);
    ok = hn::And(ok, hn::And(hn::Ge(sum[u], small), hn::Lt(sum[u], big)));
  }
  if (!hn::AllTrue(d, ok)) return false;
  hn::Vec<D> lg[U];
  for (size_t u = 0; u < U; ++u) lg[u] = hn::impl::Log<D, hn::Vec<D>, false>(d, sum[u]);  // sum is normal: checked above
  for (size_t u = 0; u < U; ++u) {
    const auto value = hn::Add(l1[u], lg[u]);
    if (!w && !Tail) {  // unweighted whole vectors: every lane counts once
      total = hn::Add(total, value);
      ww[u] = hn::Set(d, 1.0);
    } else {
      ww[u] = hn::LoadU(d, w + u * N);
      // Lanes past `count` (a padded tail) and zero weights contribute nothing, even if infinite.
      const auto live = hn::And(hn::FirstN(d, count > u * N ? count - u * N : 0), hn::Ne(ww[u], hn::Zero(d)));
      ww[u] = hn::IfThenElseZero(live, ww[u]);
      total = hn::Add(total, hn::IfThenElseZero(live, hn::Mul(ww[u], value)));
    }
    if (G) {
      const auto g1 = hn::Div(ww[u], sum[u]), g0 = hn::Mul(t[u], g1);  // w·e_k: e1 = 1/sum, e0 = t/sum
      acc[0] = hn::Add(acc[0], g0);
      acc[1] = hn::Add(acc[1], g1);
      CompGrad<K0>(p0, xa[u], hn::Mul(c0, g0), acc + 2);
      CompGrad<K1>(p1, xb[u], hn::Mul(c1, g1), acc + 5);
    }
  }
  return true;
}

template <int K0, int K1, bool G>
double Mix2Typed(const Mix2& m, const double* x0, const double* x1, const double* w, size_t n, double* grad) {
  const D d;
  const size_t N = hn::Lanes(d);
  constexpr size_t U = 4;
  hn::Vec<D> p0[3], p1[3];
  for (int k = 0; k < 3; ++k) {
    p0[k] = hn::Set(d, m.p[0][k]);
    p1[k] = hn::Set(d, m.p[1][k]);
  }
  hn::Vec<D> total = hn::Zero(d), acc[8];
  for (auto& a : acc) a = hn::Zero(d);
  double stotal = 0, sacc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  auto scalar = [&](size_t i, size_t cnt) {
    for (size_t k = i; k < i + cnt; ++k) stotal += mix2_event(m, x0[k], x1[k], w ? w[k] : 1.0, G ? sacc : nullptr);
  };
  size_t i = 0;
  for (; i + U * N <= n; i += U * N)
    if (!Mix2Group<K0, K1, G, U, false>(d, m, p0, p1, x0 + i, x1 + i, w ? w + i : nullptr, U * N, total, acc)) scalar(i, U * N);
  for (; i + N <= n; i += N)
    if (!Mix2Group<K0, K1, G, 1, false>(d, m, p0, p1, x0 + i, x1 + i, w ? w + i : nullptr, N, total, acc)) scalar(i, N);
  if (i < n) {
    // The tail, padded to a whole vector with copies of its last event (weight-masked).
    HWY_ALIGN double bx0[16], bx1[16], bw[16];  // ≥ lanes of any x86 target (AVX-512: 8)
    const size_t r = n - i;
    for (size_t k = 0; k < N; ++k) {
      const size_t j = i + std::min(k, r - 1);
      bx0[k] = x0[j];
      bx1[k] = x1[j];
      bw[k] = w ? w[j] : 1.0;
    }
    if (!Mix2Group<K0, K1, G, 1, true>(d, m, p0, p1, bx0, bx1, bw, r, total, acc)) scalar(i, r);
  }
  double out = hn::GetLane(hn::SumOfLanes(d, total)) + stotal;
  if (G)
    for (int k = 0; k < 8; ++k) grad[k] += hn::GetLane(hn::SumOfLanes(d, acc[k])) + sacc[k];
  return out;
}

double Mix2Impl(const Mix2& m, const double* x0, const double* x1, const double* w, size_t n, double* grad) {
  const int key = (m.kind[0] == Comp::Gauss ? 0 : 2) + (m.kind[1] == Comp::Gauss ? 0 : 1);
  if (grad) {
    switch (key) {
      case 0: return Mix2Typed<0, 0, true>(m, x0, x1, w, n, grad);
      case 1: return Mix2Typed<0, 1, true>(m, x0, x1, w, n, grad);
      case 2: return Mix2Typed<1, 0, true>(m, x0, x1, w, n, grad);
      default: return Mix2Typed<1, 1, true>(m, x0, x1, w, n, grad);
    }
  }
  switch (key) {
    case 0: return Mix2Typed<0, 0, false>(m, x0, x1, w, n, grad);
    case 1: return Mix2Typed<0, 1, false>(m, x0, x1, w, n, grad);
    case 2: return Mix2Typed<1, 0, false>(m, x0, x1, w, n, grad);
    default: return Mix2Typed<1, 1, false>(m, x0, x1, w, n, grad);
  }
}

const char* TargetImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace hs3fit::hs3::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace hs3fit::hs3::simd {

HWY_EXPORT(TargetImpl);
HWY_EXPORT(Mix2Impl);
HWY_EXPORT(BinaryImpl);
HWY_EXPORT(ExpImpl);
HWY_EXPORT(LogImpl);
HWY_EXPORT(LogMix2Impl);
HWY_EXPORT(LogMix2AdjointImpl);
HWY_EXPORT(MulAdjointImpl);
HWY_EXPORT(DivAdjointImpl);
HWY_EXPORT(DotImpl);
HWY_EXPORT(GaussLogImpl);
HWY_EXPORT(GaussLogAdjointImpl);
HWY_EXPORT(LinLogImpl);
HWY_EXPORT(LinLogAdjointImpl);

const char* target() { return HWY_DYNAMIC_DISPATCH(TargetImpl)(); }

std::vector<std::string> targets() { return eval::simd_targets(); }  // the same targets as the tape's kernels

bool force_target(const std::string& name) {
  hwy::SetSupportedTargetsForTest(0);  // simd_targets() is filtered by an earlier forcing
  if (name.empty()) return true;
  const std::vector<std::string> names = targets();
  const auto all = hwy::SupportedAndGeneratedTargets();
  for (size_t i = 0; i < names.size() && i < all.size(); ++i)
    if (names[i] == name) {
      hwy::SetSupportedTargetsForTest(all[i]);
      return true;
    }
  return false;
}

double mix2(const Mix2& m, const double* x0, const double* x1, const double* w, size_t n, double* grad) {
  return HWY_DYNAMIC_DISPATCH(Mix2Impl)(m, x0, x1, w, n, grad);
}

void binary(Binary op, const double* a, const double* b, double* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(BinaryImpl)(static_cast<int>(op), a, b, out, n);
}
void exp(const double* a, double* out, size_t n) { HWY_DYNAMIC_DISPATCH(ExpImpl)(a, out, n); }
void log(const double* a, double* out, size_t n) { HWY_DYNAMIC_DISPATCH(LogImpl)(a, out, n); }
void logmix2(const double* c0, const double* c1, const double* l0, const double* l1, double* out, double* e0, double* e1, size_t n) {
  HWY_DYNAMIC_DISPATCH(LogMix2Impl)(c0, c1, l0, l1, out, e0, e1, n);
}
void logmix2_adjoint(const double* c0, const double* c1, const double* e0, const double* e1, const double* g,
                     double* gc0, double* gc1, double* gl0, double* gl1, size_t n) {
  HWY_DYNAMIC_DISPATCH(LogMix2AdjointImpl)(c0, c1, e0, e1, g, gc0, gc1, gl0, gl1, n);
}
void mul_adjoint(const double* a, const double* b, const double* g, double* ga, double* gb, size_t n) {
  HWY_DYNAMIC_DISPATCH(MulAdjointImpl)(a, b, g, ga, gb, n);
}
void div_adjoint(const double* b, const double* v, const double* g, double* ga, double* gb, size_t n) {
  HWY_DYNAMIC_DISPATCH(DivAdjointImpl)(b, v, g, ga, gb, n);
}
double dot(const double* w, const double* x, size_t n) { return HWY_DYNAMIC_DISPATCH(DotImpl)(w, x, n); }
void gauss_log(const double* x, const double* mu, const double* s, const double* k, double* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(GaussLogImpl)(x, mu, s, k, out, n);
}
void gauss_log_adjoint(const double* x, const double* mu, const double* s, const double* g, double* gx, double* gmu, double* gs, double* gk, size_t n) {
  HWY_DYNAMIC_DISPATCH(GaussLogAdjointImpl)(x, mu, s, g, gx, gmu, gs, gk, n);
}
void lin_log(const double* x, const double* a, const double* b, double* out, size_t n) { HWY_DYNAMIC_DISPATCH(LinLogImpl)(x, a, b, out, n); }
void lin_log_adjoint(const double* x, const double* a, const double* g, double* gx, double* ga, double* gb, size_t n) {
  HWY_DYNAMIC_DISPATCH(LinLogAdjointImpl)(x, a, g, gx, ga, gb, n);
}

}  // namespace hs3fit::hs3::simd
#endif
