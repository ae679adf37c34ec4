#include "workspace.h"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "json/json_reader.h"
#include "pyhf/pyhf_spec.h"

namespace hs3fit {

namespace {
LoadedModel load(const std::string& path, const LoadOptions& options);
void read_model(const json::Node& root, const LoadOptions& options, LoadedModel& out);
}

std::vector<std::pair<std::string, double>> read_parameter_point(const std::string& path) {
  json::Document doc = json::parse_file(path);
  json::Node node = doc.root();
  if (!node.is_object()) node.fail("expected an object of parameter values");
  if (auto b = node.get("bestfit")) node = *b;
  if (auto m = node.get("mle_parameters")) node = *m;
  else if (auto p = node.get("parameters"); p && p->is_object()) node = *p;
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [name, value] : node.members()) {
    if (value.is_number()) out.emplace_back(name, value.as_number());
    else if (value.is_array() && value.size() >= 1) out.emplace_back(name, value.elements()[0].as_number());
    else value.fail("expected a number or [value, error]");
  }
  return out;
}

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  try {
    return load(path, options);
  } catch (const Error& e) {
    // Name the file in front of a bare JSON pointer (an absolute path is already a name: the
    // parser's errors start with it, "/data/ws.json" or "/data/ws.json:/channels/0").
    const std::string source = path == "-" ? std::string("<stdin>") : path;
    const std::string& where = e.where();
    const bool named = where.compare(0, source.size(), source) == 0 && (where.size() == source.size() || where[source.size()] == ':');
    if (e.kind() == ErrorKind::Input && !where.empty() && where[0] == '/' && !named)
      throw Error(e.kind(), source + ":" + where, e.message());
    throw;
  }
}

namespace {
LoadedModel load(const std::string& path, const LoadOptions& options) {
  using Clock = std::chrono::steady_clock;
  LoadedModel out;
  auto t0 = Clock::now();
  std::string text = json::read_text(path);
  out.bytes = text.size();
  // A large document's structure check (duplicate keys, depth) runs on a second thread while
  // the model is read; its verdict is collected below, before the model or a reader's error is
  // used (with patches, the patched document is what is read: checked at once).
  const json::CheckMode check = options.patches.empty() ? json::CheckMode::Deferred : json::CheckMode::Now;
  json::Document doc = json::parse(std::move(text), path == "-" ? "<stdin>" : path, check);
  if (!options.patches.empty()) doc = pyhf::apply_patches(doc, options.patches);
  out.source = doc.source();
  auto t1 = Clock::now();
  try {
    read_model(doc.root(), options, out);
  } catch (...) {
    doc.check();  // a structure error outranks whatever the reader made of the document
    throw;
  }
  doc.check();
  auto t2 = Clock::now();
  out.parse_s = std::chrono::duration<double>(t1 - t0).count();
  out.build_s = std::chrono::duration<double>(t2 - t1).count();
  return out;
}

// The model of a parsed workspace (pyhf or HS3) into `out`, with the overrides applied.
void read_model(const json::Node& root, const LoadOptions& options, LoadedModel& out) {
  if (!root.is_object()) root.fail("expected a workspace object at the top level, found " + root.type_name());
  if (pyhf::looks_like_pyhf(root)) {
    pyhf::Workspace ws = pyhf::read_workspace(root);
    out.format = "pyhf";
    out.measurement = ws.measurement(options.build.measurement).name;
    for (const auto& m : ws.measurements) out.measurements.push_back(m.name);
    out.model = model::build_from_pyhf(std::move(ws), options.build);  // moves names and bins: ws is not used after this
  } else if (std::string where; hs3::looks_like_hs3(root) && hs3::needs_general_reader(root, {options.hs3.analysis, options.hs3.likelihoods}, &where)) {
    if (!options.general_hs3)
      throw Error(ErrorKind::Input, where,
                  "distributions other than histfactory_dist (unbinned data, continuous pdfs) are evaluated by the general "
                  "HS3 front end, which is not supported by this command yet");
    auto gm = std::make_shared<hs3::GeneralModel>(hs3::build_general(root, {options.hs3.analysis, options.hs3.likelihoods}));
    out.format = "hs3";
    out.measurement = gm->selection;
    out.measurements = gm->analyses.empty() ? gm->likelihoods : gm->analyses;
    out.model.parameters = gm->parameters;
    out.model.poi = gm->poi;
    if (options.build.poi) {
      auto idx = out.model.find_parameter(*options.build.poi);
      if (!idx) throw Error(ErrorKind::Usage, "--poi", "no parameter named '" + *options.build.poi + "' in the likelihood");
      out.model.poi = *idx;
    }
    out.general = gm;
    out.objective = [gm](const double* x, double* g) { return g ? gm->nll_and_gradient(x, g) : gm->nll(x); };
  } else if (hs3::looks_like_hs3(root)) {
    if (!options.patches.empty()) spdlog::debug("patches applied to an HS3 document");
    hs3::Options ho = options.hs3;
    ho.normsys_interp = options.build.normsys_interp;
    ho.histosys_interp = options.build.histosys_interp;
    hs3::Result r = hs3::build_model(root, ho);
    out.format = "hs3";
    out.measurement = r.selection;
    out.measurements = r.analyses.empty() ? r.likelihoods : r.analyses;
    out.model = std::move(r.model);
    if (options.build.poi) {
      auto idx = out.model.find_parameter(*options.build.poi);
      if (!idx) throw Error(ErrorKind::Usage, "--poi", "no parameter named '" + *options.build.poi + "' in the likelihood");
      out.model.poi = *idx;
    }
  } else {
    root.fail("not a workspace: expected a pyhf workspace (with 'channels', 'observations', 'measurements') or an HS3 document (with 'metadata', 'distributions', 'likelihoods')");
  }
  model::apply_overrides(out.model, options.overrides);
}
}  // namespace

}  // namespace hs3fit
