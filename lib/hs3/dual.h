// Forward-mode dual numbers (a value and its derivative with respect to one variable) for the
// special functions of the HS3 graph (landau.cpp, special.cpp): their derivatives are those of
// the very iterations and approximations that compute the values.
#pragma once
#include <cmath>

namespace hs3fit::hs3::dual {

struct Dual {
  double v, d;
};
inline Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.d + b.d}; }
inline Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.d - b.d}; }
inline Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
inline Dual operator/(Dual a, Dual b) { return {a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)}; }
inline Dual operator+(double a, Dual b) { return {a + b.v, b.d}; }
inline Dual operator*(double a, Dual b) { return {a * b.v, a * b.d}; }
inline Dual exp(Dual a) {
  const double e = std::exp(a.v);
  return {e, e * a.d};
}
inline Dual sqrt(Dual a) {
  const double s = std::sqrt(a.v);
  return {s, a.d / (2 * s)};
}
inline Dual log(Dual a) { return {std::log(a.v), a.d / a.v}; }

}  // namespace hs3fit::hs3::dual
