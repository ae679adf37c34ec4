// hs3fit fit: maximum-likelihood fit with errors and correlations; optionally MINOS intervals
// and the discovery significance.
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include "infer/calculator.h"
#include "infer/minos.h"
#include "model/overrides.h"
#include "report/fit_report.h"
#include "report/infer_report.h"
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
  cmd->callback([opts, &exit_code] {
    const auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm = load_model(opts->model.workspace, to_load_options(opts->model));
    const auto tc = std::chrono::steady_clock::now();
    tape::Tape tp = tape::compile(lm.model);
    eval::Evaluator ev(tp);
    report::RunInfo info{lm.source, lm.measurement, lm.parse_s, lm.build_s,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count(), 0, tp.summary()};
    spdlog::debug("tape: {}", tp.summary());
    fit::FitOptions fo;
    fo.tolerance = opts->tolerance;
    fo.compute_covariance = !opts->no_hesse;
    fit::Objective f = [&ev](const double* x, double* g) { return g ? ev.nll_and_gradient(x, g) : ev.nll(x); };
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
      infer::Likelihood likelihood(lm.model, infer::inference_fit_options(opts->tolerance));
      for (uint32_t p : params) {
        minos.push_back(infer::minos(likelihood, r, p, r.errors.empty() ? 0.0 : r.errors[p]));
        if (!minos.back().fits_converged) exit_code = kExitNotConverged;
      }
    }
    std::optional<infer::Significance> significance;
    if (opts->significance) {
      significance = infer::discovery_significance(lm.model, infer::inference_fit_options(opts->tolerance));
      if (!significance->converged) exit_code = kExitNotConverged;
    }
    info.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opts->json) {
      print(report::add_to_fit_json(report::fit_json(lm.model, r, info), lm.model, opts->minos.empty() ? nullptr : &minos,
                                    significance ? &*significance : nullptr));
    } else {
      std::string text = report::fit_table(lm.model, r, info);
      if (!minos.empty()) text += report::minos_table(lm.model, minos);
      if (significance) text += report::significance_table(lm.model, *significance);
      print(text);
    }
  });
}

}  // namespace

static CommandRegistration registration("fit", register_fit);

}  // namespace hs3fit::app
