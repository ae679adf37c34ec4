// A listing of any HS3 document for `hs3fit inspect`: every distribution (with its type),
// function, data set, domain, parameter point, likelihood and analysis, also for documents that
// hold no likelihood (a model library, a set of starting points). Every distribution and
// function the general front end can lower is lowered on a scratch graph, so unsupported types,
// bad fields and missing or circular references are reported with their JSON pointer.
#pragma once
#include <string>
#include <vector>

namespace hs3fit::json { class Node; }

namespace hs3fit::hs3 {

struct ObjectSummary {
  std::string name, type;  // type: the object's `type` (distributions, functions, data, domains)
  std::string detail;      // one line: fields, sizes, references
  std::string pointer;     // JSON pointer of the object
  std::string problem;     // "" or "<pointer>: <message>"
  std::vector<std::string> tags;  // misc.ROOT_internal.attributes tags (e.g. roofit_skip)
};

struct DocumentSummary {
  std::string hs3_version;
  std::vector<std::string> packages;  // "ROOT 6.36.000"
  std::vector<ObjectSummary> distributions, functions, data, domains, parameter_points, likelihoods, analyses;
  std::vector<std::string> problems;  // every problem found, "<pointer>: <message>"
  size_t checked = 0;                 // distributions and functions lowered
};

DocumentSummary summarize_document(const json::Node& root);

}  // namespace hs3fit::hs3
