#include "common_options.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "hs3/hs3_unbinned.h"

namespace hs3fit::app {

GlobalOptions& global_options() {
  static GlobalOptions g;
  return g;
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    print(text);
    return;
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out) throw Error(ErrorKind::Io, path, "cannot write file");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(ErrorKind::Io, path, "cannot write file");
}

void add_model_options(CLI::App* cmd, ModelOptions& o) {
  cmd->add_option("workspace", o.workspace, "Workspace JSON file (pyhf), or - for standard input")->required();
  cmd->add_option("-p,--patch", o.patches,
                  "Apply a JSON Patch file, or one patch of a pyhf patchset as FILE:NAME (repeatable, applied in order)");
  cmd->add_option("--patchset", o.patchset, "pyhf patchset file; --patch NAME then names the patch to apply");
  cmd->add_option("-m,--measurement", o.measurement, "Measurement to use (default: the first)");
  cmd->add_option("--poi", o.poi, "Parameter of interest (default: the measurement's)");
  cmd->add_option("--set,--setParameters", o.set, "Initial values: NAME=VALUE[,NAME=VALUE...]")->delimiter('\0');
  cmd->add_option("--fix,--freezeParameters", o.fix, "Fix parameters: NAME[=VALUE][,...] (at VALUE or their initial value)")
      ->delimiter('\0');
  cmd->add_option("--float", o.release, "Release parameters the workspace fixes: NAME[,NAME...]")->delimiter('\0');
  cmd->add_option("--bounds,--setParameterRanges", o.bounds, "Bounds: NAME=LO:HI[,NAME=LO:HI...]")->delimiter('\0');
  cmd->add_option("--normsys-interp", o.normsys_interp, "Interpolation code for normsys: code0, code1, code2, code4 (default), code4p");
  cmd->add_option("--analysis", o.analysis, "HS3: analysis to use (default: the first)");
  cmd->add_option("--likelihood", o.likelihoods,
                  "HS3: likelihood(s) to use instead of the analysis' (repeatable; parameters shared by name; 'all' = every likelihood)");
  cmd->add_option("--shapesys-vals", o.shapesys_vals, "HS3: shapesys 'vals' are relative or absolute uncertainties (default auto)")
      ->check(CLI::IsMember({"auto", "relative", "absolute"}));
  cmd->add_option("--histosys-interp", o.histosys_interp, "Interpolation code for histosys: code0, code1, code2, code4, code4p (default)");
}

namespace {
model::Interp parse_interp(const std::string& s, const char* option) {
  if (s == "code0" || s == "0") return model::Interp::Code0;
  if (s == "code1" || s == "1") return model::Interp::Code1;
  if (s == "code2" || s == "2") return model::Interp::Code2;
  if (s == "code4" || s == "4") return model::Interp::Code4;
  if (s == "code4p" || s == "4p") return model::Interp::Code4p;
  throw Error(ErrorKind::Usage, option, "unknown interpolation code '" + s + "' (expected code0, code1, code2, code4 or code4p)");
}
}  // namespace

