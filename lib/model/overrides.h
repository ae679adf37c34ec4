// Command-line changes to a model's parameters, in the peers' vocabulary:
//   --set a=1,b=2       initial values (Combine --setParameters)
//   --fix a=1,b         fix parameters, at a value or at their initial value (--freezeParameters)
//   --float a,b         release parameters the workspace fixes
//   --bounds a=0:20     new bounds (Combine --setParameterRanges a=0,20 also accepted as a=0,20)
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"

namespace hs3fit::model {

struct ParameterOverrides {
  std::vector<std::pair<std::string, double>> set;
  std::vector<std::pair<std::string, std::optional<double>>> fix;
  std::vector<std::string> release;
  struct Range { std::string name; double lo, hi; };
  std::vector<Range> bounds;
  bool empty() const { return set.empty() && fix.empty() && release.empty() && bounds.empty(); }
};

// Parse "a=1,b=2" style lists; `option` names the CLI option in errors.
std::vector<std::pair<std::string, double>> parse_assignments(const std::string& text, const std::string& option);
std::vector<std::pair<std::string, std::optional<double>>> parse_fix_list(const std::string& text, const std::string& option);
std::vector<ParameterOverrides::Range> parse_ranges(const std::string& text, const std::string& option);
std::vector<std::string> parse_name_list(const std::string& text);

// Apply overrides (bounds, then release, then set, then fix). Throws Error(Usage) for unknown
// names or values outside the bounds.
void apply_overrides(Model& model, const ParameterOverrides& overrides);

}  // namespace hs3fit::model
