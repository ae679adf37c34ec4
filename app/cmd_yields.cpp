// hs3fit yields: expected events per channel and sample, pre-fit and (with --postfit) post-fit.
#include <CLI/CLI.hpp>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include "model/yields.h"
#include "report/yields_report.h"
#include "tape/compiler.h"

namespace hs3fit::app {

namespace {

void register_yields(CLI::App& app, int& exit_code) {
  struct Opts { ModelOptions model; bool json = false, postfit = false; };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("yields", "Expected yields per channel and sample: pre-fit, and post-fit with --postfit");
  add_model_options(cmd, o->model);
  cmd->add_flag("--postfit", o->postfit, "Fit first and show post-fit yields next to the pre-fit ones");
  cmd->add_flag("--json", o->json, "Print the tables as JSON");
  cmd->callback([o, &exit_code] {
    LoadedModel lm = load_model(o->model.workspace, to_load_options(o->model));
    auto prefit = model::expected_yields(lm.model, lm.model.initial_values());
    std::vector<model::ChannelYields> postfit;
    if (o->postfit) {
      tape::Tape tp = tape::compile(lm.model);
      eval::Evaluator ev(tp);
      fit::FitOptions fo;
      fo.compute_covariance = false;
      fit::FitResult r = fit::minimize([&ev](const double* x, double* g) { return g ? ev.nll_and_gradient(x, g) : ev.nll(x); },
                                       lm.model.parameters, fo);
      if (!r.converged) {
        spdlog::warn("fit did not converge ({}); post-fit yields are at the last point", r.status);
        exit_code = kExitNotConverged;
      }
      postfit = model::expected_yields(lm.model, r.values);
    }
    print(o->json ? report::yields_json(prefit, postfit) : report::yields_table(prefit, postfit));
  });
}

}  // namespace

static CommandRegistration registration("yields", register_yields);

}  // namespace hs3fit::app
