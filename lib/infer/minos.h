// MINOS-style asymmetric intervals: for a parameter θ, the values where the profile
// 2(−ln L(θ, ν̂̂(θ)) − min −ln L) rises to a threshold (1 for 68.27 % CL), found on each side by
// stepping out from θ̂ until the profile exceeds the threshold and then Brent root finding.
// A side that reaches the parameter's bound first ends there (flagged, as Minuit's "limit").
#pragma once
#include "infer/likelihood.h"

namespace hs3fit::infer {

struct MinosInterval {
  uint32_t param = 0;
  double value = 0;                 // θ̂
  double lower = 0, upper = 0;      // signed errors: θ̂ + lower, θ̂ + upper are the interval ends
  bool lower_valid = false, upper_valid = false;        // crossing found
  bool lower_at_limit = false, upper_at_limit = false;  // the bound came first
  double threshold = 1;
  int fits = 0;
  bool fits_converged = true;
};

struct MinosOptions {
  double threshold = 1.0;  // on 2ΔNLL; chi2_threshold(cl, 1) for other levels
  double rel_tolerance = 1e-4;  // of the interval ends, relative to the initial step
  int max_fits = 200;
};

// `best` is the free fit of `likelihood`; `step` the expected size of the error (HESSE error;
// ≤ 0: the parameter's a-priori step).
MinosInterval minos(Likelihood& likelihood, const fit::FitResult& best, uint32_t param, double step,
                    const MinosOptions& options = {});

}  // namespace hs3fit::infer
