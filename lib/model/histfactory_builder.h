// pyhf workspace → Model, with pyhf 0.7 semantics (SPEC §7, docs/semantics.md):
// parameter sets per modifier name, pyhf's defaults for inits/bounds/constraints, staterror σ
// combined in quadrature over the samples of a channel, shapesys τ = (nominal/σ)², measurement
// overrides, and pyhf's parameter names (`name` for scalars, `name[i]` per bin).
#pragma once
#include <optional>
#include <string>

#include "model/model.h"
#include "pyhf/pyhf_spec.h"

namespace hs3fit::model {

struct BuildOptions {
  std::string measurement;                // "" = the first measurement
  std::optional<std::string> poi;         // overrides the measurement's POI
  Interp normsys_interp = Interp::Code4;  // pyhf default
  Interp histosys_interp = Interp::Code4p;
};

Model build_from_pyhf(const pyhf::Workspace& ws, const BuildOptions& options = {});
// The same, moving the names and the per-bin vectors (nominal yields, histosys data,
// observations) out of `ws` instead of copying them: `ws` is left valid but hollow.
Model build_from_pyhf(pyhf::Workspace&& ws, const BuildOptions& options = {});

}  // namespace hs3fit::model
