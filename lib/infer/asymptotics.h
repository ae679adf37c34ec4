// Asymptotic (Wald) distributions of the test statistics, arXiv:1007.1727 §3, with pyhf's
// conventions (pyhf.infer.calculators.AsymptoticCalculator): everything is computed in
// −μ̂/σ space, where the test statistic becomes
//   q, q0:  t = √q − √q_A
//   q̃:      t = √q − √q_A            if √q ≤ √q_A
//           t = (q − q_A) / (2√q_A)   otherwise                       (eq. 62, pyhf issue #1992: ≤)
// with q_A the statistic on the Asimov dataset, √q_A = (μ − μ')/σ (eq. 29). Then
//   CLsb = Φ(−(t + √q_A)),  CLb = Φ(−t),  CLs = CLsb / CLb
// and the expected band takes t = N for N = 2, 1, 0, −1, −2 (the −2σ … +2σ entries).
// For q0 the "CLsb" is the discovery p-value p0 (pyhf returns CLsb for q0).
#pragma once
#include <array>

#include "infer/test_statistics.h"

namespace hs3fit::infer {

double normal_cdf(double x);       // Φ(x)
double normal_quantile(double p);  // Φ⁻¹(p), full double precision
// Threshold on 2ΔNLL for a confidence level with `dof` parameters (χ² quantile; dof 1 or 2).
double chi2_threshold(double cl, int dof);

struct PValues {
  double clsb = 0;  // p_{s+b}
  double clb = 0;   // 1 − p_b
  double cls = 0;   // CLsb / CLb
};

// Band order of every expected quantity: −2σ, −1σ, median, +1σ, +2σ.
inline constexpr std::array<const char*, 5> kBandNames = {"-2sigma", "-1sigma", "median", "+1sigma", "+2sigma"};

// Observed p-values from the test statistic on the data (q) and on the Asimov data (q_A).
PValues asymptotic_pvalues(TestStat ts, double q, double q_asimov);
// Expected p-values (−2σ … +2σ) from q_A.
std::array<PValues, 5> asymptotic_expected_pvalues(double q_asimov);

}  // namespace hs3fit::infer
