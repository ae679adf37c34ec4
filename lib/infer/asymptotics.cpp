#include "infer/asymptotics.h"

#include <cmath>
#include <limits>

namespace hs3fit::infer {

namespace {
constexpr double kSqrt2Pi = 2.5066282746310002;  // √(2π)
}  // namespace

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Acklam's rational approximation (relative error 1.15e-9), refined by one Halley step on
// Φ(x) − p with erfc, which brings it to full double precision.
double normal_quantile(double p) {
  if (!(p > 0)) return p == 0 ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (!(p < 1)) return p == 1 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  const double plow = 0.02425;
  double x;
  if (p < plow) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - plow) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // Halley refinement; the upper tail uses the complement to keep relative precision.
  const double e = p < 0.5 ? normal_cdf(x) - p : (1 - p) - normal_cdf(-x);
  const double u = e * kSqrt2Pi * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double chi2_threshold(double cl, int dof) {
  if (dof == 1) {
    const double z = normal_quantile(0.5 * (1 + cl));
    return z * z;
  }
  if (dof == 2) return -2 * std::log1p(-cl);
  return std::numeric_limits<double>::quiet_NaN();
}

PValues asymptotic_pvalues(TestStat ts, double q, double q_asimov) {
  const double sq = std::sqrt(q), sqa = std::sqrt(q_asimov);
  double t = sq - sqa;
  if (ts == TestStat::QmuTilde && !(sq <= sqa)) t = (q - q_asimov) / (2 * sqa);
  PValues p;
  p.clsb = normal_cdf(-(t + sqa));
  p.clb = normal_cdf(-t);
  p.cls = p.clsb / p.clb;
  return p;
}

std::array<PValues, 5> asymptotic_expected_pvalues(double q_asimov) {
  const double sqa = std::sqrt(q_asimov);
  std::array<PValues, 5> out;
  const double nsigma[5] = {2, 1, 0, -1, -2};
  for (size_t k = 0; k < 5; ++k) {
    out[k].clsb = normal_cdf(-(nsigma[k] + sqa));
    out[k].clb = normal_cdf(-nsigma[k]);
    out[k].cls = out[k].clsb / out[k].clb;
  }
  return out;
}

}  // namespace hs3fit::infer
