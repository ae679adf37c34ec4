// Exact gradients (the tape's reverse sweep) against finite differences: every tape op (through
// tiny models that together use each op), every interpolation code (values against SPEC §7.4's
// formulas written out here, continuity at |θ| = 1, derivatives), and whole models at random points.
#include <map>
#include <set>

#include "tape/interpolation.h"
#include "test_support.h"

namespace {

using namespace hs3test;
using hs3fit::model::Interp;
using hs3fit::tape::Op;

// ---------------------------------------------------------------------------------------------
// Every tape op, through a zoo of tiny models whose tapes together use each op of
// HS3FIT_TAPE_OPS (checked at run time, so the test follows the instruction set as it changes):
// the reverse-sweep gradient against central differences, and −ln L against the direct
// evaluation of the model (test_support.h).

// Two channels, four samples: normfactor, lumi, two normsys on one sample (a product) and one
// shared by two samples, two histosys on one sample (a sum), a shapesys with a bin without
// uncertainty (a masked, gathered parameter list), a staterror over two samples with a
// zero-uncertainty bin, a shapefactor shared by both channels, a zero observed count.
const char* kZoo = R"({
  "channels": [
    {"name": "SR", "samples": [
      {"name": "signal", "data": [5, 8, 2], "modifiers": [
        {"name": "mu", "type": "normfactor", "data": null},
        {"name": "lumi", "type": "lumi", "data": null},
        {"name": "sig_xs", "type": "normsys", "data": {"hi": 1.12, "lo": 0.85}}]},
      {"name": "bkg", "data": [50, 30, 4], "modifiers": [
        {"name": "lumi", "type": "lumi", "data": null},
        {"name": "n1", "type": "normsys", "data": {"hi": 1.1, "lo": 0.85}},
        {"name": "n2", "type": "normsys", "data": {"hi": 1.05, "lo": 0.97}},
        {"name": "h1", "type": "histosys", "data": {"hi_data": [55, 33, 5], "lo_data": [46, 28, 3.5]}},
        {"name": "h2", "type": "histosys", "data": {"hi_data": [52, 29, 4.4], "lo_data": [49, 32, 3.9]}},
        {"name": "stat_SR", "type": "staterror", "data": [4, 2, 0]},
        {"name": "sf", "type": "shapefactor", "data": null}]},
      {"name": "bkg2", "data": [10, 20, 1], "modifiers": [
        {"name": "n1", "type": "normsys", "data": {"hi": 1.3, "lo": 0.8}},
        {"name": "stat_SR", "type": "staterror", "data": [3, 1.5, 0]},
        {"name": "ss", "type": "shapesys", "data": [2, 0, 0.3]}]}]},
    {"name": "CR", "samples": [
      {"name": "bkg", "data": [200, 100, 40], "modifiers": [
        {"name": "lumi", "type": "lumi", "data": null},
        {"name": "h1", "type": "histosys", "data": {"hi_data": [210, 104, 41], "lo_data": [190, 97, 38]}},
        {"name": "sf", "type": "shapefactor", "data": null}]},
      {"name": "other", "data": [3, 2, 1], "modifiers": []}]}],
  "observations": [{"name": "SR", "data": [60, 45, 0]}, {"name": "CR", "data": [210, 95, 44]}],
  "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": [
    {"name": "lumi", "auxdata": [1.0], "sigmas": [0.02], "inits": [1.0], "bounds": [[0.5, 1.5]]}]}}],
  "version": "1.0.0"})";

const Op kAllOps[] = {
#define HS3FIT_TEST_OP(name, doc) Op::name,
    HS3FIT_TAPE_OPS(HS3FIT_TEST_OP)
#undef HS3FIT_TEST_OP
};

}  // namespace

