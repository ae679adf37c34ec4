// Profile-likelihood test statistics of Cowan, Cranmer, Gross, Vitells (arXiv:1007.1727), as
// pyhf.infer.test_statistics computes them from two fits: the conditional fit at μ (−ln L(μ, θ̂̂))
// and the free fit (−ln L(μ̂, θ̂)).
//
//   tμ  = −2 ln λ(μ)                            (eq. 8)    t̃μ = the same with μ̂ ≥ 0 (eq. 11)
//   qμ  = −2 ln λ(μ) if μ̂ ≤ μ, else 0           (eq. 14)   q̃μ = the same with μ̂ ≥ 0 (eq. 16)
//   q0  = −2 ln λ(0) if μ̂ ≥ 0, else 0           (eq. 12)
//
// −2 ln λ is clipped at 0 (a conditional fit cannot be better than the free one). The tilde
// variants differ only in the free fit: μ̂ is restricted to μ ≥ 0 (pyhf gets this from the POI's
// lower bound 0; hs3fit raises a negative lower bound to 0 for t̃μ and q̃μ, see calculator.h).
#pragma once
#include <string>

namespace hs3fit::infer {

enum class TestStat { Q0, Qmu, QmuTilde, Tmu, TmuTilde };

// "q0", "q", "qtilde", "t", "ttilde" (pyhf's names); throws Error(Usage) naming `option`.
TestStat parse_test_stat(const std::string& name, const std::string& option);
const char* to_string(TestStat ts);
bool is_tilde(TestStat ts);

// The test statistic at POI value `mu` from the two minima (−ln L, not twice) and μ̂.
double test_statistic(TestStat ts, double mu, double nll_conditional, double nll_free, double poi_hat);

}  // namespace hs3fit::infer
