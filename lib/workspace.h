// Loading a workspace file into a Model: read (simdjson), apply patches, detect the format,
// validate, build. The one entry point the CLI and the tests use.
#pragma once
#include <string>
#include <vector>

#include "hs3/hs3_histfactory.h"
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
};

// A parameter point from a JSON file: an object NAME → value (or [value, error]), either at the
// top level or under "mle_parameters" (hs3fit/pyhf fit output), "parameters" or
// "bestfit"/"parameters" (shared/reference files).
std::vector<std::pair<std::string, double>> read_parameter_point(const std::string& path);

LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace hs3fit
