#include "infer/patchset_limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

#include "core/error.h"
#include "infer/asymptotics.h"
#include "json/json_reader.h"
#include "json/json_tree.h"
#include "json/json_writer.h"

namespace hs3fit::infer {

namespace {
const char* kBand[5] = {"-2σ", "-1σ", "median", "+1σ", "+2σ"};

std::string one_line(const json::Writer& w) {
  std::string s = w.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}
}  // namespace

PatchsetInfo read_patchset_info(const std::string& workspace, const std::string& path) {
  PatchsetInfo info;
  info.workspace = workspace;
  info.patchset = path;
  const json::Document d = json::parse_file(path);
  const json::Node root = d.root();
  if (auto md = root.get("metadata"))
    if (auto labels = md->get("labels")) info.labels = labels->as_strings();
  for (const json::Node& p : root.at("patches").elements()) {
    const json::Node md = p.at("metadata");
    info.names.push_back(md.at("name").as_string());
    auto v = md.get("values");
    info.values.push_back(v ? json::serialize(json::to_tree(*v)) : std::string("[]"));
  }
  if (info.names.empty()) throw Error(ErrorKind::Input, path, "the patchset has no patches");
  return info;
}

std::string patch_limit_record(const PatchLimit& r) {
  json::Writer w(0);
  w.begin_object();
  w.key("k").value(static_cast<long long>(r.index));
  w.key("patch").value(r.patch);
  w.key("obs");
  shards::write_number(w, r.obs);
  w.key("exp").begin_array();
  for (double e : r.exp) shards::write_number(w, e);
  w.end_array();
  w.key("converged").value(r.converged);
  w.key("fits").value(r.fits);
  w.key("measurement").value(r.measurement);
  w.key("poi").value(r.poi);
  w.end_object();
  return one_line(w);
}

PatchLimit read_patch_limit(const json::Node& n) {
  PatchLimit r;
  const double k = n.at("k").as_number();
  if (k < 0 || k != std::floor(k) || k > 1e9) n.at("k").fail("expected a patch index");
  r.index = static_cast<size_t>(k);
  r.patch = n.at("patch").as_string();
  r.obs = shards::read_number(n.at("obs"));
  const std::vector<json::Node> e = n.at("exp").elements();
  if (e.size() != 5) n.at("exp").fail("expected 5 expected limits");
  for (size_t i = 0; i < 5; ++i) r.exp[i] = shards::read_number(e[i]);
  r.converged = n.at("converged").as_bool();
  r.fits = static_cast<long long>(n.at("fits").as_number());
  r.measurement = n.at("measurement").as_string();
  r.poi = n.at("poi").as_string();
  return r;
}

std::string patch_limits_table(const PatchLimitsDoc& d) {
  std::string out = fmt::format("workspace   {}\npatchset    {} ({} patches)\n", d.info.workspace, d.info.patchset, d.limits.size());
  out += fmt::format("method      {} test statistic, asymptotic formulae; {:g} % CL upper limits (CLs), rtol {:g}\n\n", d.test_stat, 100 * d.cl, d.rtol);
  size_t wname = 5;
  for (const PatchLimit& r : d.limits) wname = std::max(wname, r.patch.size());
  std::string labels = d.info.labels.empty() ? std::string("values") : fmt::format("{}", fmt::join(d.info.labels, ","));
  out += fmt::format("{:<{}}  {:<16}  {:>10}", "patch", wname, labels, "observed");
  for (const char* b : kBand) out += fmt::format("  {:>10}", b);
  out += "\n";
  int failed = 0;
  long long fits = 0;
  for (const PatchLimit& r : d.limits) {
    out += fmt::format("{:<{}}  {:<16}  {:>10.5g}", r.patch, wname, d.info.values[r.index], r.obs);
    for (double e : r.exp) out += fmt::format("  {:>10.5g}", e);
    out += r.converged ? "\n" : "  **\n";
    failed += r.converged ? 0 : 1;
    fits += r.fits;
  }
  if (failed) out += fmt::format("** {} limits did not converge **\n", failed);
  out += fmt::format("fits        {}   time {:.3f} s\n", fits, d.total_s);
  return out;
}

std::string patch_limits_json(const PatchLimitsDoc& d) {
  json::Writer w;
  w.begin_object();
  w.key("workspace").value(d.info.workspace);
  w.key("patchset").value(d.info.patchset);
  w.key("calctype").value("asymptotics");
  w.key("test_stat").value(d.test_stat);
  w.key("cl").value(d.cl);
  w.key("rtol").value(d.rtol);
  w.key("labels").strings(d.info.labels);
  w.key("exp_order").strings({"-2", "-1", "0", "1", "2"});
  w.key("limits").begin_array();
  int failed = 0;
  long long fits = 0;
  for (const PatchLimit& r : d.limits) {
    w.begin_object();
    w.key("patch").value(r.patch);
    w.key("values");
    {
      // raw JSON values: re-read to write through the writer
      const json::Document v = json::parse(d.info.values[r.index], "values");
      const json::Node vn = v.root();
      const std::vector<json::Node> xs = vn.is_array() ? vn.elements() : std::vector<json::Node>{};
      if (vn.is_array() && std::all_of(xs.begin(), xs.end(), [](const json::Node& x) { return x.is_number(); })) {
        w.numbers(vn.as_numbers());
      } else if (vn.is_array() && std::all_of(xs.begin(), xs.end(), [](const json::Node& x) { return x.is_string(); })) {
        w.strings(vn.as_strings());
      } else if (vn.is_array()) {
        w.begin_array();
        for (const json::Node& x : vn.elements()) {
          if (x.is_number()) w.value(x.as_number());
          else if (x.is_string()) w.value(x.as_string());
          else w.null();
        }
        w.end_array();
      } else {
        w.null();
      }
    }
    w.key("measurement").value(r.measurement);
    w.key("poi").value(r.poi);
    w.key("obs_limit").value(r.obs);
    w.key("exp_limits").numbers({r.exp.begin(), r.exp.end()});
    w.key("converged").value(r.converged);
    w.end_object();
    failed += r.converged ? 0 : 1;
    fits += r.fits;
  }
  w.end_array();
  w.key("failed").value(failed);
  w.key("fits").value(fits);
  w.key("timing_s").begin_object();
  w.key("total").value(d.total_s);
  w.end_object();
  w.end_object();
  return w.str();
}

void write_patch_shard(const std::string& path, const std::string& manifest_hash, const shards::Shard& shard,
                       const std::vector<std::string>& records) {
  std::string text = "{\n";
  text += fmt::format("  \"manifest_hash\": {},\n  \"shard\": [{}, {}],\n  \"items\": [", json::quote(manifest_hash), shard.index, shard.count);
  for (size_t i = 0; i < records.size(); ++i) text += (i ? ",\n    " : "\n    ") + records[i];
  text += records.empty() ? "]\n}\n" : "\n  ]\n}\n";
  shards::write_file_atomic(path, text);
}

ShardFiles find_shard_files(const std::string& dir, size_t total, const char* item_word) {
  ShardFiles out;
  out.manifest = shards::read_manifest(dir);
  const std::string mhash = shards::manifest_hash(out.manifest);
  const json::Document md = json::parse(out.manifest, shards::manifest_path(dir));
  const double nsh = md.root().at("shards").as_number();
  if (nsh < 1 || nsh > 1e6 || nsh != std::floor(nsh)) md.root().at("shards").fail("expected the number of shards");
  out.count = static_cast<int>(nsh);
  std::set<int> present;
  for (const std::string& name : shards::list_directory(dir)) {
    int i = 0, c = 0, used = 0;
    if (std::sscanf(name.c_str(), "shard-%d-of-%d.json%n", &i, &c, &used) == 2 && static_cast<size_t>(used) == name.size()) {
      if (c == out.count && i >= 1 && i <= out.count) present.insert(i);
      else out.problems.push_back(fmt::format("{}: a shard of another layout (the manifest says {} shards); it is not used", name, out.count));
    }
  }
  for (int i = 1; i <= out.count; ++i) {
    const shards::Shard sh{i, out.count};
    const std::string path = shards::shard_path(dir, sh);
    if (!present.count(i)) {
      out.missing.push_back(static_cast<size_t>(i));
      const std::string cpath = shards::checkpoint_path(dir, sh);
      if (shards::file_exists(cpath)) {
        const std::string text = json::read_text(cpath);
        size_t lines = 0;
        for (char ch : text) lines += ch == '\n';
        out.problems.push_back(fmt::format("shard {} is unfinished: {} of its {} {} are in {} (rerun the same command with --shard {} to resume)", sh.name(),
                                           lines > 0 ? lines - 1 : 0, shards::items_of(sh, total).size(), item_word, cpath, sh.name()));
      }
      continue;
    }
    const json::Document d = json::parse_file(path);
    const std::string h = d.root().at("manifest_hash").as_string();
    if (h != mhash) {
      out.problems.push_back(fmt::format("{}: made by another run (manifest hash {}, manifest.json has {})", path, h, mhash));
      out.missing.push_back(static_cast<size_t>(i));
      continue;
    }
    out.files.emplace_back(i, path);
  }
  if (!out.missing.empty())
    out.problems.insert(out.problems.begin(), fmt::format("missing shards ({} of {}): {}", out.missing.size(), out.count, shards::format_ranges(out.missing)));
  return out;
}

MergedPatchLimits merge_patch_limits(const std::string& dir) {
  MergedPatchLimits out;
  const std::string mtext = shards::read_manifest(dir);
  const json::Document md = json::parse(mtext, shards::manifest_path(dir));
  const json::Node m = md.root();
  PatchLimitsDoc& d = out.doc;
  d.info.workspace = m.at("workspace").as_string();
  d.info.patchset = m.at("patchset").as_string();
  d.info.labels = m.at("labels").as_strings();
  d.info.names = m.at("patch_names").as_strings();
  for (const json::Node& v : m.at("patch_values").elements()) d.info.values.push_back(json::serialize(json::to_tree(v)));
  d.cl = m.at("cl").as_number();
  d.rtol = m.at("rtol").as_number();
  d.test_stat = m.at("test_stat").as_string();
  const size_t total = d.info.names.size();
  ShardFiles sf = find_shard_files(dir, total, "patches");
  out.problems = sf.problems;
  std::vector<int> owner(total, 0);
  d.limits.resize(total);
  for (const auto& [i, path] : sf.files) {
    const json::Document doc = json::parse_file(path);
    std::vector<size_t> foreign, dup;
    for (const json::Node& n : doc.root().at("items").elements()) {
      PatchLimit r = read_patch_limit(n);
      if (r.index >= total || shards::shard_of(r.index, sf.count) != i || d.info.names[r.index] != r.patch) {
        foreign.push_back(r.index);
        continue;
      }
      if (owner[r.index]) {
        dup.push_back(r.index);
        continue;
      }
      owner[r.index] = i;
      d.limits[r.index] = std::move(r);
    }
    if (!foreign.empty()) out.problems.push_back(fmt::format("{}: patches {} do not belong to shard {}/{}", path, shards::format_ranges(foreign), i, sf.count));
    if (!dup.empty()) out.problems.push_back(fmt::format("{}: patches {} are duplicated", path, shards::format_ranges(dup)));
  }
  std::vector<size_t> missing;
  for (size_t k = 0; k < total; ++k)
    if (!owner[k]) missing.push_back(k);
  if (!missing.empty())
    out.problems.push_back(fmt::format("missing patches ({} of {}, 0-based in patchset order): {}", missing.size(), total, shards::format_ranges(missing)));
  return out;
}

}  // namespace hs3fit::infer
