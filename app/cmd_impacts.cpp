// hs3fit impacts: pre-/post-fit impacts of every nuisance parameter on the POI, ranked
// (Combine's impacts, cabinetry's ranking), with pulls; table, JSON and a ranking plot.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "infer/impacts.h"
#include "infer/likelihood.h"
#include "infer/shards.h"
#include "core/error.h"
#include "model/overrides.h"
#include "report/impacts_report.h"
#include "report/plot.h"

namespace hs3fit::app {

namespace {

// What defines a sharded impacts result: the model options, the workspace (and patch) bytes,
// the fit options, the parameters (items, in order) and the number of shards.
template <class Opts>
shards::Manifest impacts_manifest(const Opts& o, const LoadedModel& lm, const std::vector<uint32_t>& params, int nshards) {
  const ModelOptions& mo = o.model;
  shards::Manifest man = model_manifest("impacts", mo, lm);
  man.set("tolerance", o.tolerance);
  man.set("verify_fits", o.verify_fits);
  man.set("top", static_cast<long long>(o.top));
  std::vector<std::string> names;
  for (uint32_t p : params) names.push_back(lm.model.parameters[p].name);
  man.set("items", names);
  man.set("assignment", "parameter k (0-based in items) -> shard (k mod N) + 1");
  man.set("shards", nshards);
  return man;
}

void register_impacts(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    bool json = false;
    size_t top = 0;
    std::string plot, parameters;
    double tolerance = fit::FitOptions{}.tolerance;
    bool verify_fits = false;
    std::string shard;    // --shard i/N
    std::string out_dir;  // -o DIR
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
  cmd->add_option("--shard", o->shard,
                  "Compute only shard I of N (1-based, e.g. $SLURM_ARRAY_TASK_ID/N): parameter k goes to shard (k mod N)+1; needs -o DIR; "
                  "rerunning resumes; combine with 'hs3fit merge DIR'");
  cmd->add_option("-o,--output-dir", o->out_dir, "Directory for sharded results (manifest.json, shard-I-of-N.json); -o alone = --shard 1/1");
  cmd->callback([o, &exit_code] {
    const bool sharded = !o->shard.empty() || !o->out_dir.empty();
    if (!o->shard.empty() && o->out_dir.empty()) throw Error(ErrorKind::Usage, "--shard", "sharded impacts write their results into a directory: add -o DIR");
    const shards::Shard shard = o->shard.empty() ? shards::Shard{} : shards::parse_shard(o->shard);
    if (sharded && (o->json || !o->plot.empty()))
      throw Error(ErrorKind::Usage, "-o", "a shard writes its results into the directory; --json and --plot belong to 'hs3fit merge DIR'");
    if (sharded && o->model.workspace == "-") throw Error(ErrorKind::Usage, "--shard", "sharded runs read the workspace from a file, not standard input");
    if (!o->plot.empty()) report::plot::terminal(o->plot, 1, 1, "--plot");  // a bad extension fails before the fits
    const auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm = load_model(o->model.workspace, to_load_options(o->model));
    infer::ImpactOptions io;
    io.top = o->top;
    io.verify_fits = o->verify_fits;
    if (!o->parameters.empty()) io.only = model::parse_name_list(o->parameters);
    const fit::FitOptions fo = infer::inference_fit_options(o->tolerance);
    if (sharded) {
      const shards::Manifest man = impacts_manifest(*o, lm, infer::impact_parameters(lm.model, io), shard.count);
      man.write_or_check(o->out_dir);
      const infer::ImpactsShardRun run = infer::run_impacts_shard(lm.model, fo, io, o->out_dir, shard, man.hash());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (run.already_complete)
        print(fmt::format("shard {}: already complete in {}\n", shard.name(), run.path));
      else
        print(fmt::format("shard {}: {} parameters ({} computed, {} from the checkpoint) in {} ({:.3f} s)\n", shard.name(), run.items, run.computed,
                          run.resumed, run.path, s));
      return;  // fits that did not converge are reported by merge (exit code 1 there)
    }
    infer::ImpactsResult r = infer::impacts(lm.model, fo, io);
    report::warn_impacts(lm.model.parameters[r.poi].name, r, infer::usable(r.nominal));
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
