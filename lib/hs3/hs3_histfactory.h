// HS3 (v0.2) workspaces whose likelihoods are built from `histfactory_dist` channels, read into
// the same Model as pyhf JSON (so both front ends run on one tape). Constraint terms are the
// implicit HistFactory ones plus Gaussian `aux_distributions` on parameters (e.g. Lumi).
// Other HS3 distribution types are recognised and refused with a clear message (not yet
// supported), never silently mis-evaluated. Decisions on SPEC §13's ambiguities: docs/hs3.md.
#pragma once
#include <string>
#include <vector>

#include "model/model.h"

namespace hs3fit::json { class Node; }

namespace hs3fit::hs3 {

enum class ShapesysVals { Auto, Relative, Absolute };

struct Options {
  std::string analysis;                  // analysis to use ("" = first, if any)
  std::vector<std::string> likelihoods;  // likelihoods to combine (overrides the analysis')
  ShapesysVals shapesys_vals = ShapesysVals::Auto;
  model::Interp normsys_interp = model::Interp::Code4;   // defaults when the file names none
  model::Interp histosys_interp = model::Interp::Code4p;
};

struct Result {
  model::Model model;
  std::string selection;  // "analysis A (likelihood L)" or "likelihoods L1, L2"
  std::vector<std::string> analyses, likelihoods;  // all in the file
};

bool looks_like_hs3(const json::Node& root);
Result build_model(const json::Node& root, const Options& options);

}  // namespace hs3fit::hs3
