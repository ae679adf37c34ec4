// Every HistFactory modifier and interpolation code on hand-made one-, two- and three-bin
// workspaces, against −ln L written out in closed form here (continuous Poisson with lgamma,
// Gaussian and Poisson constraints with pyhf's full normalisation; /work/notes/pyhf-semantics.md),
// plus fits whose minimum and errors have a closed form.
#include <map>

#include "test_support.h"

namespace {

using namespace hs3test;
using hs3fit::model::Interp;

std::string workspace(const std::string& channels, const std::string& observations, const std::string& parameters = "[]",
                      const std::string& poi = "mu") {
  return R"({"channels": )" + channels + R"(, "observations": )" + observations +
         R"(, "measurements": [{"name": "meas", "config": {"poi": ")" + poi + R"(", "parameters": )" + parameters +
         R"(}}], "version": "1.0.0"})";
}

hs3fit::LoadOptions codes(Interp normsys, Interp histosys) {
  hs3fit::LoadOptions o;
  o.build.normsys_interp = normsys;
  o.build.histosys_interp = histosys;
  return o;
}

// The initial point with some parameters changed by name.
std::vector<double> at(const Compiled& c, const std::map<std::string, double>& values) {
  std::vector<double> x = c.model().initial_values();
  for (const auto& [name, v] : values) x[c.index(name)] = v;
  return x;
}

std::vector<std::string> names(const Compiled& c) {
  std::vector<std::string> out;
  for (const auto& p : c.params()) out.push_back(p.name);
  return out;
}

const double kHalfLog2Pi = 0.5 * std::log(2 * M_PI);

}  // namespace

TEST_CASE("normfactor scales its samples, one name is one parameter", "[modifiers]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5, 2], "modifiers": [{"name": "mu", "type": "normfactor", "data": null},
                                                        {"name": "k", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50, 30], "modifiers": [{"name": "k", "type": "normfactor", "data": null}]},
      {"name": "other", "data": [3, 4], "modifiers": []}]}])",
                                  R"([{"name": "SR", "data": [53, 37]}])"));
  // pyhf's order: first encounter walking samples sorted by name (bkg before signal).
  REQUIRE(names(*c) == std::vector<std::string>{"k", "mu"});
  for (const auto& p : c->params()) {
    CHECK(p.init == 1.0);
    CHECK(p.lo == 0.0);
    CHECK(p.hi == 10.0);
    CHECK(!p.fixed);
  }
  CHECK(c->model().constraints.empty());
  REQUIRE(c->model().poi);
  CHECK(*c->model().poi == c->index("mu"));
  for (auto [mu, k] : {std::pair{1.0, 1.0}, {0.0, 1.3}, {2.7, 0.8}, {0.3, 2.2}}) {
    INFO("mu " << mu << " k " << k);
    const double want = pois_nll(53, 5 * mu * k + 50 * k + 3) + pois_nll(37, 2 * mu * k + 30 * k + 4);
    CHECK(c->nll(at(*c, {{"mu", mu}, {"k", k}})) == Approx(want).epsilon(1e-13));
  }
}

TEST_CASE("normsys: codes 4 (default) and 1, factors multiply, one alpha across samples", "[modifiers][interpolation]") {
  const std::string ws = workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5, 8], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50, 30], "modifiers": [
          {"name": "n2", "type": "normsys", "data": {"hi": 1.05, "lo": 0.97}},
          {"name": "n1", "type": "normsys", "data": {"hi": 1.1, "lo": 0.85}}]},
      {"name": "bkg2", "data": [10, 20], "modifiers": [{"name": "n1", "type": "normsys", "data": {"hi": 1.3, "lo": 0.8}}]}]}])",
                                   R"([{"name": "SR", "data": [60, 55]}])");
  for (Interp code : {Interp::Code4, Interp::Code1}) {
    INFO("normsys " << hs3fit::model::to_string(code));
    auto c = code == Interp::Code4 ? compile_text(ws) : compile_text(ws, codes(code, Interp::Code4p));
    REQUIRE(names(*c) == std::vector<std::string>{"mu", "n1", "n2"});
    for (const char* a : {"n1", "n2"}) {
      const auto& p = c->params()[c->index(a)];
      CHECK(p.init == 0.0);
      CHECK(p.lo == -5.0);
      CHECK(p.hi == 5.0);
    }
    CHECK(c->model().constraints.size() == 2);
    for (auto [mu, a1, a2] : {std::tuple{1.0, 0.0, 0.0}, {1.3, 0.5, -0.7}, {0.8, -1.6, 2.2}, {1.0, 1.0, -1.0}, {2.0, -3.5, 0.2}}) {
      INFO("mu " << mu << " n1 " << a1 << " n2 " << a2);
      const double f1 = spec::interp(code, a1, 1, 1.1, 0.85), f2 = spec::interp(code, a2, 1, 1.05, 0.97),
                   g1 = spec::interp(code, a1, 1, 1.3, 0.8);
      const double want = pois_nll(60, 5 * mu + 50 * f1 * f2 + 10 * g1) + pois_nll(55, 8 * mu + 30 * f1 * f2 + 20 * g1) +
                          gauss_nll(0, a1, 1) + gauss_nll(0, a2, 1);
      CHECK(c->nll(at(*c, {{"mu", mu}, {"n1", a1}, {"n2", a2}})) == Approx(want).epsilon(1e-13));
    }
  }
}

