// The vectorised evaluator against its own scalar fallback (every SIMD target this CPU has
// against Highway's portable EMU128 code), and a zero normsys factor against an independent,
// direct evaluation of the model (bin by bin, with the scalar interpolation reference).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/evaluator.h"
#include "eval/kernels.h"
#include "json/json_reader.h"
#include "tape/compiler.h"
#include "tape/interpolation.h"
#include "workspace.h"

namespace {

using hs3fit::model::Model;

struct Run {
  std::string id, path, measurement;
};

// Every run of the shared pyhf corpus (workspaces/pyhf/manifest.json).
std::vector<Run> corpus() {
  const std::string dir = std::string(HS3FIT_SHARED_DIR) + "/workspaces/pyhf/";
  hs3fit::json::Document doc = hs3fit::json::parse_file(dir + "manifest.json");
  std::vector<Run> runs;
  for (const auto& c : doc.root().at("cases").elements())
    for (const auto& r : c.at("runs").elements()) {
      Run run{r.at("id").as_string(), dir + r.at("workspace").as_string(), ""};
      if (auto m = r.get("measurement")) run.measurement = m->as_string();
      runs.push_back(run);
    }
  return runs;
}

hs3fit::LoadedModel load(const Run& r) {
  hs3fit::LoadOptions o;
  o.build.measurement = r.measurement;
  return hs3fit::load_model(r.path, o);
}

// lnΓ(a+1) − a ln a + a by Stirling's series (large a) or directly.
double stirling_remainder(double a) {
  if (a <= 0) return 0;
  if (a < 30) return std::lgamma(a + 1) - a * std::log(a) + a;
  return 0.5 * std::log(2 * M_PI * a) + 1 / (12 * a) - 1 / (360 * a * a * a) + 1 / (1260 * std::pow(a, 5));
}

// −ln L evaluated directly from the model, one yield at a time:
//   ν_cb = Σ_s (nom + Σ additive histosys Δ) · Π multiplicative histosys · Π factors,
// Poisson terms with lnΓ, Gaussian constraints, Poisson constraints in the cancellation-free
// form a(q − ln(1+q)) + lnΓ(a+1) − a ln a + a, q = θτ/a − 1.
double reference_nll(const Model& m, const std::vector<double>& x) {
  using namespace hs3fit;
  double f = 0;
  for (const auto& ch : m.channels) {
    for (size_t b = 0; b < ch.nbins(); ++b) {
      double nu = 0;
      for (const auto& s : ch.samples) {
        double v = s.nominal[b], factor = 1;
        for (const auto& mod : s.modifiers) {
          switch (mod.kind) {
            case model::ModifierKind::HistoSys: {
              const double d = interp::evaluate(mod.interp, x[mod.param], s.nominal[b], mod.hi_data[b], mod.lo_data[b]);
              if (model::is_multiplicative(mod.interp)) factor *= d;
              else v += d;
              break;
            }
            case model::ModifierKind::NormSys: {
              const double d = interp::evaluate(mod.interp, x[mod.param], 1.0, mod.hi, mod.lo);
              factor *= model::is_multiplicative(mod.interp) ? d : 1 + d;
              break;
            }
            case model::ModifierKind::NormFactor:
            case model::ModifierKind::Lumi: factor *= x[mod.param]; break;
            default:
              if (mod.bin_params[b] >= 0) factor *= x[static_cast<size_t>(mod.bin_params[b])];
          }
        }
        nu += v * factor;
      }
      const double n = ch.observed[b];
      f += nu - (n > 0 ? n * std::log(nu) : 0.0) + std::lgamma(n + 1);
    }
  }
  for (const auto& c : m.constraints) {
    const double t = x[c.param];
    if (c.kind == model::ConstraintKind::Gaussian) {
      const double z = (c.aux - t) / c.sigma;
      f += 0.5 * z * z + std::log(c.sigma) + 0.5 * std::log(2 * M_PI);
    } else if (c.aux > 0) {
      const double q = t * c.tau / c.aux - 1;
      f += c.aux * (q - std::log1p(q)) + stirling_remainder(c.aux);
    } else {
      f += t * c.tau;
    }
  }
  return f;
}

// The initial point, and points spread over ±2σ (both sides of the |θ| = 1 interpolation
// boundary) inside the bounds.
std::vector<std::vector<double>> test_points(const Model& m, int random_points, unsigned seed) {
  std::vector<std::vector<double>> pts = {m.initial_values()};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  for (int k = 0; k < random_points; ++k) {
    std::vector<double> x = m.initial_values();
    for (size_t i = 0; i < x.size(); ++i) {
      const auto& p = m.parameters[i];
      if (p.fixed) continue;
      double v = p.init + u(rng) * std::min(p.step, 0.3 * std::max(std::fabs(p.init), 0.1));
      if (p.step >= 0.5) v = p.init + u(rng) * p.step;  // normsys/histosys-like: beyond ±1σ too
      const double lo = std::isfinite(p.lo) ? p.lo : -1e300, hi = std::isfinite(p.hi) ? p.hi : 1e300;
      x[i] = std::clamp(v, lo + 1e-3 * std::min(1.0, hi - lo), hi - 1e-3 * std::min(1.0, hi - lo));
    }
    pts.push_back(x);
  }
  return pts;
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::fabs(b)); }

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace

