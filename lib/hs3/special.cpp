#include "hs3/special.h"

#include <cmath>
#include <limits>

#include "hs3/dual.h"

namespace hs3fit::hs3 {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Duals carry the derivative with respect to a (x enters as a constant: ∂P/∂x is closed form).
using dual::Dual;

Dual lgamma(Dual a) { return {std::lgamma(a.v), digamma(a.v) * a.d}; }
double mag(Dual a) { return std::fabs(a.v) + std::fabs(a.d); }

}  // namespace

double digamma(double x) {
  if (!(x > -1e6) || !(x < 1e300)) return kNaN;
  if (x <= 0 && x == std::floor(x)) return kNaN;
  double r = 0;
  if (x < 0) {  // reflection: ψ(1 − x) − ψ(x) = π cot(πx)
    return digamma(1 - x) - M_PI / std::tan(M_PI * x);
  }
  while (x < 6) {
    r -= 1 / x;
    x += 1;
  }
  const double f = 1 / (x * x);
  // Asymptotic series ln x − 1/(2x) − Σ B_2k/(2k x^{2k}).
  return r + std::log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * (691.0 / 32760 - f / 12.0))))));
}

double gamma_p(double a, double x, double* dp_da, double* dp_dx) {
  if (std::isnan(a) || std::isnan(x) || !(a > 0)) {
    if (dp_da) *dp_da = kNaN;
    if (dp_dx) *dp_dx = kNaN;
    return kNaN;
  }
  if (x <= 0) {
    if (dp_da) *dp_da = 0;
    if (dp_dx) *dp_dx = 0;
    return 0;
  }
  if (std::isinf(x)) {
    if (dp_da) *dp_da = 0;
    if (dp_dx) *dp_dx = 0;
    return 1;
  }
  const Dual A{a, 1};
  const double lx = std::log(x);
  // ln(x^a e^{−x} / Γ(a)) and its a-derivative.
  const Dual lead = Dual{a * lx - x, lx} - lgamma(A);
  if (dp_dx) *dp_dx = std::exp((a - 1) * lx - x - std::lgamma(a));
  Dual p;
  if (x < a + 1) {
    // P = x^a e^{−x}/Γ(a) · Σ_n x^n / (a (a+1) ... (a+n)).
    Dual ap = A, del = Dual{1, 0} / A, sum = del;
    for (int n = 1; n < 100000; ++n) {
      ap = ap + Dual{1, 0};
      del = del * (Dual{x, 0} / ap);
      sum = sum + del;
      if (mag(del) < mag(sum) * 1e-17) break;
    }
    p = sum * exp(lead);
  } else {
    // Q = x^a e^{−x}/Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− ...))), modified Lentz.
    constexpr double kTiny = 1e-300;
    Dual b{x + 1 - a, -1}, c{1 / kTiny, 0}, d = Dual{1, 0} / b, h = d;
    for (int i = 1; i < 100000; ++i) {
      const Dual an = Dual{-static_cast<double>(i), 0} * Dual{i - a, -1};
      b = b + Dual{2, 0};
      d = an * d + b;
      if (std::fabs(d.v) < kTiny) d.v = kTiny;
      c = b + an / c;
      if (std::fabs(c.v) < kTiny) c.v = kTiny;
      d = Dual{1, 0} / d;
      const Dual del = d * c;
      h = h * del;
      // Converged when neither the value nor its a-derivative changes any more.
      if (std::fabs(del.v - 1) <= 3e-16 && std::fabs(del.d) <= 3e-16 * (1 + std::fabs(h.d / h.v))) break;
    }
    const Dual q = exp(lead) * h;
    p = Dual{1 - q.v, -q.d};
  }
  if (dp_da) *dp_da = p.d;
  return p.v;
}

}  // namespace hs3fit::hs3