TEST_CASE("histosys: codes 4p (default), 0 and 2, deltas summed against the nominal, alpha shared with a normsys", "[modifiers][interpolation]") {
  const std::string ws = workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5, 8], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50, 30], "modifiers": [
          {"name": "h2", "type": "histosys", "data": {"hi_data": [52, 29], "lo_data": [49, 32]}},
          {"name": "h1", "type": "histosys", "data": {"hi_data": [55, 33], "lo_data": [46, 28]}}]},
      {"name": "bkg2", "data": [10, 20], "modifiers": [{"name": "h1", "type": "normsys", "data": {"hi": 1.05, "lo": 0.96}}]}]}])",
                                   R"([{"name": "SR", "data": [62, 40]}])");
  for (Interp code : {Interp::Code4p, Interp::Code0, Interp::Code2}) {
    INFO("histosys " << hs3fit::model::to_string(code));
    auto c = compile_text(ws, codes(Interp::Code4, code));
    // pyhf's order: the histosys group first (a name shared with a normsys sits there), then normfactors.
    REQUIRE(names(*c) == std::vector<std::string>{"h1", "h2", "mu"});
    CHECK(c->model().constraints.size() == 2);  // one Gaussian per α, even when shared
    for (auto [mu, a1, a2] : {std::tuple{1.0, 0.0, 0.0}, {1.3, 0.5, -0.7}, {0.8, -1.6, 2.2}, {1.0, 1.0, -1.0}, {0.5, 2.5, -3.0}}) {
      INFO("mu " << mu << " h1 " << a1 << " h2 " << a2);
      const double b0 = 50 + spec::interp(code, a1, 50, 55, 46) + spec::interp(code, a2, 50, 52, 49);
      const double b1 = 30 + spec::interp(code, a1, 30, 33, 28) + spec::interp(code, a2, 30, 29, 32);
      const double g = spec::code4(a1, 1, 1.05, 0.96);
      const double want = pois_nll(62, 5 * mu + b0 + 10 * g) + pois_nll(40, 8 * mu + b1 + 20 * g) + gauss_nll(0, a1, 1) + gauss_nll(0, a2, 1);
      CHECK(c->nll(at(*c, {{"mu", mu}, {"h1", a1}, {"h2", a2}})) == Approx(want).epsilon(1e-13));
    }
  }
}

TEST_CASE("multiplicative codes on histosys scale the sample (ROOT semantics, selectable)", "[modifiers][interpolation]") {
  const std::string ws = workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50], "modifiers": [{"name": "h", "type": "histosys", "data": {"hi_data": [56], "lo_data": [47]}}]}]}])",
                                   R"([{"name": "SR", "data": [58]}])");
  for (Interp code : {Interp::Code1, Interp::Code4}) {
    INFO("histosys " << hs3fit::model::to_string(code));
    auto c = compile_text(ws, codes(Interp::Code4, code));
    for (double a : {-2.2, -0.4, 0.0, 0.7, 1.9}) {
      const double want = pois_nll(58, 5 + spec::varied(code, a, 50, 56, 47)) + gauss_nll(0, a, 1);
      CHECK(c->nll(at(*c, {{"h", a}})) == Approx(want).epsilon(1e-13));
    }
  }
}

