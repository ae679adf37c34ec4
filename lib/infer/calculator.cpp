#include "infer/calculator.h"

#include <cmath>
#include <limits>
#include <spdlog/spdlog.h>

#include "core/error.h"

namespace hs3fit::infer {

uint32_t require_floating_poi(const model::Model& m) {
  if (!m.poi) throw Error(ErrorKind::Usage, "--poi", "the model has no parameter of interest (give one with --poi)");
  const model::Parameter& p = m.parameters[*m.poi];
  if (p.fixed)
    throw Error(ErrorKind::Usage, "--poi",
                "the parameter of interest '" + p.name + "' is fixed; profile-likelihood inference needs it floating (--float " + p.name + ")");
  return *m.poi;
}

model::Model model_for_test_stat(model::Model m, TestStat ts) {
  const uint32_t poi = require_floating_poi(m);
  model::Parameter& p = m.parameters[poi];
  if (is_tilde(ts) && p.lo < 0) {
    spdlog::warn("{} needs {} >= 0: its lower bound {} is raised to 0 for this test statistic", to_string(ts), p.name, p.lo);
    p.lo = 0;
    if (p.hi < 0) throw Error(ErrorKind::Usage, "--bounds", p.name + " has an upper bound below 0; " + to_string(ts) + " needs it >= 0");
    if (p.init < 0) p.init = 0;
  } else if ((ts == TestStat::Qmu || ts == TestStat::Tmu) && p.lo == 0) {
    spdlog::info("{} with {} bounded at 0 is {}tilde", to_string(ts), p.name, to_string(ts));
  }
  return m;
}

namespace {
void record(const fit::FitResult& r, int& fits, int& failed, const char* what, double mu) {
  ++fits;
  if (r.converged) return;
  if (usable(r)) {
    spdlog::debug("{} at POI = {:g}: EDM {:.3g} above the goal {:.3g}, accepted", what, mu, r.edm, r.edm_goal);
    return;
  }
  ++failed;
  spdlog::warn("{} at POI = {:g} did not converge: {} (EDM {:.3g})", what, mu, r.status, r.edm);
}
}  // namespace

AsymptoticCalculator::AsymptoticCalculator(const model::Model& m, CalculatorOptions options)
    : options_(options), poi_(require_floating_poi(m)), asimov_mu_(options.test_stat == TestStat::Q0 ? 1.0 : 0.0),
      data_(model_for_test_stat(m, options.test_stat), options.fit) {
  start();
}

AsymptoticCalculator::AsymptoticCalculator(const Likelihood& data, CalculatorOptions options)
    : options_(options), poi_(require_floating_poi(data.model())), asimov_mu_(options.test_stat == TestStat::Q0 ? 1.0 : 0.0),
      data_(data.with_parameters(model_for_test_stat(data.model(), options.test_stat).parameters)) {
  start();
}

void AsymptoticCalculator::start() {
  free_data_ = data_.minimize();
  record(free_data_, fits_, failed_, "free fit to the data", free_data_.values[poi_]);
  asimov_pars_ = data_.minimize({{poi_, asimov_mu_}}, free_data_.values);
  record(asimov_pars_, fits_, failed_, "conditional fit to the data", asimov_mu_);
  asimov_ = std::make_unique<Likelihood>(data_.asimov(asimov_pars_.values));
  free_asimov_ = asimov_->minimize({}, asimov_pars_.values);
  record(free_asimov_, fits_, failed_, "free fit to the Asimov data", asimov_mu_);
  profile_data_ = std::make_unique<Profile>(data_, poi_, free_data_);
  profile_data_->add_start(asimov_pars_.values);
  profile_asimov_ = std::make_unique<Profile>(*asimov_, poi_, free_asimov_);
}

HypotestResult AsymptoticCalculator::hypotest(double mu) {
  const TestStat ts = options_.test_stat;
  if (ts == TestStat::Q0 && mu != 0) throw Error(ErrorKind::Usage, "--test-stat", "q0 tests POI = 0 only");
  HypotestResult h;
  h.poi = mu;
  const fit::FitResult cd = profile_data_->at(mu);
  record(cd, fits_, failed_, "conditional fit to the data", mu);
  const fit::FitResult ca = profile_asimov_->at(mu);
  record(ca, fits_, failed_, "conditional fit to the Asimov data", mu);
  h.converged = usable(cd) && usable(ca);
  h.q_obs = test_statistic(ts, mu, cd.nll, free_data_.nll, free_data_.values[poi_]);
  h.q_asimov = test_statistic(ts, mu, ca.nll, free_asimov_.nll, free_asimov_.values[poi_]);
  h.obs = asymptotic_pvalues(ts, h.q_obs, h.q_asimov);
  h.exp = asymptotic_expected_pvalues(h.q_asimov);
  return h;
}

namespace {
Significance significance_from(AsymptoticCalculator& calc) {
  const HypotestResult h = calc.hypotest(0.0);
  Significance s;
  s.q0 = h.q_obs;
  s.p0 = h.obs.clsb;
  s.z0 = std::sqrt(h.q_obs);
  s.q0_asimov = h.q_asimov;
  s.p0_exp = h.exp[2].clsb;
  s.z0_exp = std::sqrt(h.q_asimov);
  for (size_t k = 0; k < 5; ++k) s.p0_exp_band[k] = h.exp[k].clsb;
  s.poi_hat = calc.free_fit().values[calc.poi()];
  s.converged = calc.failed_fits() == 0;
  return s;
}
}  // namespace

Significance discovery_significance(const model::Model& m, const fit::FitOptions& fit) {
  AsymptoticCalculator calc(m, {TestStat::Q0, fit});
  return significance_from(calc);
}

Significance discovery_significance(const Likelihood& likelihood, const fit::FitOptions& fit) {
  AsymptoticCalculator calc(likelihood, {TestStat::Q0, fit});
  return significance_from(calc);
}

Significance observed_significance(Likelihood& likelihood) {
  const uint32_t poi = require_floating_poi(likelihood.model());
  int fits = 0, failed = 0;
  const fit::FitResult free = likelihood.minimize();
  record(free, fits, failed, "free fit to the data", free.values[poi]);
  const fit::FitResult zero = likelihood.minimize({{poi, 0.0}}, free.values);
  record(zero, fits, failed, "conditional fit to the data", 0.0);
  Significance s;
  s.q0 = test_statistic(TestStat::Q0, 0.0, zero.nll, free.nll, free.values[poi]);
  s.p0 = asymptotic_pvalues(TestStat::Q0, s.q0, 0.0).clsb;
  s.z0 = std::sqrt(s.q0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  s.q0_asimov = s.p0_exp = s.z0_exp = nan;
  s.p0_exp_band.fill(nan);
  s.poi_hat = free.values[poi];
  s.converged = failed == 0;
  s.has_expected = false;
  return s;
}

}  // namespace hs3fit::infer
