// hs3fit limit: CLs upper limits (observed and expected band) and single hypothesis tests,
// asymptotic or with toys.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "infer/calculator.h"
#include "infer/patchset_limits.h"
#include "infer/shards.h"
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
  std::string shard;    // --shard i/N (patchset)
  std::string out_dir;  // -o DIR
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

// `limit ws.json --patchset ps.json` (no --patch): asymptotic limits for every patch, in one
// process or as shard I of N (patch k -> shard (k mod N) + 1) into DIR.
void run_patchset_limits(const LimitCommand& o, int& exit_code) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool sharded = !o.shard.empty() || !o.out_dir.empty();
  if (o.toys > 0 || std::isfinite(o.hypotest) || !o.plot.empty())
    throw Error(ErrorKind::Usage, "--patchset", "limits over a patchset are asymptotic upper limits (no --toys, --hypotest or --plot); name one patch with --patch");
  if (!o.shard.empty() && o.out_dir.empty()) throw Error(ErrorKind::Usage, "--shard", "a sharded run writes its results into a directory: add -o DIR");
  if (sharded && o.json) throw Error(ErrorKind::Usage, "-o", "a shard writes its results into the directory; --json belongs to 'hs3fit merge DIR'");
  if (o.model.workspace == "-") throw Error(ErrorKind::Usage, "--patchset", "limits over a patchset read the workspace from a file, not standard input");
  const shards::Shard shard = o.shard.empty() ? shards::Shard{} : shards::parse_shard(o.shard);
  const infer::TestStat ts = infer::parse_test_stat(o.test_stat, "--test-stat");
  if (ts != infer::TestStat::QmuTilde && ts != infer::TestStat::Qmu) throw Error(ErrorKind::Usage, "--test-stat", "limits use qtilde (default) or q");
  if (!(o.cl > 0 && o.cl < 1)) throw Error(ErrorKind::Usage, "--cl", "the confidence level must be between 0 and 1");
  const fit::FitOptions fo = infer::inference_fit_options(o.tolerance);
  infer::UpperLimitOptions uo;
  uo.cl = o.cl;
  uo.lo = uo.hi = std::nan("");
  uo.rtol = std::isnan(o.rtol) ? 1e-5 : o.rtol;

  infer::PatchLimitsDoc doc;
  doc.info = infer::read_patchset_info(o.model.workspace, o.model.patchset);
  doc.cl = o.cl;
  doc.rtol = uo.rtol;
  doc.test_stat = infer::to_string(ts);
  const size_t total = doc.info.names.size();
  auto compute = [&](size_t k) {
    LoadOptions lo = to_load_options(o.model);
    lo.patches = {{o.model.patchset, doc.info.names[k]}};
    const LoadedModel lm = load_model_with_datasets(o.model, lo, "limit");
    infer::AsymptoticCalculator calc(lm.model, {ts, fo});
    const infer::UpperLimitResult r = infer::asymptotic_upper_limit(calc, uo);
    infer::PatchLimit p;
    p.index = k;
    p.patch = doc.info.names[k];
    p.obs = r.obs;
    p.exp = r.exp;
    p.converged = r.converged && calc.failed_fits() == 0;
    p.fits = calc.fits();
    p.measurement = lm.measurement;
    p.poi = lm.model.poi ? lm.model.parameters[*lm.model.poi].name : std::string();
    if (!p.converged) spdlog::warn("patch {}: some fits or the root finding did not converge", p.patch);
    return p;
  };

  if (!sharded) {
    for (size_t k = 0; k < total; ++k) doc.limits.push_back(compute(k));
    doc.total_s = seconds_since(t0);
    for (const infer::PatchLimit& p : doc.limits)
      if (!p.converged) exit_code = kExitNotConverged;
    print(o.json ? infer::patch_limits_json(doc) : infer::patch_limits_table(doc));
    return;
  }
  const ModelOptions& mo = o.model;
  shards::Manifest man("limit-patchset");
  man.set("workspace", mo.workspace);
  man.set("workspace_hash", shards::hash_files({mo.workspace, mo.patchset}));
  man.set("patchset", mo.patchset);
  man.set("measurement_option", mo.measurement).set("poi_option", mo.poi);
  man.set("set", mo.set).set("fix", mo.fix).set("float", mo.release).set("bounds", mo.bounds);
  man.set("normsys_interp", mo.normsys_interp).set("histosys_interp", mo.histosys_interp);
  man.set("tolerance", o.tolerance).set("cl", o.cl).set("rtol", uo.rtol).set("test_stat", doc.test_stat);
  man.set("labels", doc.info.labels).set("patch_names", doc.info.names);
  std::string values = "[";
  for (size_t k = 0; k < total; ++k) values += (k ? ", " : "") + doc.info.values[k];
  man.set_raw("patch_values", values + "]");
  man.set("items", static_cast<long long>(total));
  man.set("assignment", "patch k (0-based, patchset order) -> shard (k mod N) + 1");
  man.set("shards", shard.count);
  man.write_or_check(o.out_dir);
  const std::string hash = man.hash();
  const std::string path = shards::shard_path(o.out_dir, shard);
  if (shards::shard_complete(path, hash)) {
    print(fmt::format("shard {}: already complete in {}\n", shard.name(), path));
    return;
  }
  shards::Checkpoint cp(shards::checkpoint_path(o.out_dir, shard),
                        fmt::format("{{\"manifest_hash\": {}, \"shard\": {}}}", json::quote(hash), json::quote(shard.name())));
  std::map<size_t, std::string> done;
  for (const std::string& rec : cp.records()) {
    const json::Document d = json::parse(rec, shards::checkpoint_path(o.out_dir, shard));
    const infer::PatchLimit p = infer::read_patch_limit(d.root());
    if (p.index >= total || !shard.owns(p.index)) throw Error(ErrorKind::Input, shards::checkpoint_path(o.out_dir, shard), "a patch of another shard");
    done[p.index] = rec;
  }
  const int resumed = static_cast<int>(done.size());
  int computed = 0;
  for (size_t k : shards::items_of(shard, total)) {
    if (done.count(k)) continue;
    const std::string rec = infer::patch_limit_record(compute(k));
    cp.append(rec);
    done[k] = rec;
    ++computed;
  }
  std::vector<std::string> records;
  for (const auto& kv : done) records.push_back(kv.second);
  infer::write_patch_shard(path, hash, shard, records);
  cp.remove();
  print(fmt::format("shard {}: {} patches ({} computed, {} from the checkpoint) in {} ({:.3f} s)\n", shard.name(), computed + resumed, computed, resumed,
                    path, seconds_since(t0)));
}