TEST_CASE("every tape op: reverse-sweep gradient equals central differences on a zoo of tiny models", "[gradient][tape]") {
  std::set<Op> used;
  uint32_t seed = 100;
  for (Interp normsys : {Interp::Code0, Interp::Code1, Interp::Code2, Interp::Code4, Interp::Code4p}) {
    for (Interp histosys : {Interp::Code0, Interp::Code1, Interp::Code2, Interp::Code4, Interp::Code4p}) {
      INFO("normsys " << hs3fit::model::to_string(normsys) << ", histosys " << hs3fit::model::to_string(histosys));
      hs3fit::LoadOptions o;
      o.build.normsys_interp = normsys;
      o.build.histosys_interp = histosys;
      auto c = compile_text(kZoo, o);
      for (const hs3fit::tape::Instr& in : c->tape.code) used.insert(in.op);
      std::mt19937 rng(seed++);
      // α on both sides of ±1 and of 0, γ and factors around 1
      std::uniform_real_distribution<double> alpha(-2.2, 2.2), gamma(0.8, 1.2);
      for (int k = 0; k < 4; ++k) {
        std::vector<double> x = c->model().initial_values();
        for (size_t i = 0; i < x.size(); ++i) {
          const auto& p = c->params()[i];
          double v = p.init == 0.0 ? alpha(rng) : p.init * gamma(rng);
          for (double kink : {-1.0, 0.0, 1.0})
            if (std::fabs(v - kink) < 1e-3) v += 0.01;
          x[i] = std::clamp(v, p.lo, p.hi);  // fixed parameters move too: the gradient covers them
        }
        std::vector<double> g;
        const double f = c->nll_and_gradient(x, g);
        REQUIRE(std::isfinite(f));
        CHECK(c->nll(x) == f);
        CHECK(f == Approx(static_cast<double>(direct_nll(c->model(), x))).epsilon(1e-12));
        // a second reverse sweep gives the same gradient (adjoints are reset between sweeps)
        std::vector<double> g2;
        c->nll_and_gradient(x, g2);
        CHECK(g2 == g);
        std::vector<double> fd = fd_gradient(*c, x);
        for (size_t i = 0; i < x.size(); ++i) {
          INFO("point " << k << ", parameter " << c->params()[i].name << " = " << x[i] << ": gradient " << g[i] << ", fd " << fd[i]);
          CHECK(std::fabs(g[i] - fd[i]) <= 1e-7 * std::max(1.0, std::fabs(fd[i])));
        }
      }
    }
  }
  {
    // A model built directly (not from pyhf JSON): a per-bin factor whose bins use parameters out
    // of order, one twice and one bin none (a gather through an index list).
    hs3fit::model::Model m;
    m.parameters = {{"mu", 1.0, 0.0, 10.0, false, 0.1}, {"a", 1.0, 0.0, 10.0, false, 0.1}, {"b", 1.0, 0.0, 10.0, false, 0.1}};
    hs3fit::model::Channel ch;
    ch.name = "SR";
    ch.observed = {6, 4, 9, 3};
    hs3fit::model::Sample smp;
    smp.name = "s";
    smp.nominal = {5, 6, 7, 2};
    hs3fit::model::Modifier nf;
    nf.kind = hs3fit::model::ModifierKind::NormFactor;
    nf.param = 0;
    hs3fit::model::Modifier sf;
    sf.kind = hs3fit::model::ModifierKind::ShapeFactor;
    sf.bin_params = {2, hs3fit::model::kNoParameter, 1, 2};
    smp.modifiers = {nf, sf};
    hs3fit::model::Sample other;
    other.name = "t";
    other.nominal = {1, 1, 1, 1};
    ch.samples = {smp, other};
    m.channels = {ch};
    m.poi = 0;
    hs3fit::tape::Tape tape = hs3fit::tape::compile(m);
    for (const hs3fit::tape::Instr& in : tape.code) used.insert(in.op);
    hs3fit::eval::Evaluator ev(tape);
    const std::vector<double> x = {1.3, 0.8, 1.1};
    std::vector<double> g(3);
    const double f = ev.nll_and_gradient(x.data(), g.data());
    CHECK(f == Approx(pois_nll(6, 5 * 1.3 * 1.1 + 1) + pois_nll(4, 6 * 1.3 + 1) + pois_nll(9, 7 * 1.3 * 0.8 + 1) +
                      pois_nll(3, 2 * 1.3 * 1.1 + 1))
                   .epsilon(1e-13));
    for (size_t i = 0; i < 3; ++i) {
      std::vector<double> y = x;
      const double fd = richardson_derivative(
          [&](double v) {
            y[i] = v;
            return ev.nll(y.data());
          },
          x[i], 1e-4);
      INFO("parameter " << m.parameters[i].name << ": gradient " << g[i] << ", fd " << fd);
      CHECK(g[i] == Approx(fd).epsilon(1e-8));
    }
  }
  for (Op op : kAllOps) {
    INFO("op " << hs3fit::tape::op_name(op) << " is not used by any model of the zoo: add one that produces it");
    CHECK(used.count(op) == 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Interpolation codes: SPEC §7.4 formulas, written out here independently of lib/tape.

namespace {

struct Variation {
  double nom, up, down;
};
// Symmetric, asymmetric, same-sided (both variations above nominal) and a large one.
const Variation kVariations[] = {{10, 13, 8}, {1, 1.1, 0.9}, {1, 1.3, 0.85}, {5, 5.5, 5.2}, {20, 35, 4}, {1, 0.95, 0.7}};

// code4's coefficients the way pyhf computes them: c = A⁻¹ b (pyhf-semantics.md §5).
std::vector<double> pyhf_code4_coefficients(const Variation& v) {
  const double up = v.up / v.nom, dn = v.down / v.nom, lu = std::log(up), ld = std::log(dn);
  const double b[6] = {up - 1, dn - 1, lu * up, -ld * dn, lu * lu * up, ld * ld * dn};
  const double Ainv[6][6] = {{15. / 16, -15. / 16, -7. / 16, -7. / 16, 1. / 16, -1. / 16},
                             {3. / 2, 3. / 2, -9. / 16, 9. / 16, 1. / 16, 1. / 16},
                             {-5. / 8, 5. / 8, 5. / 8, 5. / 8, -1. / 8, 1. / 8},
                             {-3. / 2, -3. / 2, 7. / 8, -7. / 8, -1. / 8, -1. / 8},
                             {3. / 16, -3. / 16, -3. / 16, -3. / 16, 1. / 16, -1. / 16},
                             {1. / 2, 1. / 2, -5. / 16, 5. / 16, 1. / 16, 1. / 16}};
  std::vector<double> c(6, 0.0);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) c[i] += Ainv[i][j] * b[j];
  return c;
}

double spec_value(Interp code, double t, const Variation& v) { return spec::interp(code, t, v.nom, v.up, v.down); }

double lib_value(Interp code, double t, const Variation& v, double* d = nullptr) {
  return hs3fit::interp::evaluate(code, t, v.nom, v.up, v.down, d);
}

const Interp kCodes[] = {Interp::Code0, Interp::Code1, Interp::Code2, Interp::Code4, Interp::Code4p};

}  // namespace

TEST_CASE("interpolation values equal SPEC §7.4's formulas", "[interpolation]") {
  for (Interp code : kCodes) {
    for (const Variation& v : kVariations) {
      for (double t = -3.0; t <= 3.0001; t += 0.125) {
        INFO(hs3fit::model::to_string(code) << " nom " << v.nom << " up " << v.up << " down " << v.down << " theta " << t);
        const double want = spec_value(code, t, v);
        CHECK(lib_value(code, t, v) == Approx(want).epsilon(1e-12).margin(1e-12 * v.nom));
      }
      // Anchors: Δ(0) = 0 / F(0) = 1, and the ±1σ points reproduce the variations.
      INFO(hs3fit::model::to_string(code) << " nom " << v.nom << " up " << v.up << " down " << v.down);
      if (hs3fit::model::is_multiplicative(code)) {
        CHECK(lib_value(code, 0, v) == Approx(1.0).epsilon(1e-14));
        CHECK(lib_value(code, 1, v) * v.nom == Approx(v.up).epsilon(1e-12));
        CHECK(lib_value(code, -1, v) * v.nom == Approx(v.down).epsilon(1e-12));
      } else {
        CHECK(lib_value(code, 0, v) == 0.0);
        CHECK(v.nom + lib_value(code, 1, v) == Approx(v.up).epsilon(1e-12));
        CHECK(v.nom + lib_value(code, -1, v) == Approx(v.down).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("code4 polynomial coefficients: SPEC's S/A formulas equal pyhf's A^-1 b", "[interpolation]") {
  for (const Variation& v : kVariations) {
    std::vector<double> a = spec::code4_coefficients(v.nom, v.up, v.down), b = pyhf_code4_coefficients(v);
    for (int k = 0; k < 6; ++k) CHECK(a[k] == Approx(b[k]).margin(1e-14));
    double c[8];
    hs3fit::interp::fill_coefficients(Interp::Code4, v.nom, v.up, v.down, c);
    for (int k = 0; k < 6; ++k) CHECK(c[k] == Approx(b[k]).margin(1e-14));
  }
}

TEST_CASE("interpolation is continuous at |theta| = 1 (value, and derivative where SPEC says so)", "[interpolation]") {
  const double e = 1e-9;
  for (Interp code : kCodes) {
    for (const Variation& v : kVariations) {
      for (double edge : {-1.0, 1.0}) {
        INFO(hs3fit::model::to_string(code) << " nom " << v.nom << " up " << v.up << " down " << v.down << " at " << edge);
        double d_in = 0, d_out = 0;
        const double inside = lib_value(code, edge - edge * e, v, &d_in);
        const double outside = lib_value(code, edge + edge * e, v, &d_out);
        const double scale = hs3fit::model::is_multiplicative(code) ? 1.0 : v.nom;
        CHECK(std::fabs(inside - outside) <= 1e-7 * scale);
        // codes 2, 4 and 4p have a continuous first derivative at ±1; codes 0 and 1 are smooth there.
        CHECK(d_in == Approx(d_out).epsilon(1e-6).margin(1e-6 * scale));
        if (code == Interp::Code4) {
          // code4's second derivative is continuous too (SPEC): compare one-sided FD of F'.
          auto deriv = [&](double t) {
            double d;
            lib_value(code, t, v, &d);
            return d;
          };
          const double h = 1e-5;
          const double s_in = (deriv(edge - edge * e) - deriv(edge - edge * h)) / (edge * (h - e));
          const double s_out = (deriv(edge + edge * h) - deriv(edge + edge * e)) / (edge * (h - e));
          CHECK(s_in == Approx(s_out).epsilon(1e-3).margin(1e-4));
        }
      }
    }
  }
}

TEST_CASE("interpolation derivatives equal finite differences", "[interpolation][gradient]") {
  for (Interp code : kCodes) {
    for (const Variation& v : kVariations) {
      for (double t : {-3.1, -2.0, -1.3, -0.999, -0.6, -0.25, -0.01, 0.01, 0.3, 0.77, 0.999, 1.001, 1.4, 2.6}) {
        INFO(hs3fit::model::to_string(code) << " nom " << v.nom << " up " << v.up << " down " << v.down << " theta " << t);
        double d = 0;
        lib_value(code, t, v, &d);
        const double fd = richardson_derivative([&](double s) { return lib_value(code, s, v); }, t, 1e-4);
        // and the derivative of SPEC's formula
        const double fd_spec = richardson_derivative([&](double s) { return spec_value(code, s, v); }, t, 1e-4);
        CHECK(d == Approx(fd).epsilon(1e-8).margin(1e-9 * v.nom));
        CHECK(d == Approx(fd_spec).epsilon(1e-8).margin(1e-9 * v.nom));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Whole models at random points.

namespace {

// A random point: Gaussian-constrained α in [−2.5, 2.5] (both sides of ±1), γ in [0.6, 1.4],
// free factors in [0.3, 3], inside the bounds and away from the kinks at 0 and ±1.
std::vector<double> random_point(const Compiled& c, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x = c.model().initial_values();
  for (size_t i = 0; i < c.n(); ++i) {
    const auto& p = c.params()[i];
    if (p.fixed) continue;
    double v;
    if (p.init == 0.0) v = -2.5 + 5 * u(rng);                    // normsys / histosys α
    else if (p.lo > 0 && p.lo < 1e-6) v = 0.6 + 0.8 * u(rng);   // staterror / shapesys γ
    else v = p.init * (0.3 + 2.7 * u(rng));                      // normfactor, shapefactor, lumi
    for (double kink : {-1.0, 0.0, 1.0})
      if (std::fabs(v - kink) < 1e-3) v += 0.01;
    x[i] = std::clamp(v, p.lo, p.hi);
  }
  return x;
}

void check_model_gradient(const Compiled& c, int points, uint32_t seed) {
  std::mt19937 rng(seed);
  int finite = 0;
  for (int k = 0; k < points; ++k) {
    std::vector<double> x = random_point(c, rng), g;
    const double f = c.nll_and_gradient(x, g);
    if (!std::isfinite(f)) continue;  // a negative yield from a large histosys variation
    ++finite;
    CHECK(c.nll(x) == f);
    std::vector<double> fd = fd_gradient(c, x);
    for (size_t i = 0; i < x.size(); ++i) {
      INFO("point " << k << ", parameter " << c.params()[i].name << " = " << x[i] << ": gradient " << g[i] << ", fd " << fd[i]);
      CHECK(std::fabs(g[i] - fd[i]) <= 1e-6 * std::max(1.0, std::fabs(fd[i])));
    }
  }
  CHECK(finite >= points / 2);
}

hs3fit::LoadOptions interp_options(Interp normsys, Interp histosys, const std::string& measurement = "") {
  hs3fit::LoadOptions o;
  o.build.measurement = measurement;
  o.build.normsys_interp = normsys;
  o.build.histosys_interp = histosys;
  return o;
}

}  // namespace

TEST_CASE("model gradients equal finite differences at random points of real workspaces", "[gradient]") {
  struct Case {
    std::string path;
    hs3fit::LoadOptions options;
    int points;
  };
  const std::vector<Case> cases = {
      {"workspaces/pyhf/simple-2bin/workspace.json", {}, 5},                                   // shapesys
      {"workspaces/pyhf/histfactory-example/workspace.json", measurement_options("GaussExample"), 5},  // lumi, staterror, normsys
      {"workspaces/pyhf/c2p-multi-bin-sys-histosys-uncorr/workspace.json", {}, 5},             // histosys code4p
      {"workspaces/pyhf/bayes-SH4b-toy/workspace.json", {}, 5},                                 // histosys + normsys
      {"workspaces/pyhf/atlas-mbj-Gtt-0L-B/workspace.json", {}, 3},
      {"workspaces/pyhf/atlas-sbottom-SUSY-2018-31-RegionB/workspace.json", {}, 2},             // 61 parameters
      {"workspaces/pyhf/cms-ttgamma-2l/workspace.json", {}, 1},                                 // 191 parameters, staterror
      {"workspaces/pyhf-validation/2bin_2channel_coupledshapefactor.json", {}, 5},              // shapefactor
      {"workspaces/pyhf-validation/1bin_lumi.json", {}, 5},
      // the other interpolation codes on the same models
      {"workspaces/pyhf/bayes-SH4b-toy/workspace.json", interp_options(Interp::Code1, Interp::Code0), 5},
      {"workspaces/pyhf/bayes-SH4b-toy/workspace.json", interp_options(Interp::Code4, Interp::Code2), 5},
      {"workspaces/pyhf/histfactory-example/workspace.json", interp_options(Interp::Code1, Interp::Code2, "GaussExample"), 3},
      {"workspaces/pyhf-validation/2bin_2channel_coupledhistosys.json", interp_options(Interp::Code1, Interp::Code0), 5},
      {"workspaces/pyhf-validation/2bin_2channel_couplednorm.json", interp_options(Interp::Code1, Interp::Code0), 5},
      // multiplicative codes on histosys, additive on normsys (selectable; ROOT semantics)
      // (not on bayes-SH4b-toy: a multiplicative code on its zero-nominal bins is 0/0)
      {"workspaces/pyhf/c2p-multi-bin-sys-histosys-uncorr/workspace.json", interp_options(Interp::Code4p, Interp::Code4), 5},
      {"workspaces/pyhf-validation/2bin_2channel_coupledhistosys.json", interp_options(Interp::Code0, Interp::Code1), 5},
      {"workspaces/pyhf/bayes-SRee-SRmm-Srem/workspace.json", interp_options(Interp::Code4p, Interp::Code1), 5},
      {"workspaces/pyhf/bayes-SRee-SRmm-Srem/workspace.json", interp_options(Interp::Code2, Interp::Code1), 5},
      {"workspaces/pyhf/bayes-SRee-SRmm-Srem/workspace.json", interp_options(Interp::Code0, Interp::Code1), 5},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    INFO(c.path << " normsys " << hs3fit::model::to_string(c.options.build.normsys_interp) << " histosys "
                << hs3fit::model::to_string(c.options.build.histosys_interp));
    auto m = compile_file(shared_path(c.path), c.options);
    check_model_gradient(*m, c.points, seed++);
  }
}
