#include "infer/root_finding.h"

#include <cmath>
#include <limits>
#include <utility>

namespace hs3fit::infer {

Root brent_root(const std::function<double(double)>& f, double a, double b, double fa, double fb, const RootOptions& o) {
  Root r;
  if (fa == 0) return {a, fa, 0, true};
  if (fb == 0) return {b, fb, 0, true};
  if ((fa > 0) == (fb > 0) || !std::isfinite(fa) || !std::isfinite(fb)) return {std::numeric_limits<double>::quiet_NaN(), 0, 0, false};
  const double eps = std::numeric_limits<double>::epsilon();
  double c = a, fc = fa, d = b - a, e = d;
  for (;;) {
    if ((fb > 0) == (fc > 0)) {  // keep the root between b and c
      c = a;
      fc = fa;
      d = e = b - a;
    }
    if (std::fabs(fc) < std::fabs(fb)) {  // b is the best estimate
      a = b; b = c; c = a;
      fa = fb; fb = fc; fc = fa;
    }
    const double tol = 2 * eps * std::fabs(b) + 0.5 * (o.atol + o.rtol * std::fabs(b));
    const double m = 0.5 * (c - b);
    if (std::fabs(m) <= tol || fb == 0) {
      r.x = b;
      r.fx = fb;
      r.converged = true;
      return r;
    }
    if (r.evaluations >= o.max_evaluations) {
      r.x = b;
      r.fx = fb;
      return r;
    }
    if (std::fabs(e) >= tol && std::fabs(fa) > std::fabs(fb)) {
      double p, q;
      const double s = fb / fa;
      if (a == c) {  // secant
        p = 2 * m * s;
        q = 1 - s;
      } else {  // inverse quadratic interpolation
        const double qq = fa / fc, rr = fb / fc;
        p = s * (2 * m * qq * (qq - rr) - (b - a) * (rr - 1));
        q = (qq - 1) * (rr - 1) * (s - 1);
      }
      if (p > 0) q = -q; else p = -p;
      if (2 * p < std::min(3 * m * q - std::fabs(tol * q), std::fabs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = m;
        e = m;
      }
    } else {
      d = m;
      e = m;
    }
    a = b;
    fa = fb;
    b += std::fabs(d) > tol ? d : (m > 0 ? tol : -tol);
    fb = f(b);
    ++r.evaluations;
    if (!std::isfinite(fb)) {  // cannot continue: report the bracket's best end
      r.x = a;
      r.fx = fa;
      return r;
    }
  }
}

}  // namespace hs3fit::infer
