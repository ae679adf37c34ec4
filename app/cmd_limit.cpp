// hs3fit limit: CLs upper limits (observed and expected band) and single hypothesis tests,
// asymptotic or with toys.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "infer/calculator.h"
#include "infer/toys.h"
#include "infer/upper_limit.h"
#include "report/infer_report.h"

namespace hs3fit::app {

namespace {
struct LimitCommand {
  ModelOptions model;
  double cl = 0.95;
  double hypotest = std::nan("");
  std::string test_stat = "qtilde";
  double rtol = std::nan("");  // default: 1e-5 asymptotic (pyhf), 1e-3 toys
  double tolerance = fit::FitOptions{}.tolerance;
  int toys = 0;
  unsigned long long seed = 0;
  int threads = 0;
  bool json = false;
  std::string plot;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Extra hypothesis tests on a regular grid so that a plot shows whole CLs curves.
void add_plot_grid(infer::AsymptoticCalculator& calc, infer::UpperLimitResult& r) {
  double top = r.obs;
  for (double e : r.exp) top = std::max(top, e);
  if (!std::isfinite(top) || top <= 0) return;
  const double lo = r.tested.empty() ? 0.0 : r.tested.begin()->first;
  for (double mu : infer::linspace(lo, 1.3 * top, 40)) {
    if (r.tested.count(mu)) continue;
    const infer::HypotestResult h = calc.hypotest(mu);
    r.tested[mu] = {h.obs.cls, h.exp[0].cls, h.exp[1].cls, h.exp[2].cls, h.exp[3].cls, h.exp[4].cls};
  }
}

void run_limit(const LimitCommand& o, int& exit_code) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel lm = load_model(o.model.workspace, to_load_options(o.model));
  report::InferInfo info;
  info.workspace = lm.source;
  info.measurement = lm.measurement;
  info.load_s = seconds_since(t0);
  const infer::TestStat ts = infer::parse_test_stat(o.test_stat, "--test-stat");
  if (ts != infer::TestStat::QmuTilde && ts != infer::TestStat::Qmu)
    throw Error(ErrorKind::Usage, "--test-stat", "limits use qtilde (default) or q");
  info.test_stat = infer::to_string(ts);
  if (!(o.cl > 0 && o.cl < 1)) throw Error(ErrorKind::Usage, "--cl", "the confidence level must be between 0 and 1");
  const fit::FitOptions fo = infer::inference_fit_options(o.tolerance);
  infer::UpperLimitOptions uo;
  uo.cl = o.cl;
  uo.lo = uo.hi = std::nan("");
  uo.rtol = std::isnan(o.rtol) ? (o.toys > 0 ? 5e-3 : 1e-5) : o.rtol;
  const bool single = std::isfinite(o.hypotest);
  bool converged = true;
  std::string out;

  if (o.toys > 0) {
    infer::ToyOptions to;
    to.ntoys = o.toys;
    to.seed = o.seed;
    to.threads = o.threads;
    to.test_stat = ts;
    to.fit = fo;
    infer::ToyCalculator calc(lm.model, to);
    info.calctype = "toybased";
    info.toys = o.toys;
    info.seed = o.seed;
    info.threads = calc.threads();
    if (single) {
      const infer::ToyHypotest t = calc.hypotest(o.hypotest);
      info.fits = calc.fits();
      info.total_s = seconds_since(t0);
      converged = t.result.converged && t.failed_toys == 0;
      out = o.json ? report::hypotest_json(lm.model, t.result, &t.obs_error, info)
                   : report::hypotest_table(lm.model, t.result, &t.obs_error, info);
    } else {
      infer::UpperLimitResult r = infer::toy_upper_limit(calc, uo);
      info.fits = calc.fits();
      info.total_s = seconds_since(t0);
      converged = r.converged;
      if (!o.plot.empty()) report::plot_limit(lm.model, r, o.plot);
      out = o.json ? report::limit_json(lm.model, r, o.cl, uo.rtol, info) : report::limit_table(lm.model, r, o.cl, uo.rtol, info);
    }
  } else {
    infer::AsymptoticCalculator calc(lm.model, {ts, fo});
    if (single) {
      const infer::HypotestResult h = calc.hypotest(o.hypotest);
      info.fits = calc.fits();
      info.total_s = seconds_since(t0);
      converged = calc.failed_fits() == 0;
      out = o.json ? report::hypotest_json(lm.model, h, nullptr, info) : report::hypotest_table(lm.model, h, nullptr, info);
    } else {
      infer::UpperLimitResult r = infer::asymptotic_upper_limit(calc, uo);
      info.fits = calc.fits();
      info.total_s = seconds_since(t0);
      converged = r.converged && calc.failed_fits() == 0;
      if (!o.plot.empty()) {
        infer::UpperLimitResult shown = r;
        add_plot_grid(calc, shown);
        report::plot_limit(lm.model, shown, o.plot);
      }
      out = o.json ? report::limit_json(lm.model, r, o.cl, uo.rtol, info) : report::limit_table(lm.model, r, o.cl, uo.rtol, info);
      for (const std::string& w : r.warnings) spdlog::warn("{}", w);
    }
  }
  if (!converged) {
    spdlog::warn("some fits or the root finding did not converge: results are approximate");
    exit_code = kExitNotConverged;
  }
  print(out);
}

void register_limit(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<LimitCommand>();
  CLI::App* cmd = app.add_subcommand("limit", "CLs upper limits (observed, expected ±1σ ±2σ) or one hypothesis test, asymptotic or with toys");
  add_model_options(cmd, opts->model);
  cmd->add_option("--cl", opts->cl, "Confidence level of the upper limits (CLs = 1 - CL)")->capture_default_str();
  cmd->add_option("--hypotest", opts->hypotest, "Only test this POI value: CLs, CLsb, CLb (observed and expected)");
  cmd->add_option("--test-stat", opts->test_stat, "Test statistic: qtilde (default, as pyhf) or q")->capture_default_str();
  cmd->add_option("--rtol", opts->rtol, "Relative tolerance of the limits (default 1e-5, as pyhf; 5e-3 with toys)")->check(CLI::PositiveNumber);
  cmd->add_option("--tolerance", opts->tolerance, "Fit EDM goal = 0.002 * tolerance * 0.5 (Minuit convention)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--toys", opts->toys, "Use N toys per hypothesis instead of the asymptotic formulae")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", opts->seed, "Seed of the toys (results are identical for any --threads)")->capture_default_str();
  cmd->add_option("--threads", opts->threads, "Threads for toys (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", opts->json, "Print the result as JSON (schema in README.md)");
  cmd->add_option("--plot", opts->plot, "Also plot CLs against the POI with gnuplot: FILE.svg, .png or .pdf");
  cmd->callback([opts, &exit_code] { run_limit(*opts, exit_code); });
}

}  // namespace

static CommandRegistration registration("limit", register_limit);

}  // namespace hs3fit::app