TEST_CASE("shapesys: Poisson constraint with tau = (n/sigma)^2, bins without uncertainty or yield fixed with tau = 1", "[modifiers]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5, 3, 1], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50, 20, 0], "modifiers": [{"name": "ss", "type": "shapesys", "data": [5, 0, 2]}]}]}])",
                                  R"([{"name": "SR", "data": [58, 21, 2]}])"));
  REQUIRE(names(*c) == std::vector<std::string>{"mu", "ss[0]", "ss[1]", "ss[2]"});
  CHECK(!c->params()[c->index("ss[0]")].fixed);
  CHECK(c->params()[c->index("ss[1]")].fixed);  // zero uncertainty
  CHECK(c->params()[c->index("ss[2]")].fixed);  // zero nominal
  for (const char* g : {"ss[0]", "ss[1]", "ss[2]"}) {
    const auto& p = c->params()[c->index(g)];
    CHECK(p.init == 1.0);
    CHECK(p.lo == 1e-10);
    CHECK(p.hi == 10.0);
  }
  CHECK(c->model().constraints.size() == 3);  // the fixed bins keep their (constant) terms, as in pyhf
  for (auto [mu, g0] : {std::pair{1.0, 1.0}, {0.4, 1.08}, {2.1, 0.9}}) {
    INFO("mu " << mu << " ss[0] " << g0);
    const double want = pois_nll(58, 5 * mu + 50 * g0) + pois_nll(21, 3 * mu + 20) + pois_nll(2, mu) +
                        pois_constraint_nll(100, g0, 100) + 2 * pois_constraint_nll(1, 1, 1);
    CHECK(c->nll(at(*c, {{"mu", mu}, {"ss[0]", g0}})) == Approx(want).epsilon(1e-13));
  }
}

TEST_CASE("staterror: one gamma per bin, sigma in quadrature over the samples carrying it, zero-uncertainty bins fixed", "[modifiers]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5, 3, 2], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkgA", "data": [40, 10, 0], "modifiers": [{"name": "stat_SR", "type": "staterror", "data": [4, 0, 0]}]},
      {"name": "bkgB", "data": [10, 5, 0], "modifiers": [{"name": "stat_SR", "type": "staterror", "data": [3, 0, 0]}]}]}])",
                                  R"([{"name": "SR", "data": [60, 17, 3]}])"));
  REQUIRE(names(*c) == std::vector<std::string>{"mu", "stat_SR[0]", "stat_SR[1]", "stat_SR[2]"});
  CHECK(!c->params()[c->index("stat_SR[0]")].fixed);
  CHECK(c->params()[c->index("stat_SR[1]")].fixed);  // no uncertainty
  CHECK(c->params()[c->index("stat_SR[2]")].fixed);  // no yield
  CHECK(c->model().constraints.size() == 3);
  // σ_0 = sqrt((4/50)² + (3/50)²) = 0.1 (N = 50 counts only the samples carrying the staterror)
  for (auto [mu, g0, g1] : {std::tuple{1.0, 1.0, 1.0}, {0.7, 1.12, 1.0}, {1.9, 0.85, 1.3}}) {
    INFO("mu " << mu << " stat_SR[0] " << g0 << " stat_SR[1] " << g1);
    const double want = pois_nll(60, 5 * mu + 50 * g0) + pois_nll(17, 3 * mu + 15 * g1) + pois_nll(3, 2 * mu) +
                        gauss_nll(1, g0, 0.1) + gauss_nll(1, g1, 1.0) + gauss_nll(1, 1.0, 1.0);
    CHECK(c->nll(at(*c, {{"mu", mu}, {"stat_SR[0]", g0}, {"stat_SR[1]", g1}})) == Approx(want).epsilon(1e-13));
  }
}

TEST_CASE("staterror shared by channels: bins concatenated in sorted channel order", "[modifiers]") {
  // Channel B is written first; pyhf sorts channels, so A's bins come first.
  auto c = compile_text(workspace(R"([
      {"name": "B", "samples": [
        {"name": "signal", "data": [2], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
        {"name": "bkg", "data": [20], "modifiers": [{"name": "stat", "type": "staterror", "data": [4]}]}]},
      {"name": "A", "samples": [
        {"name": "signal", "data": [1, 1], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
        {"name": "bkg", "data": [100, 25], "modifiers": [{"name": "stat", "type": "staterror", "data": [5, 5]}]}]}])",
                                  R"([{"name": "B", "data": [25]}, {"name": "A", "data": [98, 27]}])"));
  REQUIRE(names(*c) == std::vector<std::string>{"mu", "stat[0]", "stat[1]", "stat[2]"});
  const double mu = 1.4, a0 = 0.97, a1 = 1.1, b0 = 1.2;
  const double want = pois_nll(98, mu + 100 * a0) + pois_nll(27, mu + 25 * a1) + pois_nll(25, 2 * mu + 20 * b0) +
                      gauss_nll(1, a0, 0.05) + gauss_nll(1, a1, 0.2) + gauss_nll(1, b0, 0.2);
  CHECK(c->nll(at(*c, {{"mu", mu}, {"stat[0]", a0}, {"stat[1]", a1}, {"stat[2]", b0}})) == Approx(want).epsilon(1e-13));
}

