// hs3fit inspect: channels, bins, samples, modifiers by type, parameters, POI, data.
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "common_options.h"
#include "report/inspect_report.h"

namespace hs3fit::app {

namespace {
struct InspectCommand {
  ModelOptions model;
  bool json = false;
};

void register_inspect(CLI::App& app, int&) {
  auto opts = std::make_shared<InspectCommand>();
  CLI::App* cmd = app.add_subcommand("inspect", "Summarize a workspace: channels, samples, modifiers, parameters, POI, data");
  add_model_options(cmd, opts->model);
  cmd->add_flag("--json", opts->json, "Print the summary as JSON");
  cmd->callback([opts] {
    LoadedModel lm = load_model(opts->model.workspace, to_load_options(opts->model));
    print(opts->json ? report::inspect_json(lm) : report::inspect_table(lm));
  });
}
}  // namespace

static CommandRegistration registration("inspect", register_inspect);

}  // namespace hs3fit::app
