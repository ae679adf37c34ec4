#include "infer/scan_shards.h"

#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <set>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "json/json_reader.h"
#include "json/json_tree.h"
#include "json/json_writer.h"

namespace hs3fit::infer {

namespace {

// A Writer's document without its final newline (one JSON line).
std::string one_line(const json::Writer& w) {
  std::string s = w.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// `with_values`: also every parameter at the point (checkpoints: the next point's start).
std::string point_record(size_t k, const ScanPoint& p, bool with_values) {
  json::Writer w(0);
  w.begin_object();
  w.key("k").value(static_cast<long long>(k));
  w.key("coords").begin_array();
  for (double c : p.coords) shards::write_number(w, c);
  w.end_array();
  w.key("nll");
  shards::write_number(w, p.nll);
  w.key("converged").value(p.converged);
  w.key("usable").value(p.usable);
  w.key("status").value(p.status);
  if (with_values) {
    w.key("x").begin_array();
    for (double v : p.values) shards::write_number(w, v);
    w.end_array();
  }
  w.end_object();
  return one_line(w);
}

ScanPoint read_point(const json::Node& n, size_t& k) {
  const double kk = n.at("k").as_number();
  if (kk < 0 || kk != std::floor(kk) || kk > 1e15) n.at("k").fail("expected a point index");
  k = static_cast<size_t>(kk);
  ScanPoint p;
  for (const json::Node& c : n.at("coords").elements()) p.coords.push_back(shards::read_number(c));
  p.nll = shards::read_number(n.at("nll"));
  p.converged = n.at("converged").as_bool();
  p.usable = n.at("usable").as_bool();
  p.status = n.at("status").as_string();
  if (auto x = n.get("x"))
    for (const json::Node& v : x->elements()) p.values.push_back(shards::read_number(v));
  return p;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same_coords(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i])) return false;
  return true;
}

// chain index of every point
std::vector<size_t> chain_of_points(const std::vector<std::vector<double>>& axes, int chain_length) {
  size_t total = 1;
  for (const auto& a : axes) total *= a.size();
  std::vector<size_t> out(total);
  const std::vector<std::vector<size_t>> chains = scan_chains(axes, chain_length);
  for (size_t c = 0; c < chains.size(); ++c)
    for (size_t k : chains[c]) out[k] = c;
  return out;
}

std::string header_line(const std::string& manifest_hash, const shards::Shard& shard) {
  return fmt::format("{{\"manifest_hash\": {}, \"shard\": {}}}", json::quote(manifest_hash), json::quote(shard.name()));
}

}  // namespace

ScanShardRun run_scan_shard(Likelihood& l, const std::vector<uint32_t>& params, const std::vector<std::vector<double>>& axes, int chain_length,
                            const fit::FitResult& best, const std::string& dir, const shards::Shard& shard, const std::string& manifest_hash) {
  ScanShardRun run;
  run.dir = dir;
  run.shard = shard;
  run.manifest_hash = manifest_hash;
  run.path = shards::shard_path(dir, shard);
  size_t total = 1;
  for (const auto& a : axes) total *= a.size();
  const std::vector<std::vector<size_t>> chains = scan_chains(axes, chain_length);
  const std::vector<size_t> my_chains = shards::items_of(shard, chains.size());
  size_t mine = 0;
  for (size_t c : my_chains) mine += chains[c].size();

  if (shards::shard_complete(run.path, manifest_hash)) {  // finished before: nothing to do
    run.already_complete = true;
    run.resumed = static_cast<int>(mine);
    return run;
  }

  const std::vector<size_t> chain_of = chain_of_points(axes, chain_length);
  const std::string cpath = shards::checkpoint_path(dir, shard);
  shards::Checkpoint cp(cpath, header_line(manifest_hash, shard));
  std::map<size_t, ScanPoint> done;
  for (const std::string& rec : cp.records()) {
    const json::Document d = json::parse(rec, cpath);
    size_t k = 0;
    ScanPoint p = read_point(d.root(), k);
    if (k >= total || !shard.owns(chain_of[k]) || !same_coords(p.coords, grid_point(axes, k)))
      throw Error(ErrorKind::Input, cpath, fmt::format("point {} does not belong to this shard's grid", k));
    if (p.usable && p.values.size() != l.num_params()) throw Error(ErrorKind::Input, cpath, fmt::format("point {} has no parameter values", k));
    done[k] = std::move(p);
  }
  run.resumed = static_cast<int>(done.size());
  if (run.resumed > 0) spdlog::info("shard {}: {} of {} points already done, resuming", shard.name(), run.resumed, mine);
  for (size_t c : my_chains) {
    std::vector<double> start = best.values;
    for (size_t k : chains[c]) {
      auto it = done.find(k);
      if (it == done.end()) {
        ScanPoint p = scan_point(l, params, grid_point(axes, k), start);
        if (!p.usable) spdlog::warn("scan point {} did not converge: {}", k, p.status);
        cp.append(point_record(k, p, true));
        it = done.emplace(k, std::move(p)).first;
        ++run.computed;
      }
      if (it->second.usable) start = it->second.values;
    }
  }

  // The final file: manifest hash, shard, free fit, and the points in index order.
  std::string text = "{\n";
  text += fmt::format("  \"manifest_hash\": {},\n  \"shard\": [{}, {}],\n", json::quote(manifest_hash), shard.index, shard.count);
  {
    json::Writer w(0);
    w.begin_object();
    w.key("nll");
    shards::write_number(w, best.nll);
    w.key("converged").value(best.converged);
    w.key("usable").value(usable(best));
    w.key("status").value(best.status);
    w.key("values").begin_array();
    for (uint32_t p : params) shards::write_number(w, best.values[p]);
    w.end_array();
    w.end_object();
    text += "  \"best_fit\": " + one_line(w) + ",\n";
  }
  text += "  \"points\": [";
  bool first = true;
  for (const auto& [k, p] : done) {
    text += (first ? "\n    " : ",\n    ") + point_record(k, p, false);
    first = false;
  }
  text += first ? "]\n}\n" : "\n  ]\n}\n";
  shards::write_file_atomic(run.path, text);
  cp.remove();
  return run;
}

