// hs3fit eval: −ln L (and its gradient) at one parameter point, without fitting.
#include <CLI/CLI.hpp>
#include <cmath>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include <optional>
#include "report/fit_report.h"
#include "tape/compiler.h"

namespace hs3fit::app {

namespace {
struct EvalCommand {
  ModelOptions model;
  bool json = false;
  bool gradient = false;
  std::string point;
};
}  // namespace

namespace {
void register_eval(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<EvalCommand>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate -ln L (and its gradient) at the initial point or at --set values");
  add_model_options(cmd, opts->model);
  cmd->add_flag("--json", opts->json, "Print the result as JSON");
  cmd->add_flag("-g,--gradient", opts->gradient, "Also print the exact gradient d(-ln L)/dθ");
  cmd->add_option("--point", opts->point,
                  "JSON file with parameter values (hs3fit/pyhf fit output, or an object NAME: value); --set applies on top");
  cmd->callback([opts, &exit_code] {
    LoadOptions lo = to_load_options(opts->model);
    if (!opts->point.empty()) {
      auto point = read_parameter_point(opts->point);
      lo.overrides.set.insert(lo.overrides.set.begin(), point.begin(), point.end());
    }
    lo.general_hs3 = true;  // unbinned HS3: lm.objective
    LoadedModel lm = load_model(opts->model.workspace, lo);
    tape::Tape tp = lm.objective ? tape::Tape{} : tape::compile(lm.model);
    std::optional<eval::Evaluator> ev;
    if (!lm.objective) ev.emplace(tp);
    fit::Objective f = lm.objective ? fit::Objective(lm.objective)
                                    : fit::Objective([&ev](const double* x, double* g) { return g ? ev->nll_and_gradient(x, g) : ev->nll(x); });
    report::EvalResult e;
    e.values = lm.model.initial_values();
    if (opts->gradient) {
      e.gradient.resize(e.values.size());
      e.nll = f(e.values.data(), e.gradient.data());
    } else {
      e.nll = f(e.values.data(), nullptr);
    }
    if (!std::isfinite(e.nll)) {
      spdlog::warn("-ln L is not finite at this point (negative or zero expected yield in a bin with events?)");
      exit_code = kExitNotConverged;
    }
    report::RunInfo info{lm.source, lm.measurement, lm.parse_s, lm.build_s, 0, 0, lm.general ? lm.general->summary() : tp.summary()};
    print(opts->json ? report::eval_json(lm.model, e, info) : report::eval_table(lm.model, e, info));
  });
}

}  // namespace

static CommandRegistration registration("eval", register_eval);

}  // namespace hs3fit::app
