// Brent's method (Brent 1973, "Algorithms for Minimization without Derivatives", ch. 4;
// the classic zeroin): inverse quadratic / secant steps guarded by bisection on a bracket.
#pragma once
#include <functional>

namespace hs3fit::infer {

struct RootOptions {
  double atol = 2e-12;  // stop when the bracket is below atol + rtol·|x| (scipy's toms748 rule)
  double rtol = 1e-5;
  int max_evaluations = 100;
};

struct Root {
  double x = 0;
  double fx = 0;
  int evaluations = 0;
  bool converged = false;
};

// Root of f in [a, b], given fa = f(a) and fb = f(b) of opposite signs (or one of them 0).
Root brent_root(const std::function<double(double)>& f, double a, double b, double fa, double fb, const RootOptions& options = {});

}  // namespace hs3fit::infer
