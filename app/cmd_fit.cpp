// hs3fit fit: maximum-likelihood fit with errors and correlations; optionally MINOS intervals
// and the discovery significance.
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include "infer/calculator.h"
#include "infer/impacts.h"
#include "infer/minos.h"
#include "model/overrides.h"
#include "model/yields.h"
#include "report/fit_report.h"
#include "report/infer_report.h"
#include "report/plot.h"
#include "report/pulls_report.h"
#include "tape/compiler.h"

namespace hs3fit::app {

namespace {
struct FitCommand {
  ModelOptions model;
  bool json = false;
  double tolerance = fit::FitOptions{}.tolerance;
  bool no_hesse = false;
  std::string minos;        // --minos NAME[,NAME...] or all
  bool significance = false;
  std::string pulls;        // --pulls FILE: pulls table and plot
  bool yields = false;      // --yields: pre-/post-fit yield tables with uncertainties
};
}  // namespace

namespace {
void register_fit(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<FitCommand>();
  CLI::App* cmd = app.add_subcommand("fit", "Maximum-likelihood fit: best-fit values, errors, correlations");
  add_model_options(cmd, opts->model);
  cmd->add_flag("--json", opts->json, "Print the result as JSON (schema in README.md)");
  cmd->add_option("--tolerance", opts->tolerance, "EDM goal = 0.002 * tolerance * 0.5 (Minuit convention)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-hesse", opts->no_hesse, "Skip the covariance (errors and correlations)");
  cmd->add_option("--minos", opts->minos, "Asymmetric profile-likelihood (MINOS) intervals for NAME[,NAME...] or all");
  cmd->add_flag("--significance", opts->significance, "Discovery significance of the POI (q0): observed and expected Z0, p0");
  cmd->add_option("--pulls", opts->pulls,
                  "Also print the pulls and constraints of the nuisance parameters and plot them with gnuplot: FILE.svg, .png or .pdf");
  cmd->add_flag("--yields", opts->yields, "Also print pre- and post-fit yields per channel and sample with uncertainties");
  cmd->callback([opts, &exit_code] {
    if (!opts->pulls.empty()) report::plot::terminal(opts->pulls, 1, 1, "--pulls");  // a bad extension fails before the fit
    if (!opts->pulls.empty() && opts->no_hesse) throw Error(ErrorKind::Usage, "--pulls", "pulls need the covariance: drop --no-hesse");
    const auto t0 = std::chrono::steady_clock::now();
    LoadOptions lo = to_load_options(opts->model);
    lo.general_hs3 = true;  // unbinned HS3: lm.objective
    LoadedModel lm = load_model(opts->model.workspace, lo);
    if (lm.objective && opts->yields) throw Error(ErrorKind::Usage, "--yields", "yield tables are for binned models (pyhf, histfactory_dist)");
    const auto tc = std::chrono::steady_clock::now();
    tape::Tape tp = lm.objective ? tape::Tape{} : tape::compile(lm.model);
    std::optional<eval::Evaluator> ev;
    if (!lm.objective) ev.emplace(tp);
    report::RunInfo info{lm.source, lm.measurement, lm.parse_s, lm.build_s,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count(), 0,
                         lm.general ? lm.general->summary() : tp.summary()};
    spdlog::debug("tape: {}", tp.summary());
    fit::FitOptions fo;
    fo.tolerance = opts->tolerance;
    fo.compute_covariance = !opts->no_hesse;
    if (!lm.objective) fo.hessian_structure = tp.parameter_coupling();  // sparse Hessians for large models
    fit::Objective f = lm.objective ? fit::Objective(lm.objective)
                                    : fit::Objective([&ev](const double* x, double* g) { return g ? ev->nll_and_gradient(x, g) : ev->nll(x); });
    fit::FitResult r = fit::minimize(f, lm.model.parameters, fo);
    info.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.converged) {
      spdlog::warn("fit did not converge: {} (EDM {:.3g}, goal {:.3g})", r.status, r.edm, r.edm_goal);
      exit_code = kExitNotConverged;
    }
    if (r.covariance_forced_posdef) spdlog::warn("covariance matrix not positive definite: forced pos. def., errors approximate");
    for (const auto& name : r.at_limit) spdlog::warn("parameter '{}' is at its limit", name);
    std::vector<infer::MinosInterval> minos;
    if (!opts->minos.empty()) {
      std::vector<uint32_t> params;
      if (opts->minos == "all") {
        for (uint32_t i = 0; i < lm.model.parameters.size(); ++i)
          if (!lm.model.parameters[i].fixed) params.push_back(i);
      } else {
        for (const std::string& name : model::parse_name_list(opts->minos)) params.push_back(lm.model.parameter_index(name, "--minos"));
      }
      infer::Likelihood likelihood = make_likelihood(lm, infer::inference_fit_options(opts->tolerance), "--minos");
      for (uint32_t p : params) {
        minos.push_back(infer::minos(likelihood, r, p, r.errors.empty() ? 0.0 : r.errors[p]));
        if (!minos.back().fits_converged) exit_code = kExitNotConverged;
      }
    }
    std::optional<infer::Significance> significance;
    if (opts->significance) {
      if (lm.objective) {  // general HS3: on its Asimov dataset, else the observed part only
        infer::Likelihood likelihood = make_likelihood(lm, infer::inference_fit_options(opts->tolerance), "--significance");
        significance = has_asimov(lm) ? infer::discovery_significance(likelihood, infer::inference_fit_options(opts->tolerance))
                                      : infer::observed_significance(likelihood);
      } else {
        significance = infer::discovery_significance(lm.model, infer::inference_fit_options(opts->tolerance));
      }
      if (!significance->converged) exit_code = kExitNotConverged;
    }
    const std::vector<infer::Pull> pulls = infer::pulls(lm.model, r);
    std::vector<model::ChannelYields> yields_pre, yields_post;
    std::optional<infer::YieldErrors> errors_pre, errors_post;
    if (opts->yields) {
      yields_pre = model::expected_yields(lm.model, lm.model.initial_values());
      yields_post = model::expected_yields(lm.model, r.values);
      errors_pre = infer::prefit_yield_errors(lm.model);
      if (!r.errors.empty() && r.covariance.rows() == static_cast<Eigen::Index>(r.free.size()))
        errors_post = infer::yield_errors(lm.model, r.values, r.free, r.covariance);
    }
    info.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opts->json) {
      std::string doc = report::add_to_fit_json(report::fit_json(lm.model, r, info), lm.model, opts->minos.empty() ? nullptr : &minos,
                                                significance ? &*significance : nullptr);
      doc = report::plot::splice_json_members(doc, report::pulls_json_members(pulls));
      if (opts->yields)
        doc = report::plot::splice_json_members(
            doc, report::fit_yields_json_members(yields_pre, *errors_pre, yields_post, errors_post ? &*errors_post : nullptr));
      print(doc);
    } else {
      std::string text = report::fit_table(lm.model, r, info);
      if (!minos.empty()) text += report::minos_table(lm.model, minos);
      if (significance) text += report::significance_table(lm.model, *significance);
      if (!opts->pulls.empty()) text += report::pulls_table(pulls);
      if (opts->yields) text += report::fit_yields_table(yields_pre, *errors_pre, yields_post, errors_post ? &*errors_post : nullptr);
      print(text);
    }
    if (!opts->pulls.empty()) report::plot_pulls(pulls, opts->pulls, "--pulls");
  });
}

}  // namespace

static CommandRegistration registration("fit", register_fit);

}  // namespace hs3fit::app
