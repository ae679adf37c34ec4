// Numerical robustness of load → compile → minimize on models whose answer is known in closed
// form: fits that start at a bad point, maxima of the likelihood on a bound, bins with zero
// yield, and yields spanning 1e-6 to 1e10. Each checks the result (value, error, −ln L, status),
// not only that the fit runs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include "tape/compiler.h"
#include "workspace.h"

namespace {

std::string numbers(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v[i]);
    out += (i ? ", " : "") + std::string(buf);
  }
  return out + "]";
}

// One channel, signal (normfactor mu) + background (no modifiers, or `bkg_modifiers`).
std::string counting_workspace(const std::vector<double>& s, const std::vector<double>& b, const std::vector<double>& n,
                               const std::string& mu_config = "", const std::string& bkg_modifiers = "") {
  return R"({"channels": [{"name": "SR", "samples": [
      {"name": "signal", "data": )" + numbers(s) + R"(, "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "background", "data": )" + numbers(b) + R"(, "modifiers": [)" + bkg_modifiers + R"(]}]}],
    "observations": [{"name": "SR", "data": )" + numbers(n) + R"(}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": [)" + mu_config + R"(]}}],
    "version": "1.0.0"})";
}

struct Fitted {
  hs3fit::LoadedModel lm;
  hs3fit::fit::FitResult r;
  double value(const std::string& name) const { return r.values[*lm.model.find_parameter(name)]; }
  double error(const std::string& name) const { return r.errors[*lm.model.find_parameter(name)]; }
};

Fitted fit_text(const std::string& text, const hs3fit::model::ParameterOverrides& overrides = {}) {
  char path[] = "/tmp/hs3fit-robust-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  hs3fit::LoadOptions lo;
  lo.overrides = overrides;
  Fitted f{hs3fit::load_model(path, lo), {}};
  std::remove(path);
  hs3fit::tape::Tape tape = hs3fit::tape::compile(f.lm.model);
  hs3fit::eval::Evaluator ev(tape);
  hs3fit::fit::Objective obj = [&ev](const double* x, double* g) { return g ? ev.nll_and_gradient(x, g) : ev.nll(x); };
  f.r = hs3fit::fit::minimize(obj, f.lm.model.parameters);
  return f;
}

// −ln L of a Poisson counting model with yields s·mu + b (pyhf's continuous Poisson).
double counting_nll(double mu, const std::vector<double>& s, const std::vector<double>& b, const std::vector<double>& n) {
  double sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const double lam = mu * s[i] + b[i];
    sum += lam - (n[i] > 0 ? n[i] * std::log(lam) : 0.0) + std::lgamma(n[i] + 1);
  }
  return sum;
}

void require_valid_result(const Fitted& f) {
  INFO("status " << f.r.status << ", edm " << f.r.edm << ", nll " << f.r.nll);
  CHECK(f.r.converged);
  CHECK(std::isfinite(f.r.nll));
  for (size_t i = 0; i < f.r.values.size(); ++i) {
    const auto& p = f.lm.model.parameters[i];
    CHECK(f.r.values[i] >= p.lo);
    CHECK(f.r.values[i] <= p.hi);
    CHECK(std::isfinite(f.r.errors[i]));
  }
}

// The error Minuit (and so hs3fit, README "The fit") reports for a parameter bounded on both
// sides: the internal error σ_ext/|dx/dθ| of the sin transform x = lo + (hi−lo)(sin θ + 1)/2,
// mapped back as the mean of |x(θ±σ_int) − x(θ)| (Minuit2 MnUserTransformation::Int2extError).
double minuit_error(double x, double sigma_ext, double lo, double hi) {
  const double theta = std::asin(2 * (x - lo) / (hi - lo) - 1);
  const double jacobian = 0.5 * (hi - lo) * std::cos(theta);
  const double sigma_int = sigma_ext / jacobian;
  auto ext = [&](double t) { return lo + 0.5 * (hi - lo) * (std::sin(t) + 1); };
  return 0.5 * (std::fabs(ext(theta + sigma_int) - x) + std::fabs(ext(theta - sigma_int) - x));
}

bool at_limit(const Fitted& f, const std::string& name) {
  for (const auto& n : f.r.at_limit)
    if (n == name) return true;
  return false;
}

}  // namespace

