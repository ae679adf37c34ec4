// Options shared by the subcommands that load a model (fit, eval, ...).
#pragma once
#include <string>
#include <vector>

#include "infer/likelihood.h"
#include "infer/shards.h"
#include "workspace.h"

namespace CLI { class App; }

namespace hs3fit::app {

struct ModelOptions {
  std::string workspace;
  std::vector<std::string> patches;  // -p/--patch FILE[:NAME]
  std::string patchset;              // --patchset FILE (with --patch NAME)
  std::string measurement;
  std::string poi;
  std::vector<std::string> set, fix, release, bounds;
  std::string normsys_interp, histosys_interp;
  std::string analysis;                  // HS3
  std::vector<std::string> likelihoods;  // HS3
  std::string shapesys_vals;             // HS3: auto, relative, absolute
};

void add_model_options(CLI::App* cmd, ModelOptions& o);
LoadOptions to_load_options(const ModelOptions& o);

// The loaded model as an inference likelihood: compiled to the tape (pyhf, histfactory_dist), or
// over the general HS3 objective (load with LoadOptions::general_hs3), which has Asimov datasets
// (GeneralModel::asimov) but no toys — `command` names the subcommand in that refusal.
infer::Likelihood make_likelihood(const LoadedModel& lm, const fit::FitOptions& options, const std::string& command);
// Load for a command that needs toy datasets (limit --toys, patchset limits): general HS3
// likelihoods are refused with the reason, everything else loads as to_load_options says.
LoadedModel load_model_with_datasets(const ModelOptions& o, const LoadOptions& options, const std::string& command);
// True if make_likelihood(lm, ...).asimov(x) works (binned models; general HS3 ones on 1–2 closed axes).
bool has_asimov(const LoadedModel& lm);

// The manifest of a sharded run (scan, impacts, toys) with what every such run records: the
// workspace (+ patches) and its hash, the measurement and POI used, and every model option.
// Callers add their own options, the layout and the shard count.
shards::Manifest model_manifest(const std::string& kind, const ModelOptions& mo, const LoadedModel& lm);

// Exit codes (documented in README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitNotConverged = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInternal = 3;

// Global state set by main: JSON output requested, verbosity.
struct GlobalOptions {
  int verbosity = 0;
  bool quiet = false;
};
GlobalOptions& global_options();

// Write to stdout in one piece.
void print(const std::string& text);

// Write `text` to `path` atomically (temp file + rename), or to stdout when path is "" or "-".
void write_output(const std::string& path, const std::string& text);

}  // namespace hs3fit::app
