// Special functions the HS3 graph needs beyond <cmath>, with their derivatives.
#pragma once

namespace hs3fit::hs3 {

// The regularized lower incomplete gamma function P(a, x) = γ(a, x)/Γ(a) for a > 0 (0 for
// x ≤ 0), with ∂P/∂a and ∂P/∂x when the pointers are given. Series for x < a + 1, continued
// fraction (modified Lentz) otherwise, both to full double precision; ∂P/∂a is the derivative of
// the same iteration (forward-mode duals), ∂P/∂x = x^{a−1} e^{−x}/Γ(a). NaN for a ≤ 0 or NaN input.
double gamma_p(double a, double x, double* dp_da = nullptr, double* dp_dx = nullptr);

// ψ(x) = d ln Γ(x)/dx.
double digamma(double x);

}  // namespace hs3fit::hs3