// `limit --toys N --hypotest MU --shard I/K -o DIR`: the toys with index i -> shard (i mod K) + 1
// (the same i in the s+b and b-only samples, each drawn from Rng::for_toy(seed, sample, i)),
// so the merged hypothesis test equals the single-process one with the same --seed.
void run_toy_shard(const LimitCommand& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!std::isfinite(o.hypotest))
    throw Error(ErrorKind::Usage, "--shard", "sharded toys need --hypotest MU (toy upper limits choose their POI values from the toys' results)");
  if (o.out_dir.empty()) throw Error(ErrorKind::Usage, "--shard", "a sharded run writes its results into a directory: add -o DIR");
  if (o.json || !o.plot.empty()) throw Error(ErrorKind::Usage, "-o", "a shard writes its results into the directory; --json belongs to 'hs3fit merge DIR'");
  if (o.model.workspace == "-") throw Error(ErrorKind::Usage, "--shard", "sharded runs read the workspace from a file, not standard input");
  const shards::Shard shard = o.shard.empty() ? shards::Shard{} : shards::parse_shard(o.shard);
  LoadedModel lm = load_model_with_datasets(o.model, to_load_options(o.model), "limit");
  const infer::TestStat ts = infer::parse_test_stat(o.test_stat, "--test-stat");
  if (ts != infer::TestStat::QmuTilde && ts != infer::TestStat::Qmu) throw Error(ErrorKind::Usage, "--test-stat", "limits use qtilde (default) or q");
  const ModelOptions& mo = o.model;
  shards::Manifest man = model_manifest("limit-toys", mo, lm);
  man.set("tolerance", o.tolerance).set("test_stat", std::string(infer::to_string(ts))).set("hypotest", o.hypotest);
  man.set("toys", o.toys).set("seed", std::to_string(o.seed));
  man.set("assignment", "toy i (0-based, the same i in the s+b and b-only samples) -> shard (i mod N) + 1");
  man.set("shards", shard.count);
  man.write_or_check(o.out_dir);
  const std::string hash = man.hash();
  const std::string path = shards::shard_path(o.out_dir, shard);
  if (shards::shard_complete(path, hash)) {
    print(fmt::format("shard {}: already complete in {}\n", shard.name(), path));
    return;
  }
  infer::ToyOptions to;
  to.ntoys = o.toys;
  to.seed = o.seed;
  to.threads = o.threads;
  to.test_stat = ts;
  to.fit = infer::inference_fit_options(o.tolerance);
  to.shard = shard;
  infer::ToyCalculator calc(lm.model, to);
  const infer::ToyHypotest t = calc.toys(o.hypotest);
  std::string text = "{\n";
  text += fmt::format("  \"manifest_hash\": {},\n  \"shard\": [{}, {}],\n", json::quote(hash), shard.index, shard.count);
  text += fmt::format("  \"q_obs\": {},\n  \"converged\": {},\n  \"threads\": {},\n  \"fits\": {},\n  \"toys\": [", shards::number_json(t.result.q_obs),
                      t.result.converged ? "true" : "false", calc.threads(), calc.fits());
  bool first = true;
  for (size_t i : shards::items_of(shard, static_cast<size_t>(o.toys))) {
    text += fmt::format("{}{{\"i\":{},\"q_sb\":{},\"sb_converged\":{},\"q_b\":{},\"b_converged\":{}}}", first ? "\n    " : ",\n    ", i,
                        shards::number_json(t.q_sb[i]), t.sb_converged[i] ? "true" : "false", shards::number_json(t.q_b[i]),
                        t.b_converged[i] ? "true" : "false");
    first = false;
  }
  text += first ? "]\n}\n" : "\n  ]\n}\n";
  shards::write_file_atomic(path, text);
  print(fmt::format("shard {}: {} toys per sample at {} = {:g} in {} ({:.3f} s)\n", shard.name(), shards::items_of(shard, static_cast<size_t>(o.toys)).size(),
                    lm.model.poi ? lm.model.parameters[*lm.model.poi].name : std::string("POI"),
                    o.hypotest, path, seconds_since(t0)));
}