LoadOptions to_load_options(const ModelOptions& o) {
  LoadOptions lo;
  if (!o.patchset.empty()) {
    if (o.patches.empty()) {
      lo.patches.push_back({o.patchset, ""});
    } else {
      for (const std::string& name : o.patches) lo.patches.push_back({o.patchset, name});
    }
  } else {
    for (const std::string& p : o.patches) lo.patches.push_back(pyhf::parse_patch_argument(p));
  }
  lo.build.measurement = o.measurement;
  lo.hs3.analysis = o.analysis;
  lo.hs3.likelihoods = o.likelihoods;
  if (o.shapesys_vals == "relative") lo.hs3.shapesys_vals = hs3::ShapesysVals::Relative;
  if (o.shapesys_vals == "absolute") lo.hs3.shapesys_vals = hs3::ShapesysVals::Absolute;
  if (!o.poi.empty()) lo.build.poi = o.poi;
  if (!o.normsys_interp.empty()) lo.build.normsys_interp = parse_interp(o.normsys_interp, "--normsys-interp");
  if (!o.histosys_interp.empty()) lo.build.histosys_interp = parse_interp(o.histosys_interp, "--histosys-interp");
  for (const auto& s : o.set) {
    auto v = model::parse_assignments(s, "--set");
    lo.overrides.set.insert(lo.overrides.set.end(), v.begin(), v.end());
  }
  for (const auto& s : o.fix) {
    auto v = model::parse_fix_list(s, "--fix");
    lo.overrides.fix.insert(lo.overrides.fix.end(), v.begin(), v.end());
  }
  for (const auto& s : o.release) {
    auto v = model::parse_name_list(s);
    lo.overrides.release.insert(lo.overrides.release.end(), v.begin(), v.end());
  }
  for (const auto& s : o.bounds) {
    auto v = model::parse_ranges(s, "--bounds");
    lo.overrides.bounds.insert(lo.overrides.bounds.end(), v.begin(), v.end());
  }
  return lo;
}

namespace {
std::string no_datasets_why(const std::string& command) {
  return command +
         " needs toy datasets, which hs3fit cannot generate for general HS3 likelihoods (unbinned data, continuous "
         "pdfs) yet; fit, fit --minos/--significance, scan and asymptotic limits work on them";
}
}  // namespace

infer::Likelihood make_likelihood(const LoadedModel& lm, const fit::FitOptions& options, const std::string& command) {
  if (!lm.objective) return infer::Likelihood(lm.model, options);
  infer::Likelihood l(lm.model, lm.objective, options, no_datasets_why(command));
  if (lm.general && lm.general->asimov_info && lm.general->asimov_info->unavailable.empty()) {
    std::shared_ptr<const hs3::GeneralModel> g = lm.general;
    l.set_asimov_factory([g](const std::vector<double>& x) {
      auto a = std::make_shared<hs3::GeneralModel>(g->asimov(x));
      fit::Objective f = [a](const double* p, double* grad) { return grad ? a->nll_and_gradient(p, grad) : a->nll(p); };
      return std::make_pair(a->parameters, f);
    });
  }
  return l;
}

bool has_asimov(const LoadedModel& lm) {
  return !lm.objective || (lm.general && lm.general->asimov_info && lm.general->asimov_info->unavailable.empty());
}

shards::Manifest model_manifest(const std::string& kind, const ModelOptions& mo, const LoadedModel& lm) {
  std::vector<std::string> files{mo.workspace};
  for (const pyhf::PatchRequest& p : to_load_options(mo).patches) files.push_back(p.file);
  shards::Manifest man(kind);
  man.set("workspace", lm.source);
  man.set("workspace_hash", shards::hash_files(files));
  man.set("measurement", lm.measurement);
  man.set("poi", lm.model.poi ? lm.model.parameters[*lm.model.poi].name : std::string());
  man.set("patches", mo.patches).set("patchset", mo.patchset).set("measurement_option", mo.measurement).set("poi_option", mo.poi);
  man.set("set", mo.set).set("fix", mo.fix).set("float", mo.release).set("bounds", mo.bounds);
  man.set("normsys_interp", mo.normsys_interp).set("histosys_interp", mo.histosys_interp);
  man.set("analysis", mo.analysis).set("likelihoods", mo.likelihoods).set("shapesys_vals", mo.shapesys_vals);
  return man;
}

LoadedModel load_model_with_datasets(const ModelOptions& o, const LoadOptions& options, const std::string& command) {
  LoadOptions lo = options;
  lo.general_hs3 = true;
  LoadedModel lm = load_model(o.workspace, lo);
  if (lm.objective) throw Error(ErrorKind::Usage, o.workspace, no_datasets_why(command));
  return lm;
}

}  // namespace hs3fit::app