TEST_CASE("every SIMD target agrees with the scalar fallback to 1e-12 on every corpus workspace", "[simd]") {
  const std::vector<std::string> targets = hs3fit::eval::simd_targets();
  REQUIRE(std::find(targets.begin(), targets.end(), "scalar") != targets.end());
  int points = 0, nonfinite = 0;
  for (const Run& run : corpus()) {
    hs3fit::LoadedModel lm = load(run);
    const hs3fit::tape::Tape tape = hs3fit::tape::compile(lm.model);
    hs3fit::eval::EvaluatorOptions so;
    so.simd_target = "scalar";
    hs3fit::eval::Evaluator scalar(tape, so);
    // Highway calls its portable target EMU128 or SCALAR depending on the build.
    const std::string name = scalar.simd_target();
    CHECK((name == "SCALAR" || name == "Scalar" || name == "EMU128"));
    for (const auto& x : test_points(lm.model, 2, 7)) {
      std::vector<double> g0(x.size()), g1(x.size());
      const double f0 = scalar.nll_and_gradient(x.data(), g0.data());
      INFO(run.id << ": scalar -ln L " << f0);
      ++points;
      // A point with a negative expected yield (possible far from the fit for models with
      // subtractive histosys) has −ln L = NaN, as in pyhf: every target must say so too.
      if (!std::isfinite(f0)) {
        ++nonfinite;
        for (const std::string& t : targets) {
          hs3fit::eval::EvaluatorOptions o;
          o.simd_target = t;
          hs3fit::eval::Evaluator ev(tape, o);
          CHECK_FALSE(std::isfinite(ev.nll(x.data())));
        }
        continue;
      }
      CHECK(scalar.nll(x.data()) == f0);  // value without the gradient sweep: the same sums
      for (const std::string& t : targets) {
        hs3fit::eval::EvaluatorOptions o;
        o.simd_target = t;
        hs3fit::eval::Evaluator ev(tape, o);
        const double f1 = ev.nll_and_gradient(x.data(), g1.data());
        double dg = 0;
        for (size_t i = 0; i < x.size(); ++i) dg = std::max(dg, std::fabs(g1[i] - g0[i]));
        INFO(run.id << " target " << t << ": nll " << f1 << " vs scalar " << f0);
        CHECK(rel(f1, f0) <= 1e-12);
        CHECK(dg <= 1e-12 * std::max(1.0, max_abs(g0)));
      }
    }
  }
  CHECK(nonfinite * 10 < points);  // the comparison covers almost every point
}

TEST_CASE("a normsys factor that is exactly zero still gets its exact gradient", "[simd]") {
  // code4p normsys with hi = 0.5: F(θ) = 1 + θ(hi − 1) = 0 at θ = 2, so the sample's product of
  // normsys factors is 0 and the F'/F shortcut cannot be used; the other factor is then ∂/∂.
  const std::string ws = R"({"channels": [{"name": "SR", "samples": [
      {"name": "sig", "data": [5.0, 3.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [20.0, 10.0], "modifiers": [
         {"name": "a", "type": "normsys", "data": {"hi": 0.5, "lo": 1.5}},
         {"name": "b", "type": "normsys", "data": {"hi": 1.2, "lo": 0.9}}]}]}],
    "observations": [{"name": "SR", "data": [22.0, 15.0]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/hs3fit-test-simd-zero.json";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs(ws.c_str(), f);
    std::fclose(f);
  }
  hs3fit::LoadOptions o;
  o.build.normsys_interp = hs3fit::model::Interp::Code4p;
  hs3fit::LoadedModel lm = hs3fit::load_model(path, o);
  std::remove(path.c_str());
  const hs3fit::tape::Tape tape = hs3fit::tape::compile(lm.model);
  const uint32_t a = lm.model.parameter_index("a", "test"), b = lm.model.parameter_index("b", "test");
  std::vector<double> x = lm.model.initial_values();
  x[a] = 2.0;  // F_a = 0
  x[b] = 0.4;
  for (const std::string& t : hs3fit::eval::simd_targets()) {
    hs3fit::eval::EvaluatorOptions eo;
    eo.simd_target = t;
    hs3fit::eval::Evaluator ev(tape, eo);
    std::vector<double> g(x.size());
    const double f = ev.nll_and_gradient(x.data(), g.data());
    CHECK(rel(f, reference_nll(lm.model, x)) <= 1e-12);
    for (uint32_t i : {a, b}) {
      std::vector<double> y = x;
      const double h = 1e-6;
      y[i] = x[i] + h;
      const double fp = reference_nll(lm.model, y);
      y[i] = x[i] - h;
      const double fm = reference_nll(lm.model, y);
      INFO("target " << t << " parameter " << lm.model.parameters[i].name);
      CHECK(g[i] == Approx((fp - fm) / (2 * h)).epsilon(1e-6));
    }
  }
}

TEST_CASE("an unknown SIMD target is a usage error naming the available ones", "[simd]") {
  try {
    hs3fit::eval::kernel_table("avx9000");
    FAIL("no error");
  } catch (const hs3fit::Error& e) {
    CHECK(e.kind() == hs3fit::ErrorKind::Usage);
    CHECK(std::string(e.message()).find("scalar") != std::string::npos);
  }
}