void run_limit(const LimitCommand& o, int& exit_code) {
  if (!o.model.patchset.empty() && o.model.patches.empty()) return run_patchset_limits(o, exit_code);
  if (o.toys > 0 && (!o.shard.empty() || !o.out_dir.empty())) return run_toy_shard(o);
  if (!o.shard.empty() || !o.out_dir.empty())
    throw Error(ErrorKind::Usage, "--shard", "limit shards toys (--toys N --hypotest MU) or the patches of a patchset (--patchset FILE without --patch)");
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions lo = to_load_options(o.model);
  lo.general_hs3 = true;  // general HS3: asymptotic limits on its Asimov dataset; toys refused below
  LoadedModel lm = load_model(o.model.workspace, lo);
  if (lm.objective && o.toys > 0) throw Error(ErrorKind::Usage, "--toys", "toys are not generated for general HS3 likelihoods (unbinned data, continuous pdfs) yet; asymptotic limits work on them");
  if (!has_asimov(lm)) throw Error(ErrorKind::Usage, o.model.workspace, "limit needs an Asimov dataset: " + lm.general->asimov_info->unavailable);
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
    infer::AsymptoticCalculator calc(make_likelihood(lm, fo, "limit"), {ts, fo});
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
  cmd->add_option("--shard", opts->shard,
                  "Compute only shard I of N (1-based) of the patches of --patchset (patch k -> shard (k mod N)+1) or of the toys of "
                  "--toys N --hypotest MU (toy i -> shard (i mod N)+1); needs -o DIR; rerunning resumes; combine with 'hs3fit merge DIR'");
  cmd->add_option("-o,--output-dir", opts->out_dir, "Directory for sharded results (manifest.json, shard-I-of-N.json)");
  cmd->callback([opts, &exit_code] { run_limit(*opts, exit_code); });
}

}  // namespace

static CommandRegistration registration("limit", register_limit);

}  // namespace hs3fit::app
