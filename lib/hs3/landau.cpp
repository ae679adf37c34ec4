#include "hs3/landau.h"

#include <cmath>

#include "hs3/dual.h"

namespace hs3fit::hs3 {

namespace {

using dual::Dual;

// c[0] + c[1] x + ... + c[n−1] x^{n−1} (Horner).
template <int N>
Dual poly(const double (&c)[N], Dual x) {
  Dual r{c[N - 1], 0};
  for (int i = N - 2; i >= 0; --i) r = c[i] + r * x;
  return r;
}

// DENLAN (CERNLIB G110): φ(λ), piecewise rational in λ, e^{−λ−1} or 1/λ.
Dual denlan(Dual v) {
  static constexpr double p1[5] = {0.4259894875, -0.1249762550, 0.03984243700, -0.006298287635, 0.001511162253};
  static constexpr double q1[5] = {1.0, -0.3388260629, 0.09594393323, -0.01608042283, 0.003778942063};
  static constexpr double p2[5] = {0.1788541609, 0.1173957403, 0.01488850518, -0.001394989411, 0.0001283617211};
  static constexpr double q2[5] = {1.0, 0.7428795082, 0.3153932961, 0.06694219548, 0.008790609714};
  static constexpr double p3[5] = {0.1788544503, 0.09359161662, 0.006325387654, 0.00006611667319, -0.000002031049101};
  static constexpr double q3[5] = {1.0, 0.6097809921, 0.2560616665, 0.04746722384, 0.006957301675};
  static constexpr double p4[5] = {0.9874054407, 118.6723273, 849.2794360, -743.7792444, 427.0262186};
  static constexpr double q4[5] = {1.0, 106.8615961, 337.6496214, 2016.712389, 1597.063511};
  static constexpr double p5[5] = {1.003675074, 167.5702434, 4789.711289, 21217.86767, -22324.94910};
  static constexpr double q5[5] = {1.0, 156.9424537, 3745.310488, 9834.698876, 66924.28357};
  static constexpr double p6[5] = {1.000827619, 664.9143136, 62972.92665, 475554.6998, -5743609.109};
  static constexpr double q6[5] = {1.0, 651.4101098, 56974.73333, 165917.4725, -2815759.939};
  static constexpr double a1[3] = {0.04166666667, -0.01996527778, 0.02709538966};
  static constexpr double a2[2] = {-1.845568670, -4.284640743};
  constexpr double kInvSqrt2Pi = 0.3989422803;
  if (v.v < -5.5) {
    const Dual u = exp(v + Dual{1.0, 0});
    if (u.v < 1e-10) return {0, 0};
    const Dual one{1, 0};
    return kInvSqrt2Pi * (exp(Dual{0, 0} - one / u) / sqrt(u)) * (1.0 + (a1[0] + (a1[1] + a1[2] * u) * u) * u);
  }
  if (v.v < -1) {
    const Dual u = exp(Dual{-1, 0} - v);
    return exp(Dual{0, 0} - u) * sqrt(u) * poly(p1, v) / poly(q1, v);
  }
  if (v.v < 1) return poly(p2, v) / poly(q2, v);
  if (v.v < 5) return poly(p3, v) / poly(q3, v);
  const Dual one{1, 0};
  if (v.v < 12) {
    const Dual u = one / v;
    return u * u * poly(p4, u) / poly(q4, u);
  }
  if (v.v < 50) {
    const Dual u = one / v;
    return u * u * poly(p5, u) / poly(q5, u);
  }
  if (v.v < 300) {
    const Dual u = one / v;
    return u * u * poly(p6, u) / poly(q6, u);
  }
  const Dual u = one / (v - v * log(v) / (v + one));
  return u * u * (1.0 + (a2[0] + a2[1] * u) * u);
}

// DISLAN (CERNLIB G110): Φ(λ).
Dual dislan(Dual v) {
  static constexpr double p1[5] = {0.2514091491e+0, -0.6250580444e-1, 0.1458381230e-1, -0.2108817737e-2, 0.7411247290e-3};
  static constexpr double q1[5] = {1.0, -0.5571175625e-2, 0.6225310236e-1, -0.3137378427e-2, 0.1931496439e-2};
  static constexpr double p2[4] = {0.2868328584e+0, 0.3564363231e+0, 0.1523518695e+0, 0.2251304883e-1};
  static constexpr double q2[4] = {1.0, 0.6191136137e+0, 0.1720721448e+0, 0.2278594771e-1};
  static constexpr double p3[4] = {0.2868329066e+0, 0.3003828436e+0, 0.9950951941e-1, 0.8733827185e-2};
  static constexpr double q3[4] = {1.0, 0.4237190502e+0, 0.1095631512e+0, 0.8693851567e-2};
  static constexpr double p4[4] = {0.1000351630e+1, 0.4503592498e+1, 0.1085883880e+2, 0.7536052269e+1};
  static constexpr double q4[4] = {1.0, 0.5539969678e+1, 0.1933581111e+2, 0.2721321508e+2};
  static constexpr double p5[4] = {0.1000006517e+1, 0.4909414111e+2, 0.8505544753e+2, 0.1532153455e+3};
  static constexpr double q5[4] = {1.0, 0.5009928881e+2, 0.1399819104e+3, 0.4200002909e+3};
  static constexpr double p6[4] = {0.1000000983e+1, 0.1329868456e+3, 0.9162149244e+3, -0.9605054274e+3};
  static constexpr double q6[4] = {1.0, 0.1339887843e+3, 0.1055990413e+4, 0.5532224619e+3};
  static constexpr double a1[3] = {-0.4583333333e+0, 0.6675347222e+0, -0.1641741416e+1};
  static constexpr double a2[3] = {1.0, -0.4227843351e+0, -0.2043403138e+1};
  constexpr double kInvSqrt2Pi = 0.3989422803;
  const Dual one{1, 0};
  if (v.v < -5.5) {
    const Dual u = exp(v + one);
    if (u.v < 1e-300) return {0, 0};
    return kInvSqrt2Pi * exp(Dual{0, 0} - one / u) * sqrt(u) * (1.0 + (a1[0] + (a1[1] + a1[2] * u) * u) * u);
  }
  if (v.v < -1) {
    const Dual u = exp(Dual{-1, 0} - v);
    return (exp(Dual{0, 0} - u) / sqrt(u)) * poly(p1, v) / poly(q1, v);
  }
  if (v.v < 1) return poly(p2, v) / poly(q2, v);
  if (v.v < 4) return poly(p3, v) / poly(q3, v);
  if (v.v < 12) {
    const Dual u = one / v;
    return poly(p4, u) / poly(q4, u);
  }
  if (v.v < 50) {
    const Dual u = one / v;
    return poly(p5, u) / poly(q5, u);
  }
  if (v.v < 300) {
    const Dual u = one / v;
    return poly(p6, u) / poly(q6, u);
  }
  const Dual u = one / (v - v * log(v) / (v + one));
  return one - (a2[0] + (a2[1] + a2[2] * u) * u) * u;
}

}  // namespace

double landau_pdf(double lambda, double* derivative) {
  if (std::isnan(lambda)) {
    if (derivative) *derivative = lambda;
    return lambda;
  }
  if (std::isinf(lambda)) {
    if (derivative) *derivative = 0;
    return 0;
  }
  const Dual r = denlan({lambda, 1});
  if (derivative) *derivative = r.d;
  return r.v;
}

double landau_cdf(double lambda, double* derivative) {
  if (std::isnan(lambda)) {
    if (derivative) *derivative = lambda;
    return lambda;
  }
  if (std::isinf(lambda)) {
    if (derivative) *derivative = 0;
    return lambda > 0 ? 1 : 0;
  }
  const Dual r = dislan({lambda, 1});
  if (derivative) *derivative = r.d;
  return r.v;
}

}  // namespace hs3fit::hs3
