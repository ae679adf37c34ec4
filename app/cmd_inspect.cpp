// hs3fit inspect: channels, bins, samples, modifiers by type, parameters, POI, data.
// HS3 documents: every component listed (distributions with types, functions, data, domains,
// parameter points, likelihoods, analyses), each distribution and function checked, then the
// selected likelihood's model if the file has one. Exit 2 when a check found a problem.
#include <CLI/CLI.hpp>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "hs3/hs3_histfactory.h"
#include "hs3/hs3_inspect.h"
#include "json/json_reader.h"
#include "pyhf/patchset.h"
#include "pyhf/pyhf_spec.h"
#include "report/inspect_report.h"

namespace hs3fit::app {

namespace {
struct InspectCommand {
  ModelOptions model;
  bool json = false;
};

void register_inspect(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<InspectCommand>();
  CLI::App* cmd = app.add_subcommand("inspect", "Summarize a workspace: channels, samples, modifiers, parameters, POI, data (HS3: every component, checked)");
  add_model_options(cmd, opts->model);
  cmd->add_flag("--json", opts->json, "Print the summary as JSON");
  cmd->callback([opts, &exit_code] {
    LoadOptions lo = to_load_options(opts->model);
    const std::string& path = opts->model.workspace;
    std::string text = json::read_text(path);
    const size_t bytes = text.size();
    json::Document doc = json::parse(std::move(text), path == "-" ? "<stdin>" : path);
    if (!lo.patches.empty()) doc = pyhf::apply_patches(doc, lo.patches);
    const json::Node root = doc.root();
    if (!root.is_object() || pyhf::looks_like_pyhf(root) || !hs3::looks_like_hs3(root)) {
      LoadedModel lm = load_model(path, lo);
      print(opts->json ? report::inspect_json(lm) : report::inspect_table(lm));
      return;
    }
    report::Hs3Inspect in;
    in.source = doc.source();
    in.bytes = bytes;
    in.document = hs3::summarize_document(root);
    std::optional<LoadedModel> lm;
    if (!in.document.likelihoods.empty()) {
      lo.general_hs3 = true;
      try {
        lm.emplace(load_model(path, lo));
        in.model = &*lm;
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::Usage) throw;  // --likelihood / --analysis naming nothing
        in.load_error = (e.where().empty() ? "" : e.where() + ": ") + e.message();
      }
    }
    print(opts->json ? report::inspect_hs3_json(in) : report::inspect_hs3_table(in));
    bool load_error_listed = false;  // the same problem found by the document check
    for (const auto& pr : in.document.problems)
      if (!in.load_error.empty() && in.load_error.find(pr.substr(pr.find(": ") + 2)) != std::string::npos) load_error_listed = true;
    const size_t problems = in.document.problems.size() + (in.load_error.empty() || load_error_listed ? 0 : 1);
    if (problems > 0) {
      spdlog::error("{}: {} problem(s) found (listed above)", in.source, problems);
      exit_code = kExitBadInput;
    }
  });
}
}  // namespace

static CommandRegistration registration("inspect", register_inspect);

}  // namespace hs3fit::app
