// Loading a workspace file into a Model: read (simdjson), apply patches, detect the format,
// validate, build. The one entry point the CLI and the tests use.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hs3/hs3_histfactory.h"
#include "hs3/hs3_unbinned.h"
#include "model/histfactory_builder.h"
#include "model/model.h"
#include "model/overrides.h"
#include "pyhf/patchset.h"

namespace hs3fit {

struct LoadOptions {
  std::vector<pyhf::PatchRequest> patches;
  model::BuildOptions build;  // pyhf
  hs3::Options hs3;           // HS3
  model::ParameterOverrides overrides;
  // HS3 likelihoods beyond histfactory_dist (unbinned, mixtures, generic expressions, ...) are
  // evaluated by LoadedModel::objective, not by the binned tape: only callers that use
  // `objective` when it is set may ask for them. Otherwise such a document is refused (exit 2)
  // instead of being fitted as an empty binned model.
  bool general_hs3 = false;
};

struct LoadedModel {
  model::Model model;
  std::string source;       // file name (+ patches)
  std::string format;       // "pyhf" or "hs3"
  std::string measurement;  // measurement (pyhf) or analysis/likelihood selection (HS3) used
  std::vector<std::string> measurements;  // all measurements in the file
  size_t bytes = 0;         // size of the JSON text
  double parse_s = 0;       // read + parse (+ patch) time
  double build_s = 0;       // validation + model building time
  // General HS3 likelihoods (LoadOptions::general_hs3): −ln L and its exact gradient at the full
  // parameter vector (model.parameters; `model` has no channels). Empty for pyhf and
  // histfactory_dist documents, which compile to the tape from `model`.
  std::function<double(const double* x, double* gradient)> objective;
  std::shared_ptr<const hs3::GeneralModel> general;
};

// A parameter point from a JSON file: an object NAME → value (or [value, error]), either at the
// top level or under "mle_parameters" (hs3fit/pyhf fit output), "parameters" or
// "bestfit"/"parameters" (shared/reference files).
std::vector<std::pair<std::string, double>> read_parameter_point(const std::string& path);

LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace hs3fit
