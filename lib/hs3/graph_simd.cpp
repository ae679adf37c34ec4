// Highway kernels of graph_simd.h, compiled once per instruction set (foreach_target) and
// chosen at run time (HWY_DYNAMIC_DISPATCH); no -march flags needed.
#include "hs3/graph_simd.h"

#include <cmath>

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

const char* TargetImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace hs3fit::hs3::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace hs3fit::hs3::simd {

HWY_EXPORT(TargetImpl);
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
