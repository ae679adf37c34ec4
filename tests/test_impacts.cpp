// Pulls, impacts and post-fit yield uncertainties (hs3fit fit --pulls/--yields, hs3fit impacts):
// impacts against refits done with pyhf 0.7.6, pulls against closed-form maximum-likelihood
// solutions, impacts against the covariance (ρ·σ_μ) on a nearly Gaussian model, yield
// gradients against finite differences, and the CLI (keys, exit codes, plot files).
#include "test_support.h"

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <map>

#include "infer/impacts.h"
#include "model/yields.h"

using namespace hs3fit;
using hs3test::quote;
using hs3test::run_hs3fit;
using hs3test::shared_path;
using hs3test::TempFile;

namespace {

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

struct PyhfImpact {
  const char* parameter;
  double value, error, postfit_up, postfit_down, prefit_up, prefit_down;
};

const infer::Impact& find_impact(const infer::ImpactsResult& r, const std::string& name) {
  for (const auto& im : r.impacts)
    if (im.pull.name == name) return im;
  FAIL("no impact for " << name);
  return r.impacts.front();
}

void check_against_pyhf(const std::string& workspace, double mu_hat, double sigma_mu, const std::vector<PyhfImpact>& ref) {
  LoadedModel lm = load_model(shared_path("workspaces/pyhf/" + workspace + "/workspace.json"));
  const infer::ImpactsResult r = infer::impacts(lm.model, infer::inference_fit_options());
  INFO(workspace);
  REQUIRE(r.converged);
  CHECK(r.poi_hat == Approx(mu_hat).epsilon(1e-5));
  CHECK(r.poi_error == Approx(sigma_mu).epsilon(1e-3));
  REQUIRE(r.impacts.size() == ref.size());
  for (const PyhfImpact& p : ref) {
    INFO(p.parameter);
    const infer::Impact& im = find_impact(r, p.parameter);
    CHECK(im.converged);
    CHECK(im.fits == 4);
    CHECK(im.pull.value == Approx(p.value).margin(2e-5 * p.error));
    CHECK(im.pull.error == Approx(p.error).epsilon(1e-3));
    // Δμ: differences of two fits; pyhf's SLSQP and hs3fit agree to ~1e-5 σ_μ.
    const double tol = 1e-4 * sigma_mu;
    CHECK(im.postfit_up == Approx(p.postfit_up).margin(tol));
    CHECK(im.postfit_down == Approx(p.postfit_down).margin(tol));
    CHECK(im.prefit_up == Approx(p.prefit_up).margin(tol));
    CHECK(im.prefit_down == Approx(p.prefit_down).margin(tol));
  }
  // Ranking: sorted by max |post-fit impact|, and wherever pyhf's numbers separate two
  // parameters clearly the order is pyhf's.
  for (size_t k = 1; k < r.impacts.size(); ++k) CHECK(r.impacts[k - 1].rank_key() >= r.impacts[k].rank_key());
  std::map<std::string, size_t> rank;
  for (size_t k = 0; k < r.impacts.size(); ++k) rank[r.impacts[k].pull.name] = k;
  auto key = [](const PyhfImpact& p) { return std::max(std::abs(p.postfit_up), std::abs(p.postfit_down)); };
  for (const PyhfImpact& a : ref)
    for (const PyhfImpact& b : ref)
      if (key(a) > key(b) + 1e-3 * sigma_mu) CHECK(rank[a.parameter] < rank[b.parameter]);
}

}  // namespace

