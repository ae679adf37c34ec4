// hs3fit impacts: pre-/post-fit impacts of every nuisance parameter on the POI, ranked
// (Combine's impacts, cabinetry's ranking), with pulls; table, JSON and a ranking plot.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "infer/impacts.h"
#include "infer/likelihood.h"
#include "model/overrides.h"
#include "report/impacts_report.h"
#include "report/plot.h"

namespace hs3fit::app {

namespace {

void register_impacts(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    bool json = false;
    size_t top = 0;
    std::string plot, parameters;
    double tolerance = fit::FitOptions{}.tolerance;
    bool verify_fits = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("impacts", "Impacts of the nuisance parameters on the POI (pre-/post-fit ±1σ), ranked, with pulls");
  add_model_options(cmd, o->model);
  cmd->add_option("--top", o->top, "Show only the N highest-ranked parameters (all are computed)")->check(CLI::PositiveNumber);
  cmd->add_option("--plot", o->plot, "Also draw the ranking plot with gnuplot: FILE.svg, .png or .pdf");
  cmd->add_option("--parameters", o->parameters, "Only these nuisance parameters: NAME[,NAME...]");
  cmd->add_flag("--verify-fits", o->verify_fits,
                "Finish every conditional fit with the full minimizer (EDM from a fresh Hessian), not only those the Newton steps on "
                "the nominal Hessian leave above 1e-3 x the EDM goal (slower, same numbers)");
  cmd->add_flag("--json", o->json, "Print the result as JSON (schema in docs/impacts.md)");
  cmd->add_option("--tolerance", o->tolerance, "EDM goal = 0.002 * tolerance * 0.5 (Minuit convention)")->check(CLI::PositiveNumber);
  cmd->callback([o, &exit_code] {
    if (!o->plot.empty()) report::plot::terminal(o->plot, 1, 1, "--plot");  // a bad extension fails before the fits
    const auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm = load_model(o->model.workspace, to_load_options(o->model));
    infer::ImpactOptions io;
    io.top = o->top;
    io.verify_fits = o->verify_fits;
    if (!o->parameters.empty()) io.only = model::parse_name_list(o->parameters);
    infer::ImpactsResult r = infer::impacts(lm.model, infer::inference_fit_options(o->tolerance), io);
    const model::Parameter& poi = lm.model.parameters[r.poi];
    if (std::find(r.nominal.at_limit.begin(), r.nominal.at_limit.end(), poi.name) != r.nominal.at_limit.end())
      spdlog::warn("the POI '{}' is at its bound ({:g}): shifts towards the bound cannot move it, so impacts are truncated; "
                   "consider widening it (--bounds {}=LO:HI)", poi.name, r.poi_hat, poi.name);
    if (!infer::usable(r.nominal)) spdlog::warn("nominal fit did not converge: {} (EDM {:.3g})", r.nominal.status, r.nominal.edm);
    for (const infer::Impact& im : r.impacts)
      for (const std::string& f : im.failed) spdlog::warn("impact of '{}': fit {} did not converge", im.pull.name, f);
    if (!r.converged) exit_code = kExitNotConverged;
    report::RunInfo info{lm.source, lm.measurement, lm.parse_s, lm.build_s, 0, 0, ""};
    info.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    print(o->json ? report::impacts_json(lm.model, r, info) : report::impacts_table(lm.model, r, info));
    if (!o->plot.empty()) report::plot_impacts(lm.model, r, o->plot, "--plot");
  });
}

}  // namespace

static CommandRegistration registration("impacts", register_impacts);

}  // namespace hs3fit::app
