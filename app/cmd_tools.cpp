// hs3fit combine / prune / rename: pyhf workspace operations with pyhf's semantics.
// (Three small subcommands that share their read → transform → validate → write path.)
#include <CLI/CLI.hpp>
#include <memory>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "json/json_reader.h"
#include "json/json_tree.h"
#include "model/histfactory_builder.h"
#include "pyhf/pyhf_spec.h"
#include "tools/pyhf_tools.h"

namespace hs3fit::app {

namespace {

// Read and validate a pyhf workspace file, returning its mutable tree.
json::Value read_pyhf_tree(const std::string& path) {
  json::Document doc = json::parse_file(path);
  try {
    pyhf::read_workspace(doc.root());
  } catch (const Error& e) {
    throw Error(e.kind(), path + ":" + e.where(), e.message());
  }
  return json::to_tree(doc.root());
}

// Check that the result is a valid pyhf workspace that builds a model, then write it.
void validate_and_write(const json::Value& result, const std::string& output) {
  std::string text = json::serialize(result);
  json::Document doc = json::parse(text, "<result>");
  pyhf::Workspace ws = pyhf::read_workspace(doc.root());
  // pyhf writes workspaces whose measurements cannot all build a model (e.g. a combined lumi
  // modifier without that measurement's lumi configuration); say so, as pyhf would at fit time.
  for (const auto& m : ws.measurements) {
    model::BuildOptions bo;
    bo.measurement = m.name;
    try {
      model::build_from_pyhf(ws, bo);
    } catch (const Error& e) {
      spdlog::warn("measurement '{}' of the result cannot be fitted: {}", m.name, e.what());
    }
  }
  write_output(output, text + "\n");
}

std::map<std::string, std::string> parse_renames(const std::vector<std::string>& items, const char* option) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw Error(ErrorKind::Usage, option, "expected OLD=NEW, got '" + item + "'");
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

void register_combine(CLI::App& app, int&) {
  struct Opts { std::vector<std::string> inputs; std::string join = "none"; bool merge_channels = false; std::string output; };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("combine", "Combine pyhf workspaces (pyhf Workspace.combine semantics)");
  cmd->add_option("workspaces", o->inputs, "Two or more pyhf workspaces")->required()->expected(2, 1000);
  cmd->add_option("--join", o->join, "How to join same-named channels/observations/measurements: none, outer, 'left outer', 'right outer'");
  cmd->add_flag("--merge-channels", o->merge_channels, "Merge the samples of channels with the same name");
  cmd->add_option("-o,--output", o->output, "Output file (default: stdout)");
  cmd->callback([o] {
    tools::Join join = tools::parse_join(o->join);
    json::Value acc = read_pyhf_tree(o->inputs[0]);
    for (size_t i = 1; i < o->inputs.size(); ++i) acc = tools::combine(acc, read_pyhf_tree(o->inputs[i]), join, o->merge_channels);
    validate_and_write(acc, o->output);
  });
}

void register_prune(CLI::App& app, int&) {
  struct Opts { std::string input, output; tools::PruneSpec spec; };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("prune", "Remove modifiers, samples, channels or measurements from a pyhf workspace");
  cmd->add_option("workspace", o->input, "pyhf workspace (- for stdin)")->required();
  cmd->add_option("--modifier", o->spec.modifiers, "Modifier name to remove (repeatable)");
  cmd->add_option("-t,--modifier-type", o->spec.modifier_types, "Modifier type to remove (repeatable)");
  cmd->add_option("-s,--sample", o->spec.samples, "Sample to remove (repeatable)");
  cmd->add_option("-c,--channel", o->spec.channels, "Channel to remove (repeatable)");
  cmd->add_option("--measurement", o->spec.measurements, "Measurement to remove (repeatable)");
  cmd->add_option("-o,--output", o->output, "Output file (default: stdout)");
  cmd->callback([o] { validate_and_write(tools::prune(read_pyhf_tree(o->input), o->spec), o->output); });
}

void register_rename(CLI::App& app, int&) {
  struct Opts { std::string input, output; std::vector<std::string> modifiers, samples, channels, measurements; };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("rename", "Rename modifiers, samples, channels or measurements in a pyhf workspace");
  cmd->add_option("workspace", o->input, "pyhf workspace (- for stdin)")->required();
  cmd->add_option("--modifier", o->modifiers, "OLD=NEW modifier (parameter) name (repeatable)");
  cmd->add_option("--sample", o->samples, "OLD=NEW sample name (repeatable)");
  cmd->add_option("--channel", o->channels, "OLD=NEW channel name (repeatable)");
  cmd->add_option("--measurement", o->measurements, "OLD=NEW measurement name (repeatable)");
  cmd->add_option("-o,--output", o->output, "Output file (default: stdout)");
  cmd->callback([o] {
    tools::RenameSpec spec{parse_renames(o->modifiers, "--modifier"), parse_renames(o->samples, "--sample"),
                           parse_renames(o->channels, "--channel"), parse_renames(o->measurements, "--measurement")};
    validate_and_write(tools::rename(read_pyhf_tree(o->input), spec), o->output);
  });
}

}  // namespace

static CommandRegistration combine_registration("combine", register_combine);
static CommandRegistration prune_registration("prune", register_prune);
static CommandRegistration rename_registration("rename", register_rename);

}  // namespace hs3fit::app