// Reference numbers: pyhf 0.7.6 (numpy backend, scipy optimizer with tolerance 1e-14), script
// described in docs/impacts.md ("Validation"): nominal pyhf.infer.mle.fit, covariance from the
// inverse of a central finite-difference Hessian (step 1e-4) of -model.logpdf at pyhf's best fit,
// σ̂ = Minuit's Int2extError of it for the bounded parameter (what pyhf's minuit optimizer and
// hs3fit report; equal to shared/reference/pyhf bestfit errors to 1e-5), then
// pyhf.infer.mle.fit with the parameter in fixed_params
// at θ̂ ± σ̂ and θ̂ ± width (pyhf's param_set.width()), started from pyhf's best fit;
// Δμ = μ̂(fixed) − μ̂.
TEST_CASE("impacts equal pyhf refits with the parameter fixed (Gaussian constraints)", "[impacts]") {
  check_against_pyhf("histfactory-example", 1.1153821023528794, 0.6232107224428567,
                     {
                         {"syst2", -0.008932652257681988, 0.9825212724839347, -0.21157038139494688, 0.21301848976308846,
                          -0.21541435606729054, 0.2167234493616328},
                         {"syst3", 0.017920545260631533, 0.9475475101630968, -0.07683502558912503, 0.08519443492251355,
                          -0.08096804802227053, 0.09004582535727979},
                         {"syst1", 8.129577483286042e-07, 0.9933419476138003, -0.18476813072742326, 0.2767747060567165,
                          -0.1858991397920302, 0.2788453070014789},
                         {"staterror_channel1[0]", 0.9995535804694683, 0.04943719097401511, -0.21302134126233474, 0.2143254871093483,
                          -0.21544012672731616, 0.21677135543054527},
                         {"staterror_channel1[1]", 1.0035756919606102, 0.08007349353769344, -0.1810963890426348, 0.205285162624935,
                          -0.22279392186429803, 0.2604561861015515},
                     });
}

TEST_CASE("impacts equal pyhf refits with the parameter fixed (Poisson-constrained shapesys)", "[impacts]") {
  check_against_pyhf("c2p-one-bin-stat-full", 1.2980462209338797, 0.11249786892851699,
                     {
                         {"prop_binch1_bkg[0]", 1.0000001042891025, 0.1437922665794817, -0.04236606196050108, 0.04236577871614999,
                          -0.04238225631069081, 0.042382129287805936},
                         {"prop_binch1_sig[0]", 0.9999999927054001, 0.009652527465088323, -0.012409640499352115, 0.012651490179913516,
                          -0.01240970647840034, 0.012651561912754516},
                     });
}

TEST_CASE("impacts from Newton steps on the nominal Hessian equal fully minimized conditional fits", "[impacts]") {
  // Default: conditional fits that converge by chord-Newton steps (nominal Hessian) are taken
  // as they are; --verify-fits runs fit::minimize on every one. Same numbers, including a POI
  // sitting on its bound (simple-2bin: mû = 0) where the parameter is held on the bound.
  for (const char* ws : {"histfactory-example", "simple-2bin", "atlas-mbj-Gtt-0L-B"}) {
    INFO(ws);
    LoadedModel lm = load_model(shared_path(std::string("workspaces/pyhf/") + ws + "/workspace.json"));
    infer::ImpactOptions fast, verified;
    verified.verify_fits = true;
    const infer::ImpactsResult a = infer::impacts(lm.model, infer::inference_fit_options(), fast);
    const infer::ImpactsResult b = infer::impacts(lm.model, infer::inference_fit_options(), verified);
    REQUIRE(a.converged);
    REQUIRE(b.converged);
    CHECK(b.minimizer_fits == b.fits);
    CHECK(a.minimizer_fits < a.fits);  // the shortcut is actually taken
    REQUIRE(a.impacts.size() == b.impacts.size());
    for (const infer::Impact& ia : a.impacts) {
      const infer::Impact& ib = find_impact(b, ia.pull.name);
      INFO(ia.pull.name);
      const double tol = 1e-6 * b.poi_error;
      CHECK(ia.postfit_up == Approx(ib.postfit_up).margin(tol));
      CHECK(ia.postfit_down == Approx(ib.postfit_down).margin(tol));
      if (ia.pull.constrained) {
        CHECK(ia.prefit_up == Approx(ib.prefit_up).margin(tol));
        CHECK(ia.prefit_down == Approx(ib.prefit_down).margin(tol));
      }
    }
  }
}

