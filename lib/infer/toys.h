// Frequentist CLs from pseudo-experiments (pyhf.infer.calculators.ToyCalculator): toys are drawn
// from the model at the nuisance parameters profiled on the observed data — at the tested μ for
// the signal+background sample, at μ = 0 for the background-only sample (LHC-HCG 2011
// procedure). Main counts ~ Poisson(ν), Gaussian auxiliary data ~ N(θ̂, σ), Poisson auxiliary
// data ~ Poisson(γ̂·τ). Every toy is fitted twice (free and at μ) for its test statistic; then
//   CLsb = P(q ≥ q_obs | s+b),  CLb = P(q ≥ q_obs | b),  CLs = CLsb / CLb
// and the expected band is the 2.3/15.9/50/84.1/97.7 % percentiles (linear interpolation, as
// numpy) of CLsb, CLb and CLs evaluated at the background-only toys' test statistics.
//
// Reproducibility: toy i of sample h draws from Rng::for_toy(seed, h, i) and is fitted from the
// same start whatever thread runs it; results are gathered by index, so they are bit-identical
// for any thread count. The background-only toys do not depend on μ: their datasets and free
// fits are made once and reused for every tested μ.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "infer/calculator.h"
#include "infer/likelihood.h"
#include "infer/random.h"
#include "infer/shards.h"
#include "infer/upper_limit.h"

namespace hs3fit::infer {

struct ToyOptions {
  int ntoys = 1000;   // per hypothesis
  uint64_t seed = 0;
  int threads = 0;    // 0: all hardware threads
  TestStat test_stat = TestStat::QmuTilde;
  fit::FitOptions fit = inference_fit_options();
  // Only the toys of this shard: toy index i (the same i in both samples) belongs to shard
  // (i mod N) + 1. Default 1/1: every toy. Used by `limit --toys --hypotest --shard`.
  shards::Shard shard;
};

// One pseudo-dataset drawn from the model's expected data at `values` (a Likelihood's
// expected()): Poisson main counts and auxiliary data as described above.
Dataset sample_dataset(const model::Model& m, const Dataset& expected, const std::vector<double>& values, Rng& rng);

struct ToyHypotest {
  HypotestResult result;          // q_obs, CLs etc.; q_asimov is NaN
  PValues obs_error;              // binomial standard errors of the observed p-values
  std::vector<double> q_sb, q_b;  // test statistics of the toys, by toy index (NaN: fit failed)
  std::vector<char> sb_converged, b_converged;  // by toy index
  int failed_toys = 0;            // toys whose fits did not converge (kept) or gave no number (dropped)
};

// The p-values, expected band, their errors and failed_toys of `t` from t.result.poi,
// t.result.q_obs and the toys (q_sb, q_b, *_converged): what hypotest() does after the toys,
// and what merging toy shards does. Error(Usage) when no toy has a finite test statistic.
void finish_toy_hypotest(ToyHypotest& t);

// numpy.percentile(values, p, interpolation="linear") of unsorted values (p in percent).
double percentile_linear(std::vector<double> values, double p);

class ToyCalculator {
 public:
  ToyCalculator(const model::Model& m, ToyOptions options);
  ToyCalculator(const ToyCalculator&) = delete;
  ToyCalculator& operator=(const ToyCalculator&) = delete;
  ~ToyCalculator();

  ToyHypotest hypotest(double mu);
  // The toys of options.shard at μ without the p-values (result.poi, q_obs, converged and the
  // shard's entries of q_sb, q_b, *_converged set; other toys NaN / not converged).
  ToyHypotest toys(double mu);

  uint32_t poi() const { return poi_; }
  const fit::FitResult& free_fit() const { return free_data_; }
  const model::Model& model() const { return data_.model(); }
  int threads() const { return threads_; }
  TestStat test_stat() const { return options_.test_stat; }
  const fit::FitOptions& fit_options() const { return options_.fit; }
  long long fits() const { return fits_; }

 private:
  struct ToyFit;
  std::vector<ToyFit> run_toys(int stream, const std::vector<double>& generating, double mu, std::vector<ToyFit>* cached_free);
  ToyOptions options_;
  uint32_t poi_ = 0;
  int threads_ = 1;
  Likelihood data_;
  fit::FitResult free_data_;
  fit::FitResult background_;  // θ̂̂(0) on the data: generates the background-only toys
  std::unique_ptr<Profile> profile_;
  std::vector<ToyFit> background_free_;  // free fits of the background-only toys, made once
  long long fits_ = 0;
};

// CLs upper limits from toys: the asymptotic limits (cheap) are tested first as guesses, then
// each curve is solved by Brent's method on the toy CLs (which is a step function of μ with
// the same toys: keep rtol coarse, 5e-3 by default in the CLI). `hypotests`, if not null,
// receives every toy hypothesis test.
UpperLimitResult toy_upper_limit(ToyCalculator& calc, UpperLimitOptions options, std::vector<ToyHypotest>* hypotests = nullptr);

}  // namespace hs3fit::infer