MergedScan merge_scan(const std::string& dir) {
  MergedScan out;
  out.manifest = shards::read_manifest(dir);
  const std::string mhash = shards::manifest_hash(out.manifest);
  const std::string mpath = shards::manifest_path(dir);
  const json::Document md = json::parse(out.manifest, mpath);
  const json::Node m = md.root();
  if (m.at("command").as_string() != "scan")
    throw Error(ErrorKind::Usage, mpath, "this directory holds a sharded '" + m.at("command").as_string() + "' run, not a scan");
  out.workspace = m.at("workspace").as_string();
  out.measurement = m.at("measurement").as_string();
  out.poi = m.at("poi").as_string();
  out.names = m.at("parameters").as_strings();
  const json::Node grid = m.at("grid");
  std::vector<std::vector<double>> axes;
  for (const std::string& name : out.names) {
    const std::vector<double> spec = grid.at(name).as_numbers();
    if (spec.size() != 3 || spec[2] < 1 || spec[2] != std::floor(spec[2])) grid.at(name).fail("expected [LO, HI, N]");
    axes.push_back(linspace(spec[0], spec[1], static_cast<int>(spec[2])));
  }
  size_t total = 1;
  for (const auto& a : axes) total *= a.size();
  const double nsh = m.at("shards").as_number();
  if (nsh < 1 || nsh > 1e6 || nsh != std::floor(nsh)) m.at("shards").fail("expected the number of shards");
  out.shards = static_cast<int>(nsh);
  const int n = out.shards;
  const double cl = m.at("chain_length").as_number();
  if (cl < 1 || cl > 1e9 || cl != std::floor(cl)) m.at("chain_length").fail("expected the chain length");
  const std::vector<size_t> chain_of = chain_of_points(axes, static_cast<int>(cl));

  // Files in DIR: shards of this layout, of other layouts, checkpoints.
  std::set<int> present;
  std::vector<std::string> other_layout;
  for (const std::string& name : shards::list_directory(dir)) {
    int i = 0, c = 0, used = 0;
    if (std::sscanf(name.c_str(), "shard-%d-of-%d.json%n", &i, &c, &used) == 2 && static_cast<size_t>(used) == name.size()) {
      if (c == n && i >= 1 && i <= n) present.insert(i);
      else other_layout.push_back(name);
    }
  }
  for (const std::string& f : other_layout)
    out.problems.push_back(fmt::format("{}: a shard of another layout (the manifest says {} shards); it is not used", f, n));

  ScanResult& s = out.scan;
  for (size_t a = 0; a < out.names.size(); ++a) {
    s.params.push_back(static_cast<uint32_t>(a));
    s.axes.push_back(axes[a]);
  }
  s.points.resize(total);
  std::vector<int> owner(total, 0);  // shard that delivered point k (0: none)
  std::vector<size_t> missing_shards;
  bool have_best = false;
  int best_from = 0;
  for (int i = 1; i <= n; ++i) {
    const shards::Shard sh{i, n};
    const std::string path = shards::shard_path(dir, sh);
    if (!present.count(i)) {
      missing_shards.push_back(static_cast<size_t>(i));
      const std::string cpath = shards::checkpoint_path(dir, sh);
      if (shards::file_exists(cpath)) {
        const std::string text = json::read_text(cpath);
        size_t lines = 0;
        for (char ch : text) lines += ch == '\n';
        size_t mine = 0;
        for (size_t k = 0; k < total; ++k) mine += shards::shard_of(chain_of[k], n) == i;
        out.problems.push_back(fmt::format("shard {} is unfinished: {} of its {} points are in {} (rerun the same command with --shard {} to resume)", sh.name(),
                                           lines > 0 ? lines - 1 : 0, mine, cpath, sh.name()));
      }
      continue;
    }
    const json::Document d = json::parse_file(path);
    const json::Node r = d.root();
    const std::string h = r.at("manifest_hash").as_string();
    if (h != mhash) {
      out.problems.push_back(fmt::format("{}: made by another run (manifest hash {}, manifest.json has {})", path, h, mhash));
      missing_shards.push_back(static_cast<size_t>(i));
      continue;
    }
    const std::vector<double> id = r.at("shard").as_numbers();
    if (id.size() != 2 || id[0] != i || id[1] != n) {
      out.problems.push_back(fmt::format("{}: says it is shard {}", path, json::serialize(json::to_tree(r.at("shard")))));
      continue;
    }
    const json::Node bf = r.at("best_fit");
    fit::FitResult best;
    best.nll = shards::read_number(bf.at("nll"));
    best.converged = bf.at("converged").as_bool();
    best.status = bf.at("status").as_string();
    const std::vector<json::Node> vals = bf.at("values").elements();
    if (vals.size() != out.names.size()) bf.at("values").fail("expected one value per scanned parameter");
    for (const json::Node& v : vals) best.values.push_back(shards::read_number(v));
    if (!have_best) {
      s.best = best;
      out.best_usable = bf.at("usable").as_bool();
      have_best = true;
      best_from = i;
    } else if (!same_bits(best.nll, s.best.nll) || !same_coords(best.values, s.best.values)) {
      spdlog::warn("shard {}'s free fit differs from shard {}'s (-ln L {} vs {}): shards ran on different builds or CPUs; using shard {}'s", i,
                   best_from, best.nll, s.best.nll, best_from);
    }
    std::vector<size_t> foreign, dup;
    for (const json::Node& pn : r.at("points").elements()) {
      size_t k = 0;
      ScanPoint p = read_point(pn, k);
      if (k >= total || shards::shard_of(chain_of[k], n) != i) {
        foreign.push_back(k);
        continue;
      }
      if (!same_coords(p.coords, grid_point(axes, k))) {
        out.problems.push_back(fmt::format("{}: point {} is at other coordinates than the manifest's grid", path, k));
        continue;
      }
      if (owner[k]) {
        dup.push_back(k);
        continue;
      }
      owner[k] = i;
      s.points[k] = std::move(p);
    }
    if (!foreign.empty()) out.problems.push_back(fmt::format("{}: points {} do not belong to shard {}", path, shards::format_ranges(foreign), sh.name()));
    if (!dup.empty()) out.problems.push_back(fmt::format("{}: points {} are duplicated", path, shards::format_ranges(dup)));
  }
  if (!missing_shards.empty())
    out.problems.insert(out.problems.begin(),
                        fmt::format("missing shards ({} of {}): {}", missing_shards.size(), n, shards::format_ranges(missing_shards)));
  std::vector<size_t> missing_points;
  for (size_t k = 0; k < total; ++k)
    if (!owner[k]) missing_points.push_back(k);
  if (!missing_points.empty())
    out.problems.push_back(fmt::format("missing points ({} of {}, 0-based in output order): {}", missing_points.size(), total,
                                       shards::format_ranges(missing_points)));
  if (!out.problems.empty()) return out;
  finish_scan(s);
  return out;
}

}  // namespace hs3fit::infer