TEST_CASE("shapefactor: free per-bin factors shared bin by bin across channels", "[modifiers]") {
  auto c = compile_text(workspace(R"([
      {"name": "SR", "samples": [
        {"name": "signal", "data": [5, 2], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
        {"name": "bkg", "data": [20, 10], "modifiers": [{"name": "sf", "type": "shapefactor", "data": null}]}]},
      {"name": "CR", "samples": [
        {"name": "bkg", "data": [200, 100], "modifiers": [{"name": "sf", "type": "shapefactor", "data": null}]}]}])",
                                  R"([{"name": "SR", "data": [28, 11]}, {"name": "CR", "data": [210, 95]}])"));
  REQUIRE(names(*c) == std::vector<std::string>{"mu", "sf[0]", "sf[1]"});
  CHECK(c->model().constraints.empty());
  for (const char* s : {"sf[0]", "sf[1]"}) {
    const auto& p = c->params()[c->index(s)];
    CHECK(p.init == 1.0);
    CHECK(p.lo == 0.0);
    CHECK(p.hi == 10.0);
  }
  const double mu = 1.3, s0 = 1.05, s1 = 0.9;
  const double want = pois_nll(28, 5 * mu + 20 * s0) + pois_nll(11, 2 * mu + 10 * s1) + pois_nll(210, 200 * s0) + pois_nll(95, 100 * s1);
  CHECK(c->nll(at(*c, {{"mu", mu}, {"sf[0]", s0}, {"sf[1]", s1}})) == Approx(want).epsilon(1e-13));

  // A shared shapefactor on channels with different bin counts is refused (pyhf would silently
  // read parameter 0 for the extra bins).
  CHECK_THROWS_AS(compile_text(workspace(R"([
      {"name": "SR", "samples": [{"name": "bkg", "data": [20, 10], "modifiers": [{"name": "sf", "type": "shapefactor", "data": null},
                                                                                  {"name": "mu", "type": "normfactor", "data": null}]}]},
      {"name": "CR", "samples": [{"name": "bkg", "data": [200], "modifiers": [{"name": "sf", "type": "shapefactor", "data": null}]}]}])",
                                         R"([{"name": "SR", "data": [28, 11]}, {"name": "CR", "data": [210]}])")),
                  hs3fit::Error);
}

TEST_CASE("lumi: Gaussian constraint from the measurement's auxdata and sigmas, shared by samples", "[modifiers]") {
  const std::string channels = R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [10], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}, {"name": "lumi", "type": "lumi", "data": null}]},
      {"name": "bkg", "data": [50], "modifiers": [{"name": "lumi", "type": "lumi", "data": null}]},
      {"name": "bkg2", "data": [7], "modifiers": []}]}])";
  const std::string obs = R"([{"name": "SR", "data": [65]}])";
  auto c = compile_text(workspace(channels, obs,
                                  R"([{"name": "lumi", "auxdata": [1.02], "sigmas": [0.05], "inits": [1.0], "bounds": [[0.5, 1.5]]}])"));
  REQUIRE(names(*c) == std::vector<std::string>{"lumi", "mu"});
  const auto& lumi = c->params()[c->index("lumi")];
  CHECK(lumi.init == 1.0);
  CHECK(lumi.lo == 0.5);
  CHECK(lumi.hi == 1.5);
  for (auto [mu, l] : {std::pair{1.0, 1.0}, {1.6, 0.93}, {0.2, 1.11}}) {
    INFO("mu " << mu << " lumi " << l);
    const double want = pois_nll(65, l * (10 * mu + 50) + 7) + gauss_nll(1.02, l, 0.05);
    CHECK(c->nll(at(*c, {{"mu", mu}, {"lumi", l}})) == Approx(want).epsilon(1e-13));
  }
  // Without auxdata/sigmas the constraint is undefined (pyhf fails too).
  CHECK_THROWS_AS(compile_text(workspace(channels, obs)), hs3fit::Error);
}

