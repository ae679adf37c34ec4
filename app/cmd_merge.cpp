// hs3fit merge DIR: combine the shards of a sharded run (scan --shard, limit --toys --shard,
// limit --patchset --shard, impacts --shard) into the result the single-process run prints, after checking
// that every shard is there, finished and made by the same run (manifest hash).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "infer/impacts.h"
#include "infer/patchset_limits.h"
#include "infer/scan_shards.h"
#include "infer/shards.h"
#include "infer/toys.h"
#include "json/json_reader.h"
#include "report/impacts_report.h"
#include "report/infer_report.h"
#include "report/plot.h"

namespace hs3fit::app {

namespace {
struct MergeCommand {
  std::string dir;
  bool json = false, csv = false;
  std::string plot;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The parameters a report needs: the scanned ones (indices 0..n-1) and the POI.
model::Model names_only_model(const std::vector<std::string>& names, const std::string& poi) {
  model::Model m;
  for (const std::string& n : names) m.parameters.push_back({n});
  if (!poi.empty()) {
    for (uint32_t i = 0; i < m.parameters.size(); ++i)
      if (m.parameters[i].name == poi) m.poi = i;
    if (!m.poi) {
      m.parameters.push_back({poi});
      m.poi = static_cast<uint32_t>(m.parameters.size() - 1);
    }
  }
  return m;
}

// Missing or inconsistent shards: every problem on stderr, exit code 2.
bool report_problems(const std::string& dir, const std::vector<std::string>& problems, int& exit_code) {
  if (problems.empty()) return false;
  std::string text = "error: " + dir + ": cannot merge:\n";
  for (const std::string& p : problems) text += "  " + p + "\n";
  std::fputs(text.c_str(), stderr);
  exit_code = kExitBadInput;
  return true;
}

void merge_scan(const MergeCommand& o, int& exit_code) {
  const auto t0 = std::chrono::steady_clock::now();
  infer::MergedScan ms = infer::merge_scan(o.dir);
  if (report_problems(o.dir, ms.problems, exit_code)) return;
  const model::Model m = names_only_model(ms.names, ms.poi);
  infer::ScanResult& s = ms.scan;
  s.best.values.resize(m.parameters.size(), std::nan(""));
  report::InferInfo info;
  info.workspace = ms.workspace;
  info.measurement = ms.measurement;
  info.fits = static_cast<long long>(s.points.size()) + 1;
  info.load_s = 0;
  info.total_s = seconds_since(t0);
  if (!o.plot.empty()) report::plot_scan(m, s, o.plot);
  if (s.failed_fits > 0 || !ms.best_usable) exit_code = kExitNotConverged;
  print(o.json ? report::scan_json(m, s, info) : o.csv ? report::scan_csv(m, s) : report::scan_table(m, s, info));
}

void merge_patchset(const MergeCommand& o, int& exit_code) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.csv || !o.plot.empty()) throw Error(ErrorKind::Usage, o.csv ? "--csv" : "--plot", "limits over a patchset merge into a table or --json");
  infer::MergedPatchLimits mp = infer::merge_patch_limits(o.dir);
  if (report_problems(o.dir, mp.problems, exit_code)) return;
  mp.doc.total_s = seconds_since(t0);
  for (const infer::PatchLimit& p : mp.doc.limits)
    if (!p.converged) exit_code = kExitNotConverged;
  print(o.json ? infer::patch_limits_json(mp.doc) : infer::patch_limits_table(mp.doc));
}

// Toy shards of one hypothesis test: every toy index once, then the p-values as hypotest() does.
void merge_toys(const MergeCommand& o, int& exit_code) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.csv || !o.plot.empty()) throw Error(ErrorKind::Usage, o.csv ? "--csv" : "--plot", "a toy hypothesis test merges into a table or --json");
  const std::string mtext = shards::read_manifest(o.dir);
  const json::Document md = json::parse(mtext, shards::manifest_path(o.dir));
  const json::Node man = md.root();
  const double ntoys_d = man.at("toys").as_number();
  if (ntoys_d < 1 || ntoys_d > 1e9 || ntoys_d != std::floor(ntoys_d)) man.at("toys").fail("expected the number of toys");
  const size_t ntoys = static_cast<size_t>(ntoys_d);
  infer::ShardFiles sf = infer::find_shard_files(o.dir, ntoys, "toys");
  std::vector<std::string> problems = sf.problems;
  infer::ToyHypotest t;
  t.result.poi = man.at("hypotest").as_number();
  t.result.q_asimov = std::nan("");
  t.q_sb.assign(ntoys, std::nan(""));
  t.q_b.assign(ntoys, std::nan(""));
  t.sb_converged.assign(ntoys, 0);
  t.b_converged.assign(ntoys, 0);
  std::vector<int> owner(ntoys, 0);
  bool first = true;
  int threads = 0;
  long long fits = 0;
  for (const auto& [i, path] : sf.files) {
    const json::Document d = json::parse_file(path);
    const json::Node r = d.root();
    const double q_obs = shards::read_number(r.at("q_obs"));
    if (first) {
      t.result.q_obs = q_obs;
      t.result.converged = r.at("converged").as_bool();
      threads = static_cast<int>(r.at("threads").as_number());
      first = false;
    } else if (!(q_obs == t.result.q_obs || (std::isnan(q_obs) && std::isnan(t.result.q_obs)))) {
      spdlog::warn("shard {}'s observed test statistic {} differs from the first shard's {}: shards ran on different builds or CPUs", i, q_obs, t.result.q_obs);
    }
    fits += static_cast<long long>(r.at("fits").as_number()) - (fits > 0 ? 3 : 0);  // the fits to the data are made by every shard
    std::vector<size_t> foreign, dup;
    for (const json::Node& n : r.at("toys").elements()) {
      const double k = n.at("i").as_number();
      if (k < 0 || k != std::floor(k) || k >= static_cast<double>(ntoys)) n.at("i").fail(fmt::format("expected a toy index below {}", ntoys));
      const size_t idx = static_cast<size_t>(k);
      if (shards::shard_of(idx, sf.count) != i) {
        foreign.push_back(idx);
        continue;
      }
      if (owner[idx]) {
        dup.push_back(idx);
        continue;
      }
      owner[idx] = i;
      t.q_sb[idx] = shards::read_number(n.at("q_sb"));
      t.q_b[idx] = shards::read_number(n.at("q_b"));
      t.sb_converged[idx] = n.at("sb_converged").as_bool();
      t.b_converged[idx] = n.at("b_converged").as_bool();
    }
    if (!foreign.empty()) problems.push_back(fmt::format("{}: toys {} do not belong to shard {}/{}", path, shards::format_ranges(foreign), i, sf.count));
    if (!dup.empty()) problems.push_back(fmt::format("{}: toys {} are duplicated", path, shards::format_ranges(dup)));
  }
  std::vector<size_t> missing;
  for (size_t k = 0; k < ntoys; ++k)
    if (!owner[k]) missing.push_back(k);
  if (!missing.empty()) problems.push_back(fmt::format("missing toys ({} of {}): {}", missing.size(), ntoys, shards::format_ranges(missing)));
  if (report_problems(o.dir, problems, exit_code)) return;
  infer::finish_toy_hypotest(t);
  const model::Model m = names_only_model({}, man.at("poi").as_string());
  report::InferInfo info;
  info.workspace = man.at("workspace").as_string();
  info.measurement = man.at("measurement").as_string();
  info.calctype = "toybased";
  info.test_stat = man.at("test_stat").as_string();
  info.toys = static_cast<int>(ntoys);
  info.seed = std::stoull(man.at("seed").as_string());
  info.threads = threads;
  info.fits = fits;
  info.total_s = seconds_since(t0);
  if (!t.result.converged || t.failed_toys > 0) exit_code = kExitNotConverged;
  print(o.json ? report::hypotest_json(m, t.result, &t.obs_error, info) : report::hypotest_table(m, t.result, &t.obs_error, info));
}

