// hs3fit convert: pyhf JSON workspace → HS3 (histfactory_dist, ROOT's default parameter names).
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "json/json_reader.h"
#include "pyhf/patchset.h"
#include "tools/convert_hs3.h"

namespace hs3fit::app {

namespace {

void register_convert(CLI::App& app, int&) {
  struct Opts { std::string input, output, measurement; std::vector<std::string> patches; };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a pyhf workspace to HS3 (histfactory_dist with ROOT's parameter names)");
  cmd->add_option("workspace", o->input, "pyhf workspace (- for stdin)")->required();
  cmd->add_option("-p,--patch", o->patches, "Apply a JSON Patch or FILE:NAME patchset patch first (repeatable)");
  cmd->add_option("-m,--measurement", o->measurement, "Measurement to convert (default: the first)");
  cmd->add_option("-o,--output", o->output, "Output file (default: stdout)");
  cmd->callback([o] {
    json::Document doc = json::parse_file(o->input);
    std::vector<pyhf::PatchRequest> patches;
    for (const auto& p : o->patches) patches.push_back(pyhf::parse_patch_argument(p));
    if (!patches.empty()) doc = pyhf::apply_patches(doc, patches);
    pyhf::Workspace ws;
    try {
      ws = pyhf::read_workspace(doc.root());
    } catch (const Error& e) {
      throw Error(e.kind(), doc.source() + ":" + e.where(), e.message());
    }
    tools::ConvertOptions co;
    co.measurement = o->measurement;
    write_output(o->output, tools::convert_pyhf_to_hs3(ws, co));
  });
}

}  // namespace

static CommandRegistration registration("convert", register_convert);

}  // namespace hs3fit::app