TEST_CASE("a one-bin counting fit finds mu_hat = (n - b)/s and sigma = sqrt(n)/s from any start", "[robustness]") {
  const std::vector<double> s{10}, b{50}, n{65};
  const double mu_hat = 1.5, sigma = std::sqrt(65.0) / 10;  // closed form, interior of [0, 10]
  for (double start : {1.0, 1e-9, 0.0, 9.999, 10.0, 5.0}) {
    INFO("start mu = " << start);
    hs3fit::model::ParameterOverrides o;
    o.set = {{"mu", start}};
    Fitted f = fit_text(counting_workspace(s, b, n), o);
    require_valid_result(f);
    CHECK(f.value("mu") == Approx(mu_hat).epsilon(1e-6));
    CHECK(f.error("mu") == Approx(minuit_error(mu_hat, sigma, 0, 10)).epsilon(1e-4));
    CHECK(f.r.nll == Approx(counting_nll(mu_hat, s, b, n)).epsilon(1e-12));
    CHECK_FALSE(at_limit(f, "mu"));
  }
}

TEST_CASE("a likelihood maximum beyond a bound gives the bound, flagged, with the right -ln L", "[robustness]") {
  SECTION("below the lower bound: n < b") {
    const std::vector<double> s{10}, b{50}, n{30};
    Fitted f = fit_text(counting_workspace(s, b, n));
    require_valid_result(f);
    CHECK(f.value("mu") == Approx(0).margin(1e-6));
    CHECK(at_limit(f, "mu"));
    CHECK(f.r.nll == Approx(counting_nll(0, s, b, n)).epsilon(1e-9));
  }
  SECTION("above the upper bound: n > b + 10 s") {
    const std::vector<double> s{10}, b{50}, n{400};
    Fitted f = fit_text(counting_workspace(s, b, n));
    require_valid_result(f);
    CHECK(f.value("mu") == Approx(10).margin(1e-6));
    CHECK(at_limit(f, "mu"));
    CHECK(f.r.nll == Approx(counting_nll(10, s, b, n)).epsilon(1e-9));
  }
  SECTION("narrow bounds from the measurement") {
    const std::vector<double> s{10}, b{50}, n{65};
    Fitted f = fit_text(counting_workspace(s, b, n, R"({"name": "mu", "bounds": [[1.6, 1.7]], "inits": [1.65]})"));
    require_valid_result(f);
    CHECK(f.value("mu") == Approx(1.6).margin(1e-6));
    CHECK(at_limit(f, "mu"));
  }
}

TEST_CASE("bins with zero expected and observed yield contribute nothing", "[robustness]") {
  // pyhf: n = 0 and λ = 0 gives a zero Poisson term (xlogy(0, 0) = 0).
  const std::vector<double> s{10, 0, 5}, b{50, 0, 0}, n{100, 0, 0};
  Fitted f = fit_text(counting_workspace(s, b, n));
  require_valid_result(f);
  // d/dmu: 10 - 100·10/(10 mu + 50) + 5 = 0  →  mu = (1000/15 - 50)/10
  const double mu_hat = (1000.0 / 15.0 - 50.0) / 10.0;
  REQUIRE(mu_hat > 0);
  CHECK(f.value("mu") == Approx(mu_hat).epsilon(1e-6));
  CHECK(f.r.nll == Approx(counting_nll(mu_hat, s, b, n)).epsilon(1e-12));
}

TEST_CASE("a fit starting where -ln L is infinite moves to the finite minimum", "[robustness]") {
  // No background: at mu = 0 every bin with events has λ = 0 and −ln L = +inf.
  const std::vector<double> s{10, 20}, b{0, 0}, n{5, 12};
  const double mu_hat = 17.0 / 30.0;  // Σn / Σs
  hs3fit::model::ParameterOverrides o;
  o.set = {{"mu", 0.0}};
  Fitted f = fit_text(counting_workspace(s, b, n), o);
  require_valid_result(f);
  CHECK(f.value("mu") == Approx(mu_hat).epsilon(1e-6));
  CHECK(f.error("mu") == Approx(minuit_error(mu_hat, std::sqrt(17.0) / 30.0, 0, 10)).epsilon(1e-4));
}

