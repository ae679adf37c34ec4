// hs3fit validate: run only the load path (read, parse, patch, check, build the model with the
// command-line options) and list every problem found, one line each on stderr; exit 2 if there
// is any, else print an "ok" summary (exit 0).
#include <CLI/CLI.hpp>
#include <cmath>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "eval/evaluator.h"
#include "json/diagnostics.h"
#include "json/json_reader.h"
#include "json/json_writer.h"
#include "pyhf/patchset.h"
#include "pyhf/pyhf_spec.h"
#include "tape/compiler.h"
#include "workspace.h"

namespace hs3fit::app {

namespace {

struct ValidateCommand {
  ModelOptions model;
  bool json = false;
};

// Problems of the workspace document are bare JSON pointers: name the file in front of them.
void forward(const json::ErrorCollector& local, json::ErrorCollector& problems, const std::string& file) {
  for (const Error& e : local.problems()) {
    if (e.kind() == ErrorKind::Input && !e.where().empty() && e.where()[0] == '/')
      problems.add(Error(e.kind(), file + ":" + e.where(), e.message()));
    else
      problems.add(e);
  }
}

struct Summary {
  std::string format, measurement, poi;
  size_t channels = 0, bins = 0, samples = 0, parameters = 0, free_parameters = 0;
  double nll = NAN;
};

// Sizes of the model and −ln L at its initial point (compiled and evaluated as fit would).
void summarise(const model::Model& m, Summary& s) {
  s.channels = m.channels.size();
  s.bins = m.total_bins();
  for (const auto& c : m.channels) s.samples += c.samples.size();
  s.parameters = m.parameters.size();
  for (const auto& p : m.parameters) s.free_parameters += p.fixed ? 0 : 1;
  tape::Tape tp = tape::compile(m);
  eval::Evaluator ev(tp);
  std::vector<double> x = m.initial_values();
  s.nll = ev.nll(x.data());
}

// Everything `load_model` does, with every check reporting to `problems` instead of stopping.
std::optional<Summary> validate(const ModelOptions& options, json::ErrorCollector& problems) {
  const std::string file = options.workspace == "-" ? "<stdin>" : options.workspace;
  std::optional<LoadOptions> lo;
  problems.check([&] { lo = to_load_options(options); });

  std::optional<json::Document> doc;
  if (!problems.check([&] { doc = json::parse(json::read_text(options.workspace), file); })) return std::nullopt;
  if (lo && !lo->patches.empty()) {
    doc = pyhf::apply_patches(*doc, lo->patches, problems);
    if (!doc) return std::nullopt;
  }
  const json::Node root = doc->root();
  if (!root.is_object()) {
    problems.add(Error(ErrorKind::Input, file + ":/", "expected a workspace object at the top level, found " + root.type_name()));
    return std::nullopt;
  }
  if (!pyhf::looks_like_pyhf(root)) {
    // Other formats (HS3) are checked by the normal loader, which stops at the first problem.
    if (options.workspace == "-") {
      problems.add(Error(ErrorKind::Usage, file, "validate reads non-pyhf documents from a file, not from standard input"));
      return std::nullopt;
    }
    std::optional<LoadedModel> lm;
    if (!lo || !problems.check([&] { lm = load_model(options.workspace, *lo); })) return std::nullopt;
    Summary s;
    s.format = lm->format;
    s.measurement = lm->measurement;
    if (lm->model.poi) s.poi = lm->model.parameters[*lm->model.poi].name;
    summarise(lm->model, s);
    return s;
  }

  json::ErrorCollector local(json::ErrorCollector::Mode::CollectAll);
  pyhf::Workspace ws = pyhf::read_workspace(root, local);
  if (local.empty() && lo) {
    const pyhf::Measurement* meas = nullptr;
    local.check([&] { meas = &ws.measurement(lo->build.measurement); });
    if (meas) pyhf::check_measurement(ws, *meas, lo->build.poi, local);
  }
  forward(local, problems, file);
  if (!problems.empty()) return std::nullopt;

  // The model as fit would build it (the builder's own checks are a second line of defence).
  Summary s;
  std::optional<model::Model> m;
  const bool built = problems.check([&] {
    try {
      m = model::build_from_pyhf(ws, lo->build);
      model::apply_overrides(*m, lo->overrides);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Input && !e.where().empty() && e.where()[0] == '/')
        throw Error(e.kind(), file + ":" + e.where(), e.message());
      throw;
    }
  });
  if (!built) return std::nullopt;
  s.format = "pyhf";
  s.measurement = ws.measurement(lo->build.measurement).name;
  if (m->poi) s.poi = m->parameters[*m->poi].name;
  summarise(*m, s);
  if (!std::isfinite(s.nll))
    spdlog::warn("{}: -ln L is not finite at the initial parameter values (a bin with observed events and an expected "
                 "yield <= 0?); a fit from there will fail",
                 file);
  return s;
}

void register_validate(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ValidateCommand>();
  CLI::App* cmd = app.add_subcommand(
      "validate", "Check a workspace with its patches and options, list every problem found (exit 2 if any, else 0)");
  add_model_options(cmd, opts->model);
  cmd->add_flag("--json", opts->json, "Print the result as JSON ({\"ok\", \"problems\": [{\"where\", \"message\"}], ...})");
  cmd->callback([opts, &exit_code] {
    json::ErrorCollector problems(json::ErrorCollector::Mode::CollectAll, 1000);
    std::optional<Summary> s = validate(opts->model, problems);
    const std::string file = opts->model.workspace == "-" ? "<stdin>" : opts->model.workspace;
    for (const Error& e : problems.problems()) spdlog::error("{}", e.what());
    if (problems.count() > problems.problems().size())
      spdlog::error("{}: {} more problems not shown", file, problems.count() - problems.problems().size());
    const bool ok = problems.empty() && s;
    if (!ok) exit_code = kExitBadInput;
    if (opts->json) {
      json::Writer w;
      w.begin_object().key("workspace").value(file).key("ok").value(ok).key("problem_count").value(problems.count());
      w.key("problems").begin_array();
      for (const Error& e : problems.problems())
        w.begin_object().key("where").value(e.where()).key("message").value(e.message()).end_object();
      w.end_array();
      if (ok) {
        w.key("format").value(s->format).key("measurement").value(s->measurement).key("poi").value(s->poi);
        w.key("channels").value(s->channels).key("bins").value(s->bins).key("samples").value(s->samples);
        w.key("parameters").value(s->parameters).key("free_parameters").value(s->free_parameters);
        w.key("nll_at_init").value(s->nll);
      }
      w.end_object();
      print(w.str());
    } else if (ok) {
      print(file + ": ok (" + s->format + ", measurement " + json::safe_quote(s->measurement) +
            (s->poi.empty() ? ", no POI" : ", POI " + json::safe_quote(s->poi)) + ", " + std::to_string(s->channels) +
            " channels, " + std::to_string(s->bins) + " bins, " + std::to_string(s->samples) + " samples, " +
            std::to_string(s->parameters) + " parameters (" + std::to_string(s->free_parameters) + " free))\n");
    } else {
      print(file + ": " + std::to_string(problems.count()) + (problems.count() == 1 ? " problem" : " problems") + "\n");
    }
  });
}

}  // namespace

static CommandRegistration registration("validate", register_validate);

}  // namespace hs3fit::app