// Impacts shards: every parameter once, then ranked exactly as the single-process run.
void merge_impacts(const MergeCommand& o, int& exit_code) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.csv) throw Error(ErrorKind::Usage, "--csv", "impacts merge into a table or --json");
  if (!o.plot.empty()) report::plot::terminal(o.plot, 1, 1, "--plot");  // a bad extension fails before reading the shards
  infer::MergedImpacts mi = infer::merge_impacts(o.dir);
  if (report_problems(o.dir, mi.problems, exit_code)) return;
  const model::Model m = names_only_model({}, mi.poi);
  infer::ImpactsResult& r = mi.result;
  r.poi = *m.poi;
  report::warn_impacts(mi.poi, r, mi.nominal_usable);
  if (!r.converged) exit_code = kExitNotConverged;
  report::RunInfo info{mi.workspace, mi.measurement, 0, 0, 0, 0, ""};
  info.total_s = seconds_since(t0);
  print(o.json ? report::impacts_json(m, r, info) : report::impacts_table(m, r, info));
  if (!o.plot.empty()) report::plot_impacts(m, r, o.plot, "--plot");
}

void run_merge(const MergeCommand& o, int& exit_code) {
  if (o.json && o.csv) throw Error(ErrorKind::Usage, "--csv", "choose one of --json and --csv");
  const std::string manifest = shards::read_manifest(o.dir);
  const json::Document d = json::parse(manifest, shards::manifest_path(o.dir));
  const std::string command = d.root().at("command").as_string();
  if (command == "scan") return merge_scan(o, exit_code);
  if (command == "limit-patchset") return merge_patchset(o, exit_code);
  if (command == "limit-toys") return merge_toys(o, exit_code);
  if (command == "impacts") return merge_impacts(o, exit_code);
  throw Error(ErrorKind::Input, shards::manifest_path(o.dir), "unknown sharded command '" + command + "'");
}

void register_merge(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<MergeCommand>();
  CLI::App* cmd = app.add_subcommand("merge", "Merge the shards of a sharded scan, limit or impacts run (directory of --shard I/N -o DIR) into one result");
  cmd->add_option("dir", opts->dir, "Output directory of the shards (with manifest.json)")->required();
  cmd->add_flag("--json", opts->json, "Print the merged result as JSON (the same schema as the unsharded command)");
  cmd->add_flag("--csv", opts->csv, "Print a merged scan as CSV");
  cmd->add_option("--plot", opts->plot, "Also plot the merged scan or impacts with gnuplot: FILE.svg, .png or .pdf");
  cmd->callback([opts, &exit_code] { run_merge(*opts, exit_code); });
}

}  // namespace

static CommandRegistration registration("merge", register_merge);

}  // namespace hs3fit::app