namespace {
// One bin, n observed, background b with a symmetric histosys ±δ (code4p is exactly linear in θ
// for |θ| < 1 when up − nom = nom − down): −ln L = ν − n ln ν + θ²/2 + const, ν = b + δθ.
std::string linear_histosys_workspace(double n, double b, double delta) {
  return fmt::format(R"({{"channels": [{{"name": "SR", "samples": [
      {{"name": "sig", "data": [5.0], "modifiers": [{{"name": "mu", "type": "normfactor", "data": null}}]}},
      {{"name": "bkg", "data": [{1}], "modifiers": [{{"name": "theta", "type": "histosys", "data": {{"hi_data": [{2}], "lo_data": [{3}]}}}}]}}]}}],
    "observations": [{{"name": "SR", "data": [{0}]}}],
    "measurements": [{{"name": "m", "config": {{"poi": "mu", "parameters": [{{"name": "mu", "fixed": true, "inits": [0.0]}},
                                                         {{"name": "theta", "bounds": [[-100, 100]]}}]}}}}],
    "version": "1.0.0"}})",
                     n, b, b + delta, b - delta);
}
// One bin, background b with a shapesys of absolute uncertainty s: τ = (b/s)².
std::string shapesys_workspace(double n, double b, double s) {
  return fmt::format(R"({{"channels": [{{"name": "SR", "samples": [
      {{"name": "sig", "data": [5.0], "modifiers": [{{"name": "mu", "type": "normfactor", "data": null}}]}},
      {{"name": "bkg", "data": [{1}], "modifiers": [{{"name": "gamma", "type": "shapesys", "data": [{2}]}}]}}]}}],
    "observations": [{{"name": "SR", "data": [{0}]}}],
    "measurements": [{{"name": "m", "config": {{"poi": "mu", "parameters": [{{"name": "mu", "fixed": true, "inits": [0.0]}},
                                                         {{"name": "gamma", "bounds": [[1e-10, 100]]}}]}}}}],
    "version": "1.0.0"}})",
                     n, b, s);
}
}  // namespace

// σ̂ is Minuit's error of a bounded parameter (Int2extError of the sine transform), which equals
// the closed-form (H⁻¹)^½ up to (σ̂/half-range)²/6: the bounds are set wide so that this is < 1e-5.
TEST_CASE("pulls and constraints equal the closed-form maximum-likelihood solution", "[impacts][pulls]") {
  SECTION("Gaussian constraint: θ̂ solves δθ² + (δ² + b)θ + δ(b − n) = 0, σ̂ = (1 + δ²n/ν̂²)^(-1/2)") {
    const double n = 110, b = 100, delta = 10;
    auto c = hs3test::compile_text(linear_histosys_workspace(n, b, delta));
    const fit::FitResult r = c->fit();
    REQUIRE(r.converged);
    const double A = delta, B = delta * delta + b, C = delta * (b - n);
    const double theta = (-B + std::sqrt(B * B - 4 * A * C)) / (2 * A);
    const double nu = b + delta * theta;
    const double sigma = 1 / std::sqrt(1 + delta * delta * n / (nu * nu));
    const auto pulls = infer::pulls(c->model(), r);
    REQUIRE(pulls.size() == 1);  // mu is fixed: not listed
    CHECK(pulls[0].name == "theta");
    CHECK(pulls[0].constrained);
    CHECK(pulls[0].center == 0);
    CHECK(pulls[0].prefit_width == 1);
    CHECK(pulls[0].pull == Approx(theta).epsilon(1e-6));
    CHECK(pulls[0].constraint == Approx(sigma).epsilon(1e-4));
  }
  SECTION("Poisson constraint: γ̂ = (n + τ)/(b + τ), σ̂ = γ̂/√(n + τ), pull (γ̂ − 1)√τ") {
    const double n = 130, b = 100, s = 10, tau = (b / s) * (b / s);
    auto c = hs3test::compile_text(shapesys_workspace(n, b, s));
    const fit::FitResult r = c->fit();
    REQUIRE(r.converged);
    const double gamma = (n + tau) / (b + tau), sigma = gamma / std::sqrt(n + tau);
    const auto pulls = infer::pulls(c->model(), r);
    REQUIRE(pulls.size() == 1);
    CHECK(pulls[0].kind == model::ConstraintKind::Poisson);
    CHECK(pulls[0].center == Approx(1.0));
    CHECK(pulls[0].prefit_width == Approx(1 / std::sqrt(tau)));
    CHECK(pulls[0].pull == Approx((gamma - 1) * std::sqrt(tau)).epsilon(1e-6));
    CHECK(pulls[0].constraint == Approx(sigma * std::sqrt(tau)).epsilon(1e-4));
  }
}

