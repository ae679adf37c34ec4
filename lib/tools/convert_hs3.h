// pyhf JSON → HS3 v0.2: one histfactory_dist per channel with ROOT's default parameter names
// (alpha_<sys>, gamma_stat_<channel>_bin_<i>, gamma_<name>_bin_<i>, Lumi + lumiConstraint),
// binned data, one likelihood, default_domain, default_values and one analysis for the
// measurement. hs3fit reads the result back to the same −ln L (tested on every pyhf workspace).
#pragma once
#include <string>

#include "model/model.h"
#include "pyhf/pyhf_spec.h"

namespace hs3fit::tools {

struct ConvertOptions {
  std::string measurement;  // "" = first
  model::Interp normsys_interp = model::Interp::Code4;
  model::Interp histosys_interp = model::Interp::Code4p;
};

std::string convert_pyhf_to_hs3(const pyhf::Workspace& ws, const ConvertOptions& options = {});

}  // namespace hs3fit::tools
