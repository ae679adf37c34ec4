// `hs3fit inspect`: what a workspace contains (channels, bins, samples, modifiers by type,
// parameters, POI, data), as a table or JSON.
#pragma once
#include <string>

#include "workspace.h"

namespace hs3fit::report {

std::string inspect_table(const LoadedModel& lm);
std::string inspect_json(const LoadedModel& lm);

}  // namespace hs3fit::report
