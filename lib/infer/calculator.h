// pyhf's AsymptoticCalculator: hypothesis tests at POI values μ from the observed data and one
// Asimov dataset. The Asimov dataset is the expected data (main yields and auxiliary data) at
// μ' = 0 (μ' = 1 for q0) with the nuisance parameters profiled on the observed data at μ'
// (pyhf.infer.calculators.generate_asimov_data). Per tested μ two conditional fits are needed
// (data and Asimov); the free fits of both datasets are done once.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "infer/asymptotics.h"
#include "infer/likelihood.h"
#include "infer/test_statistics.h"

namespace hs3fit::infer {

struct CalculatorOptions {
  TestStat test_stat = TestStat::QmuTilde;
  fit::FitOptions fit = inference_fit_options();
};

struct HypotestResult {
  double poi = 0;
  double q_obs = 0;     // test statistic on the observed data
  double q_asimov = 0;  // on the Asimov data
  PValues obs;
  std::array<PValues, 5> exp;  // −2σ … +2σ
  bool converged = true;       // both conditional fits converged
};

// The POI of `m`, checked: it must exist and float (throws Error(Usage) naming --poi).
uint32_t require_floating_poi(const model::Model& m);

// A copy of `m` ready for test statistic `ts`: for q̃μ and t̃μ a negative POI lower bound is
// raised to 0 (the definition of the tilde statistics; pyhf relies on the bound being 0).
model::Model model_for_test_stat(model::Model m, TestStat ts);

class AsymptoticCalculator {
 public:
  AsymptoticCalculator(const model::Model& m, CalculatorOptions options = {});
  // On any likelihood with an Asimov dataset (Likelihood::asimov), e.g. a general HS3 one.
  AsymptoticCalculator(const Likelihood& data, CalculatorOptions options);
  AsymptoticCalculator(const AsymptoticCalculator&) = delete;  // profiles refer to the likelihoods
  AsymptoticCalculator& operator=(const AsymptoticCalculator&) = delete;

  HypotestResult hypotest(double mu);

  uint32_t poi() const { return poi_; }
  TestStat test_stat() const { return options_.test_stat; }
  double asimov_poi() const { return asimov_mu_; }
  const fit::FitResult& free_fit() const { return free_data_; }          // μ̂, θ̂ on the data
  const fit::FitResult& asimov_parameters() const { return asimov_pars_; } // θ̂̂(μ') on the data
  const fit::FitResult& free_fit_asimov() const { return free_asimov_; }
  const model::Model& model() const { return data_.model(); }
  int fits() const { return fits_; }
  int failed_fits() const { return failed_; }

 private:
  CalculatorOptions options_;
  uint32_t poi_ = 0;
  double asimov_mu_ = 0;
  void start();
  Likelihood data_;
  std::unique_ptr<Likelihood> asimov_;
  fit::FitResult free_data_, asimov_pars_, free_asimov_;
  std::unique_ptr<Profile> profile_data_, profile_asimov_;  // conditional fits in μ, warm-started
  int fits_ = 0, failed_ = 0;
};

// Discovery significance with q0 (pyhf hypotest(0, test_stat="q0")): observed q0, p0 and
// Z0 = √q0, and the expected ones from the Asimov dataset at μ' = 1.
struct Significance {
  double q0 = 0, p0 = 0, z0 = 0;               // observed
  double q0_asimov = 0, p0_exp = 0, z0_exp = 0;  // expected (median)
  std::array<double, 5> p0_exp_band{};         // −2σ … +2σ
  double poi_hat = 0;
  bool converged = true;
  bool has_expected = true;  // false: no Asimov dataset (objective-only likelihood); expected fields NaN
};
Significance discovery_significance(const model::Model& m, const fit::FitOptions& fit = inference_fit_options());
// The observed part only (q0, p0, Z0 from the free fit and the fit at POI = 0), for likelihoods
// without datasets (Likelihood::has_datasets() false: unbinned HS3), where no Asimov dataset
// gives the expected significance.
Significance observed_significance(Likelihood& likelihood);
// Observed and expected, on any likelihood with an Asimov dataset (Likelihood::asimov).
Significance discovery_significance(const Likelihood& likelihood, const fit::FitOptions& fit);

}  // namespace hs3fit::infer