TEST_CASE("measurement parameter configurations replace the defaults", "[modifiers]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5, 4], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50, 40], "modifiers": [
          {"name": "a", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
          {"name": "st", "type": "staterror", "data": [5, 2]},
          {"name": "ss", "type": "shapesys", "data": [10, 4]}]}]}])",
                                  R"([{"name": "SR", "data": [57, 41]}])",
                                  R"([{"name": "mu", "inits": [2.0], "bounds": [[-1, 20]]},
                                      {"name": "a", "auxdata": [0.5], "inits": [0.3], "bounds": [[-2, 2]]},
                                      {"name": "st", "sigmas": [0.2, 0.3], "fixed": true},
                                      {"name": "ss", "auxdata": [30, 90], "factors": [25, 81]}])"));
  REQUIRE(names(*c) == std::vector<std::string>{"mu", "a", "ss[0]", "ss[1]", "st[0]", "st[1]"});
  const auto& mu = c->params()[c->index("mu")];
  CHECK(mu.init == 2.0);
  CHECK(mu.lo == -1.0);
  CHECK(mu.hi == 20.0);
  const auto& a = c->params()[c->index("a")];
  CHECK(a.init == 0.3);
  CHECK(a.lo == -2.0);
  CHECK(a.hi == 2.0);
  CHECK(c->params()[c->index("st[0]")].fixed);
  CHECK(c->params()[c->index("st[1]")].fixed);
  // at the initial point: μ = 2, α = 0.3, γ = 1
  const double f = spec::code4(0.3, 1, 1.1, 0.9);
  const double want = pois_nll(57, 10 + 50 * f) + pois_nll(41, 8 + 40 * f) + gauss_nll(0.5, 0.3, 1) + gauss_nll(1, 1, 0.2) +
                      gauss_nll(1, 1, 0.3) + pois_constraint_nll(30, 1, 25) + pois_constraint_nll(90, 1, 81);
  CHECK(c->nll(c->model().initial_values()) == Approx(want).epsilon(1e-13));
}

TEST_CASE("observed counts: zero and non-integer counts use the continuous Poisson", "[modifiers]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [3, 2, 1], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [4, 6, 0.5], "modifiers": []}]}])",
                                  R"([{"name": "SR", "data": [0, 2.5, 1e-3]}])"));
  for (double mu : {0.0, 0.5, 3.0}) {
    const double want = (3 * mu + 4) + (2 * mu + 6 - 2.5 * std::log(2 * mu + 6) + std::lgamma(3.5)) +
                        (mu + 0.5 - 1e-3 * std::log(mu + 0.5) + std::lgamma(1.001));
    CHECK(c->nll(at(*c, {{"mu", mu}})) == Approx(want).epsilon(1e-13));
  }
}

// ---------------------------------------------------------------------------------------------
// Fits with a closed-form answer.

TEST_CASE("fit: one bin, normfactor only: mu = (n - b)/s, error sqrt(n)/s", "[modifiers][fit]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [20], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50], "modifiers": []}]}])",
                                  R"([{"name": "SR", "data": [80]}])"));
  hs3fit::fit::FitResult r = c->fit();
  REQUIRE(r.converged);
  const double mu = (80.0 - 50.0) / 20.0, sigma = std::sqrt(80.0) / 20.0;
  CHECK(r.values[0] == Approx(mu).margin(1e-6));
  CHECK(r.nll == Approx(pois_nll(80, 80)).epsilon(1e-12));
  // Minuit's convention for a bounded parameter (the value in README's table), and ≈ H⁻¹.
  CHECK(r.errors[0] == Approx(spec::minuit_bounded_error(mu, spec::internal_sigma(mu, sigma, 0, 10), 0, 10)).epsilon(1e-4));
  CHECK(r.errors[0] == Approx(sigma).epsilon(5e-3));
  CHECK(r.at_limit.empty());
  CHECK(r.covariance_valid);
}

TEST_CASE("fit: data below background puts mu on its lower bound", "[modifiers][fit]") {
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [20], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [50], "modifiers": []}]}])",
                                  R"([{"name": "SR", "data": [40]}])"));
  hs3fit::fit::FitResult r = c->fit();
  REQUIRE(r.converged);
  CHECK(r.values[0] == Approx(0.0).margin(1e-6));
  CHECK(r.nll == Approx(pois_nll(40, 50)).epsilon(1e-9));
  CHECK(r.at_limit == std::vector<std::string>{"mu"});
}

