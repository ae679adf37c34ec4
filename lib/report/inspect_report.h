// `hs3fit inspect`: what a workspace contains (channels, bins, samples, modifiers by type,
// parameters, POI, data), as a table or JSON.
#pragma once
#include <string>

#include "hs3/hs3_inspect.h"
#include "workspace.h"

namespace hs3fit::report {

std::string inspect_table(const LoadedModel& lm);
std::string inspect_json(const LoadedModel& lm);

// HS3 documents: the document listing (every component, each distribution and function checked,
// hs3/hs3_inspect.h), then the selected likelihood's model when one was loaded (`lm` null: the
// file has no likelihood, or loading it failed with `load_error`).
struct Hs3Inspect {
  std::string source;
  size_t bytes = 0;
  hs3::DocumentSummary document;
  const LoadedModel* model = nullptr;
  std::string load_error;
};
std::string inspect_hs3_table(const Hs3Inspect& in);
std::string inspect_hs3_json(const Hs3Inspect& in);

}  // namespace hs3fit::report