TEST_CASE("post-fit impact equals rho(mu, theta) * sigma_mu on a nearly Gaussian model", "[impacts]") {
  // Two high-count bins: signal μ·s, background b with a linear (symmetric code4p) histosys.
  // For a quadratic −ln L, fixing θ at θ̂ ± σ̂_θ moves μ̂ by ±C_μθ/σ̂_θ = ±ρ σ_μ exactly; with
  // Poisson terms at n ~ 1e6 the cubic corrections are ~1e-3 relative.
  const std::string ws = R"({"channels": [{"name": "SR", "samples": [
      {"name": "sig", "data": [20000, 5000], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [1000000, 1000000], "modifiers": [{"name": "jes", "type": "histosys",
          "data": {"hi_data": [1004000, 999000], "lo_data": [996000, 1001000]}}]}]}],
    "observations": [{"name": "SR", "data": [1021000, 1006500]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";
  TempFile f(ws);
  LoadedModel lm = load_model(f.path());
  const infer::ImpactsResult r = infer::impacts(lm.model, infer::inference_fit_options());
  REQUIRE(r.converged);
  REQUIRE(r.impacts.size() == 1);
  const fit::FitResult& nom = r.nominal;
  REQUIRE(nom.covariance_valid);
  const uint32_t mu = *lm.model.poi, jes = lm.model.parameter_index("jes", "test");
  auto pos = [&](uint32_t p) { return static_cast<Eigen::Index>(std::find(nom.free.begin(), nom.free.end(), p) - nom.free.begin()); };
  const double cov = nom.covariance(pos(mu), pos(jes));
  const double rho = cov / (nom.errors[mu] * nom.errors[jes]);
  INFO("rho = " << rho);
  REQUIRE(std::abs(rho) > 0.3);
  const infer::Impact& im = r.impacts[0];
  CHECK(im.postfit_up == Approx(rho * nom.errors[mu]).epsilon(3e-3));
  CHECK(im.postfit_down == Approx(-rho * nom.errors[mu]).epsilon(3e-3));
}

TEST_CASE("yield gradients equal finite differences of the expected yields", "[impacts][yields]") {
  for (const char* ws : {"histfactory-example", "atlas-sbottom-SUSY-2018-31-RegionA", "c2p-multi-bin-sys-histosys-uncorr"}) {
    INFO(ws);
    LoadedModel lm = load_model(shared_path(std::string("workspaces/pyhf/") + ws + "/workspace.json"));
    std::vector<double> x = lm.model.initial_values();
    for (size_t i = 0; i < x.size(); ++i)  // a point off the nominal, inside |θ| < 1 and beyond
      if (!lm.model.parameters[i].fixed) x[i] += (i % 3 == 0 ? 0.3 : i % 3 == 1 ? -0.45 : 1.4) * std::min(0.1, lm.model.parameters[i].step);
    const auto grads = infer::yield_gradients(lm.model, x);
    for (uint32_t p = 0; p < x.size(); ++p) {
      if (lm.model.parameters[p].fixed) continue;
      auto y = [&](double v) {
        std::vector<double> xp = x;
        xp[p] = v;
        return model::expected_yields(lm.model, xp);
      };
      const double h = 1e-5;
      const auto up = y(x[p] + h), down = y(x[p] - h);
      for (size_t c = 0; c < grads.size(); ++c)
        for (size_t s = 0; s < grads[c].size(); ++s)
          for (size_t b = 0; b < grads[c][s].size(); ++b) {
            double g = 0;
            for (const auto& [q, d] : grads[c][s][b])
              if (q == p) g += d;
            const double fd = (up[c].samples[s].bins[b] - down[c].samples[s].bins[b]) / (2 * h);
            CHECK(g == Approx(fd).epsilon(1e-5).margin(1e-6 * (1 + std::abs(up[c].samples[s].bins[b]))));
          }
    }
  }
}

TEST_CASE("yield errors: staterror width pre-fit, full covariance post-fit", "[impacts][yields]") {
  // Pre-fit: a staterror of relative width r on a lone sample gives ±n·r per bin; the
  // normfactor adds nothing (unconstrained). Post-fit: σ² = gᵀCg checked by hand for the total.
  const std::string ws = R"({"channels": [{"name": "SR", "samples": [
      {"name": "sig", "data": [10, 20], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [100, 50], "modifiers": [{"name": "stat", "type": "staterror", "data": [10, 4]}]}]}],
    "observations": [{"name": "SR", "data": [115, 66]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";
  auto c = hs3test::compile_text(ws);
  const auto& samples = c->model().channels[0].samples;  // sample order is the model's (pyhf sorts by name)
  const size_t sig = samples[0].name == "sig" ? 0 : 1, bkg = 1 - sig;
  REQUIRE(samples[sig].name == "sig");
  const infer::YieldErrors pre = infer::prefit_yield_errors(c->model());
  REQUIRE(pre.channels.size() == 1);
  CHECK(pre.channels[0].samples[sig].total == 0);
  CHECK(pre.channels[0].samples[bkg].bins[0] == Approx(10));
  CHECK(pre.channels[0].samples[bkg].bins[1] == Approx(4));
  CHECK(pre.channels[0].samples[bkg].total == Approx(std::hypot(10, 4)));
  CHECK(pre.channels[0].expected[0] == Approx(10));
  const fit::FitResult r = c->fit();
  REQUIRE(r.converged);
  const infer::YieldErrors post = infer::yield_errors(c->model(), r.values, r.free, r.covariance);
  // total = μ·30 + γ0·100 + γ1·50: gradient (30, 100, 50) over (mu, γ0, γ1) by hand.
  std::map<std::string, double> g{{"mu", 30}, {"stat[0]", 100}, {"stat[1]", 50}};
  double var = 0;
  for (size_t i = 0; i < r.free.size(); ++i)
    for (size_t j = 0; j < r.free.size(); ++j)
      var += g[c->model().parameters[r.free[i]].name] * r.covariance(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) *
             g[c->model().parameters[r.free[j]].name];
  CHECK(post.channels[0].expected_total == Approx(std::sqrt(var)).epsilon(1e-12));
  // sig total: 30·√C_μμ
  const auto mu_row = static_cast<Eigen::Index>(std::find(r.free.begin(), r.free.end(), c->index("mu")) - r.free.begin());
  CHECK(post.channels[0].samples[sig].total == Approx(30 * std::sqrt(r.covariance(mu_row, mu_row))).epsilon(1e-12));
}

TEST_CASE("hs3fit impacts: JSON keys, ranking, --top, plot and usage errors", "[impacts][cli]") {
  const std::string ws = quote(shared_path("workspaces/pyhf/histfactory-example/workspace.json"));
  const auto r = run_hs3fit("impacts " + ws + " --json --top 3");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto doc = hs3test::parse_json(r.out);
  const auto root = doc.root();
  CHECK(root.at("poi").as_string() == "SigXsecOverSM");
  CHECK(root.at("sorted").as_bool());
  CHECK(root.at("ranked").as_number() == 5);
  CHECK(root.at("converged").as_bool());
  const auto list = root.at("impacts").elements();
  REQUIRE(list.size() == 3);
  CHECK(list[0].at("parameter").as_string() == "syst1");  // pyhf: max |Δμ post-fit| 0.279, next 0.214
  double last = 1e300;
  for (const auto& e : list) {
    for (const char* k : {"pull", "constraint", "impact_prefit_up", "impact_prefit_down", "impact_postfit_up", "impact_postfit_down"})
      CHECK(e.at(k).is_number());
    const double key = std::max(std::abs(e.at("impact_postfit_up").as_number()), std::abs(e.at("impact_postfit_down").as_number()));
    CHECK(key <= last);
    last = key;
  }
  const auto table = run_hs3fit("impacts " + ws);
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("staterror_channel1[1]") != std::string::npos);

  CHECK(run_hs3fit("impacts " + ws + " --plot /tmp/x.gif").exit_code == 2);
  CHECK(run_hs3fit("impacts " + ws + " --parameters nosuch").exit_code == 2);
  CHECK(run_hs3fit("impacts " + ws + " --parameters SigXsecOverSM").exit_code == 2);  // the POI
  CHECK(run_hs3fit("impacts " + ws + " --fix SigXsecOverSM=1").exit_code == 2);
  const auto only = run_hs3fit("impacts " + ws + " --parameters syst2,syst3 --json");
  REQUIRE(only.exit_code == 0);
  CHECK(hs3test::parse_json(only.out).root().at("impacts").size() == 2);

  if (!have_gnuplot()) {
    WARN("gnuplot is not installed: plot checks skipped");
    return;
  }
  TempFile svg("", ".svg"), png("", ".png");
  REQUIRE(run_hs3fit("impacts " + ws + " --plot " + quote(svg.path())).exit_code == 0);
  CHECK(svg.read().find("<svg") != std::string::npos);
  CHECK(svg.read().find("syst1") != std::string::npos);
  REQUIRE(run_hs3fit("impacts " + ws + " --plot " + quote(png.path())).exit_code == 0);
  CHECK(png.read().rfind("\x89PNG", 0) == 0);
}

