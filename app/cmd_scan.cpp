// hs3fit scan: profile-likelihood scans in one or two parameters (2ΔNLL, intervals, plots).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "infer/profile_scan.h"
#include "infer/scan_shards.h"
#include "infer/shards.h"
#include "model/overrides.h"
#include "report/infer_report.h"

namespace hs3fit::app {

namespace {
struct ScanCommand {
  ModelOptions model;
  std::string params;  // --params a[,b]
  std::string range;   // --range lo:hi (1D)
  int points = 0;      // --points n (1D; default 31)
  std::string grid;    // --grid lo:hi:n[,lo:hi:n]
  double tolerance = fit::FitOptions{}.tolerance;
  bool json = false, csv = false;
  std::string plot;
  int chain_length = infer::kDefaultChainLength;  // --chain-length L
  std::string shard;    // --shard i/N
  std::string out_dir;  // -o DIR (sharded run)
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

double parse_number(const std::string& s, const char* option) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::Usage, option, "expected a number, found '" + s + "'");
}

// "lo:hi" or "lo:hi:n"
struct AxisSpec { double lo = 0, hi = 0; int n = 0; };
AxisSpec parse_axis(const std::string& text, bool with_count, const char* option) {
  const std::vector<std::string> f = split(text, ':');
  if (f.size() != (with_count ? 3u : 2u))
    throw Error(ErrorKind::Usage, option, "expected " + std::string(with_count ? "LO:HI:N" : "LO:HI") + ", found '" + text + "'");
  AxisSpec a{parse_number(f[0], option), parse_number(f[1], option), 0};
  if (!(a.hi > a.lo)) throw Error(ErrorKind::Usage, option, "the upper end must be above the lower end in '" + text + "'");
  if (with_count) {
    const double n = parse_number(f[2], option);
    if (n < 2 || n != std::floor(n) || n > 100000) throw Error(ErrorKind::Usage, option, "the number of points must be an integer >= 2 in '" + text + "'");
    a.n = static_cast<int>(n);
  }
  return a;
}

// What defines a sharded scan's result: the model options, the workspace (and patch) bytes,
// the fit tolerance, the scanned parameters, the grid and the number of shards.
shards::Manifest scan_manifest(const ScanCommand& o, const LoadedModel& lm, const std::vector<std::string>& names,
                               const std::vector<AxisSpec>& specs, int nshards) {
  const ModelOptions& mo = o.model;
  shards::Manifest man = model_manifest("scan", mo, lm);
  man.set("tolerance", o.tolerance);
  man.set("parameters", names);
  std::string grid = "{";
  for (size_t a = 0; a < names.size(); ++a)
    grid += fmt::format("{}{}: [{}, {}, {}]", a ? ", " : "", json::quote(names[a]), shards::number_json(specs[a].lo), shards::number_json(specs[a].hi),
                        specs[a].n);
  man.set_raw("grid", grid + "}");
  long long total = 1;
  for (const AxisSpec& s : specs) total *= s.n;
  man.set("points", total);
  man.set("chain_length", o.chain_length);
  man.set("assignment", "chain c (blocks of chain_length points along the last axis, in output order) -> shard (c mod N) + 1");
  man.set("shards", nshards);
  return man;
}

void run_scan(const ScanCommand& o, int& exit_code) {
  const bool sharded = !o.shard.empty() || !o.out_dir.empty();
  if (!o.shard.empty() && o.out_dir.empty()) throw Error(ErrorKind::Usage, "--shard", "a sharded scan writes its results into a directory: add -o DIR");
  const shards::Shard shard = o.shard.empty() ? shards::Shard{} : shards::parse_shard(o.shard);
  if (sharded && (o.json || o.csv || !o.plot.empty()))
    throw Error(ErrorKind::Usage, "-o", "a shard writes its results into the directory; --json, --csv and --plot belong to 'hs3fit merge DIR'");
  if (sharded && o.model.workspace == "-") throw Error(ErrorKind::Usage, "--shard", "sharded runs read the workspace from a file, not standard input");
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions lo = to_load_options(o.model);
  lo.general_hs3 = true;  // unbinned HS3: scans need fits only
  LoadedModel lm = load_model(o.model.workspace, lo);
  const model::Model& m = lm.model;
  report::InferInfo info;
  info.workspace = lm.source;
  info.measurement = lm.measurement;
  info.load_s = seconds_since(t0);
  if (o.json && o.csv) throw Error(ErrorKind::Usage, "--csv", "choose one of --json and --csv");

  std::vector<uint32_t> params;
  if (!o.params.empty()) {
    for (const std::string& name : model::parse_name_list(o.params)) params.push_back(m.parameter_index(name, "--params"));
  } else if (m.poi) {
    params.push_back(*m.poi);
  } else {
    throw Error(ErrorKind::Usage, "--params", "the model has no POI: name the parameters to scan");
  }
  if (params.size() > 2) throw Error(ErrorKind::Usage, "--params", "a scan has one or two parameters");

  fit::FitOptions fo = infer::inference_fit_options(o.tolerance);
  fo.compute_covariance = true;  // errors set the default ranges
  infer::Likelihood l = make_likelihood(lm, infer::inference_fit_options(o.tolerance), "scan");
  const fit::FitResult best = [&] {
    infer::Likelihood with_errors = make_likelihood(lm, fo, "scan");
    return with_errors.minimize();
  }();
  if (!infer::usable(best)) spdlog::warn("the free fit did not converge: {}", best.status);

  std::vector<AxisSpec> specs;
  if (!o.grid.empty()) {
    if (!o.range.empty() || o.points) throw Error(ErrorKind::Usage, "--grid", "use either --grid or --range/--points");
    for (const std::string& g : split(o.grid, ',')) specs.push_back(parse_axis(g, true, "--grid"));
    if (specs.size() != params.size())
      throw Error(ErrorKind::Usage, "--grid", fmt::format("{} grid specifications for {} parameters", specs.size(), params.size()));
  } else {
    if (params.size() == 2 && !o.range.empty()) throw Error(ErrorKind::Usage, "--range", "a 2D scan takes --grid LO:HI:N,LO:HI:N");
    for (size_t a = 0; a < params.size(); ++a) {
      AxisSpec s;
      if (!o.range.empty()) {
        s = parse_axis(o.range, false, "--range");
      } else {
        // best fit ± 3 HESSE errors, inside the bounds
        const model::Parameter& p = m.parameters[params[a]];
        const double err = best.errors.empty() || !(best.errors[params[a]] > 0) ? std::max(p.step, 0.1) : best.errors[params[a]];
        s.lo = std::max(p.lo, best.values[params[a]] - 3 * err);
        s.hi = std::min(p.hi, best.values[params[a]] + 3 * err);
        if (!(s.hi > s.lo)) s.hi = s.lo + err;
      }
      s.n = o.points > 0 ? o.points : (params.size() == 1 ? 31 : 21);
      if (s.n < 2) throw Error(ErrorKind::Usage, "--points", "a scan needs at least 2 points");
      specs.push_back(s);
    }
  }
  std::vector<infer::ScanAxis> axes;
  for (size_t a = 0; a < params.size(); ++a) axes.push_back({params[a], infer::linspace(specs[a].lo, specs[a].hi, specs[a].n)});

  if (sharded) {
    std::vector<std::string> names;
    std::vector<std::vector<double>> grid;
    for (size_t a = 0; a < params.size(); ++a) {
      names.push_back(m.parameters[params[a]].name);
      grid.push_back(axes[a].values);
    }
    const shards::Manifest man = scan_manifest(o, lm, names, specs, shard.count);
    man.write_or_check(o.out_dir);
    const infer::ScanShardRun run = infer::run_scan_shard(l, params, grid, o.chain_length, best, o.out_dir, shard, man.hash());
    if (run.already_complete)
      print(fmt::format("shard {}: already complete in {}\n", shard.name(), run.path));
    else
      print(fmt::format("shard {}: {} points ({} computed, {} from the checkpoint) in {} ({:.3f} s)\n", shard.name(), run.computed + run.resumed,
                        run.computed, run.resumed, run.path, seconds_since(t0)));
    return;  // points that did not converge are reported by merge (exit code 1 there)
  }
  const infer::ScanResult s = infer::profile_scan(l, axes, best, o.chain_length);
  info.fits = static_cast<long long>(s.points.size()) + 1;
  info.total_s = seconds_since(t0);
  if (!o.plot.empty()) report::plot_scan(m, s, o.plot);
  if (s.failed_fits > 0 || !infer::usable(best)) exit_code = kExitNotConverged;
  print(o.json ? report::scan_json(m, s, info) : o.csv ? report::scan_csv(m, s) : report::scan_table(m, s, info));
}

void register_scan(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ScanCommand>();
  CLI::App* cmd = app.add_subcommand("scan", "Profile-likelihood scan (2ΔNLL) in one or two parameters, with 68%/95% CL intervals");
  add_model_options(cmd, opts->model);
  cmd->add_option("--params", opts->params, "Parameters to scan: NAME or NAME,NAME (default: the POI; --poi NAME scans NAME)");
  cmd->add_option("--range", opts->range, "1D scan range LO:HI (default: best fit ± 3 errors, inside the bounds)");
  cmd->add_option("--points", opts->points, "Points per axis (default 31 in 1D, 21 x 21 in 2D)");
  cmd->add_option("--grid", opts->grid, "Grid per parameter: LO:HI:N[,LO:HI:N]");
  cmd->add_option("--tolerance", opts->tolerance, "Fit EDM goal = 0.002 * tolerance * 0.5 (Minuit convention)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--json", opts->json, "Print the scan as JSON (schema in README.md)");
  cmd->add_flag("--csv", opts->csv, "Print the scan as CSV");
  cmd->add_option("--plot", opts->plot, "Also plot the scan with gnuplot: FILE.svg, .png or .pdf");
  cmd->add_option("--chain-length", opts->chain_length,
                  "Warm-start chains: blocks of L points along the last axis, each started from the free fit, then from the previous point "
                  "(1: every point from the free fit). Results depend on L, never on sharding")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--shard", opts->shard,
                  "Compute only shard I of N (1-based, e.g. $SLURM_ARRAY_TASK_ID/N): chain c of --chain-length points goes to shard (c mod N)+1; "
                  "needs -o DIR; rerunning resumes; combine with 'hs3fit merge DIR'");
  cmd->add_option("-o,--output-dir", opts->out_dir, "Directory for sharded results (manifest.json, shard-I-of-N.json); -o alone = --shard 1/1");
  cmd->callback([opts, &exit_code] { run_scan(*opts, exit_code); });
}

}  // namespace

static CommandRegistration registration("scan", register_scan);

}  // namespace hs3fit::app