TEST_CASE("fit: one-bin staterror and shapesys have closed-form minima and errors", "[modifiers][fit]") {
  SECTION("staterror: N - n/g - (1 - g)/d^2 = 0") {
    const double N = 40, n = 52, d = 0.1;  // σ_rel = 4/40
    auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
        {"name": "bkg", "data": [40], "modifiers": [{"name": "st", "type": "staterror", "data": [4]}]}]}])",
                                    R"([{"name": "SR", "data": [52]}])", "[]", ""));
    hs3fit::fit::FitResult r = c->fit();
    REQUIRE(r.converged);
    const double A = 1 / (d * d), B = N - A;
    const double g = (-B + std::sqrt(B * B + 4 * A * n)) / (2 * A);
    const double sigma = 1 / std::sqrt(n / (g * g) + A);
    CHECK(r.values[0] == Approx(g).epsilon(1e-7));
    CHECK(r.nll == Approx(pois_nll(n, g * N) + gauss_nll(1, g, d)).epsilon(1e-12));
    CHECK(r.errors[0] == Approx(spec::minuit_bounded_error(g, spec::internal_sigma(g, sigma, 1e-10, 10), 1e-10, 10)).epsilon(1e-4));
    CHECK(r.errors[0] == Approx(sigma).epsilon(1e-3));
  }
  SECTION("shapesys: g = (n + tau)/(N + tau)") {
    const double N = 40, n = 50, tau = 25;  // σ = 8
    auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
        {"name": "bkg", "data": [40], "modifiers": [{"name": "ss", "type": "shapesys", "data": [8]}]}]}])",
                                    R"([{"name": "SR", "data": [50]}])", "[]", ""));
    hs3fit::fit::FitResult r = c->fit();
    REQUIRE(r.converged);
    const double g = (n + tau) / (N + tau), sigma = g / std::sqrt(n + tau);
    CHECK(r.values[0] == Approx(g).epsilon(1e-7));
    CHECK(r.nll == Approx(pois_nll(n, g * N) + pois_constraint_nll(tau, g, tau)).epsilon(1e-12));
    CHECK(r.errors[0] == Approx(spec::minuit_bounded_error(g, spec::internal_sigma(g, sigma, 1e-10, 10), 1e-10, 10)).epsilon(1e-4));
    CHECK(r.errors[0] == Approx(sigma).epsilon(1e-3));
  }
}

TEST_CASE("fit: normfactor with a lumi constraint: the profile has a closed form", "[modifiers][fit]") {
  // ν = λ(s μ + b); with μ free the Poisson term is minimised at ν = n for any λ, so λ̂ = aux and
  // μ̂ = (n/aux − b)/s; −ln L = pois(n, n) + gauss(aux | aux, σ).
  auto c = compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [10], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}, {"name": "lumi", "type": "lumi", "data": null}]},
      {"name": "bkg", "data": [50], "modifiers": [{"name": "lumi", "type": "lumi", "data": null}]}]}])",
                                  R"([{"name": "SR", "data": [72]}])",
                                  R"([{"name": "lumi", "auxdata": [1.1], "sigmas": [0.05], "inits": [1.0], "bounds": [[0.5, 1.5]]}])"));
  hs3fit::fit::FitResult r = c->fit();
  REQUIRE(r.converged);
  CHECK(r.values[c->index("lumi")] == Approx(1.1).epsilon(1e-6));
  CHECK(r.values[c->index("mu")] == Approx((72 / 1.1 - 50) / 10).epsilon(1e-6));
  CHECK(r.nll == Approx(pois_nll(72, 72) + gauss_nll(1.1, 1.1, 0.05)).epsilon(1e-12));
}

TEST_CASE("a sigmas configuration on a normsys is refused, as in pyhf", "[modifiers]") {
  // pyhf 0.7.6: InvalidModel("Incorrect number of values (1) for sigmas were configured by you,
  // expected 9") — normsys has no 'sigmas' (pyhf-semantics.md §1).
  CHECK_THROWS_AS(compile_text(workspace(R"([{"name": "SR", "samples": [
      {"name": "signal", "data": [5], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [10], "modifiers": [{"name": "a", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}]}]}])",
                                         R"([{"name": "SR", "data": [11]}])", R"([{"name": "a", "sigmas": [2.0]}])")),
                  hs3fit::Error);
}