TEST_CASE("hs3fit fit --pulls/--yields: tables, JSON members and plots", "[impacts][cli]") {
  const std::string ws = quote(shared_path("workspaces/pyhf/histfactory-example/workspace.json"));
  const auto j = run_hs3fit("fit " + ws + " --json --yields");
  INFO(j.err);
  REQUIRE(j.exit_code == 0);
  const auto doc = hs3test::parse_json(j.out);
  const auto root = doc.root();
  CHECK(root.at("nll").is_number());  // the fit's keys stay
  const auto pulls = root.at("pulls").elements();
  REQUIRE(pulls.size() == 5);
  for (const auto& p : pulls) {
    const double pull = (p.at("value").as_number() - p.at("center").as_number()) / p.at("prefit_width").as_number();
    CHECK(p.at("pull").as_number() == Approx(pull));
    CHECK(p.at("constraint").as_number() == Approx(p.at("error").as_number() / p.at("prefit_width").as_number()));
  }
  CHECK(root.at("pulls_unconstrained").size() == 0);  // the only normfactor is the POI
  const auto yields = root.at("yields");
  const auto post = yields.at("postfit").elements();
  REQUIRE(post.size() == 1);
  CHECK(post[0].at("expected_total_error").as_number() > 0);
  CHECK(yields.at("prefit").elements()[0].at("samples").elements()[0].at("bins_error").as_numbers().size() == 2);

  const auto t = run_hs3fit("fit " + ws + " --yields");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("post-fit") != std::string::npos);
  CHECK(t.out.find(" ± ") != std::string::npos);

  const auto nh = run_hs3fit("fit " + ws + " --json --no-hesse");
  REQUIRE(nh.exit_code == 0);
  const auto nh_doc = hs3test::parse_json(nh.out);  // keep the document alive while its nodes are used
  for (const auto& p : nh_doc.root().at("pulls").elements()) {
    CHECK(p.at("pull").is_number());
    CHECK(p.at("error").is_null());  // no covariance: no error, not 0
    CHECK(p.at("constraint").is_null());
  }

  CHECK(run_hs3fit("fit " + ws + " --pulls /tmp/x.gif").exit_code == 2);
  CHECK(run_hs3fit("fit " + ws + " --pulls /tmp/x.svg --no-hesse").exit_code == 2);
  if (!have_gnuplot()) {
    WARN("gnuplot is not installed: plot checks skipped");
    return;
  }
  TempFile svg("", ".svg"), png("", ".png");
  const auto p = run_hs3fit("fit " + ws + " --pulls " + quote(svg.path()));
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.find("Pulls of the constrained nuisance parameters") != std::string::npos);
  CHECK(svg.read().find("staterror_channel1[0]") != std::string::npos);
  REQUIRE(run_hs3fit("fit " + ws + " --pulls " + quote(png.path())).exit_code == 0);
  CHECK(png.read().rfind("\x89PNG", 0) == 0);
}