TEST_CASE("huge yields (1e10 events) are fitted to full relative precision", "[robustness]") {
  const std::vector<double> s{1e9}, b{1e10}, n{1.2e10};
  const double mu_hat = 2.0, sigma = std::sqrt(1.2e10) / 1e9;
  Fitted f = fit_text(counting_workspace(s, b, n));
  INFO("status " << f.r.status << ", edm " << f.r.edm);
  CHECK(f.value("mu") == Approx(mu_hat).epsilon(1e-6));
  CHECK(f.error("mu") == Approx(minuit_error(mu_hat, sigma, 0, 10)).epsilon(1e-3));
  // At the minimum ν = n, so −ln L = lnΓ(n+1) − n ln n + n. Evaluated directly in double this
  // cancels terms of 2.8e11 (error ~3e-5); the exact value, from mpmath at 40 digits
  // (n − n·log(n) + loggamma(n+1), n = 1.2e10), is 12.52302477657882291942.
  CHECK(f.r.nll == Approx(12.52302477657882291942).epsilon(1e-12));
  require_valid_result(f);
}

TEST_CASE("tiny yields (1e-6 events) with a wide POI range are fitted", "[robustness]") {
  // One observed event on a background of 1e-6: mu_hat = (1 - 1e-6)/1e-6 inside [0, 1e7].
  const std::vector<double> s{1e-6}, b{1e-6}, n{1};
  const double mu_hat = (1 - 1e-6) / 1e-6;
  Fitted f = fit_text(counting_workspace(s, b, n, R"({"name": "mu", "bounds": [[0, 1e7]]})"));
  require_valid_result(f);
  CHECK(f.value("mu") == Approx(mu_hat).epsilon(1e-6));
  CHECK(f.error("mu") == Approx(minuit_error(mu_hat, 1.0 / 1e-6, 0, 1e7)).epsilon(1e-3));  // sigma = sqrt(n)/s
  SECTION("and no events on a tiny background puts mu on its lower bound") {
    Fitted g = fit_text(counting_workspace(s, b, {0.0}));
    require_valid_result(g);
    CHECK(g.value("mu") == Approx(0).margin(1e-6));
  }
}

TEST_CASE("a normsys pull with a Gaussian constraint matches a bisection of the analytic -ln L", "[robustness]") {
  // Background only: λ(α) = b·κ(α) with code4 interpolation; far in the exponential tail the
  // factor is hi^α. With n = 200 and b = 100, hi = 1.05 the pull is well beyond α = 1, where
  // code4 is exactly hi^α: −ln L(α) = b·hi^α − n α ln hi + α²/2 (+ const).
  const double b = 100, hi = 1.05, n = 200;
  auto dnll = [&](double a) { return b * std::pow(hi, a) * std::log(hi) - n * std::log(hi) + a; };
  double lo_a = 1.0, hi_a = 5.0;  // dnll(1) < 0 < dnll(5)
  REQUIRE(dnll(lo_a) < 0);
  REQUIRE(dnll(hi_a) > 0);
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo_a + hi_a);
    (dnll(mid) < 0 ? lo_a : hi_a) = mid;
  }
  const double alpha_hat = 0.5 * (lo_a + hi_a);
  const std::string text = R"({"channels": [{"name": "SR", "samples": [
      {"name": "background", "data": [100], "modifiers": [{"name": "syst", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}}]}]}],
    "observations": [{"name": "SR", "data": [200]}],
    "measurements": [{"name": "m", "config": {"poi": "", "parameters": []}}], "version": "1.0.0"})";
  Fitted f = fit_text(text);
  require_valid_result(f);
  CHECK(f.value("syst") == Approx(alpha_hat).epsilon(1e-6));
  CHECK_FALSE(at_limit(f, "syst"));
}

TEST_CASE("a constrained parameter pulled onto its bound stays there, flagged", "[robustness]") {
  // Observed far above what alpha in [-5, 5] can reach: the fit must end on alpha = 5.
  const std::string text = R"({"channels": [{"name": "SR", "samples": [
      {"name": "background", "data": [100], "modifiers": [{"name": "syst", "type": "normsys", "data": {"hi": 1.01, "lo": 0.99}}]}]}],
    "observations": [{"name": "SR", "data": [1000]}],
    "measurements": [{"name": "m", "config": {"poi": "", "parameters": []}}], "version": "1.0.0"})";
  Fitted f = fit_text(text);
  require_valid_result(f);
  CHECK(f.value("syst") == Approx(5).margin(1e-6));
  CHECK(at_limit(f, "syst"));
}
