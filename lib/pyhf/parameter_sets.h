// pyhf parameter sets: the parameters behind each modifier name, with pyhf 0.7.6's defaults and
// sharing rules (modifiers/*.py `required_parset`, `is_shared`):
//   normfactor, lumi        scalar; a name used only by modifiers of that type
//   normsys, histosys       scalar; one name may be used by both (one shared parameter)
//   shapefactor             one parameter per bin; every use must have the same bin count
//   shapesys                one parameter per bin; a name may be used once in the model
//   staterror               one parameter per bin of each channel using the name (channels in
//                           sorted order); carried by the same samples in every such channel
#pragma once
#include <map>
#include <string>
#include <utility>

#include "pyhf/pyhf_spec.h"

namespace hs3fit::json { class ErrorCollector; }

namespace hs3fit::pyhf {

enum class ConstraintType { None, Gaussian, Poisson };

// What a measurement's parameter configuration may set, and the defaults it replaces.
struct ParameterDefaults {
  double init = 1.0;                    // lumi: its auxdata (pyhf has no default)
  std::pair<double, double> bounds{0.0, 10.0};
  ConstraintType constraint = ConstraintType::None;
  bool per_bin = false;
  bool accepts_auxdata = false;
  bool accepts_sigmas = false;          // pyhf: lumi and staterror only
  bool accepts_factors = false;         // pyhf: shapesys only
};
ParameterDefaults parameter_defaults(ModifierType type);

struct ParameterSet {
  std::string name;
  ModifierType type = ModifierType::NormFactor;  // the first type seen (histosys/normsys may share)
  size_t n = 1;                                  // number of components
  const Modifier* first = nullptr;               // the first modifier using the name (in the Workspace)
  // Its JSON pointer, for messages (built on demand).
  std::string first_pointer() const { return first ? first->pointer() : std::string(); }
};

// The parameter sets of a workspace read without problems. A modifier that breaks a sharing
// rule is reported at its pointer and left out.
std::map<std::string, ParameterSet> parameter_sets(const Workspace& ws, json::ErrorCollector& problems);

}  // namespace hs3fit::pyhf
