// A general HS3 (v0.2) document reader: every top-level component indexed by name and kind
// (distributions, functions, data, likelihoods, domains, parameter points, analyses), with the
// selection of likelihoods, bounds and initial values an analysis implies (SPEC §9, §13.15–16).
// `metadata` and `misc` are read only for the producer; everything else in them is ignored.
// Objects keep their json::Node so later stages report errors at the exact JSON pointer.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "json/json_reader.h"

namespace hs3fit::hs3 {

struct Axis {
  std::string name;
  double min = -1e300, max = 1e300;
  bool has_min = false, has_max = false;
  std::vector<double> edges;  // binned: nbins + 1 edges
};

struct Data {
  std::string name, type;  // point, unbinned, binned
  std::vector<Axis> axes;
  std::vector<std::vector<double>> columns;  // unbinned: [axis][event]; binned: bin centres; point: one value
  std::vector<double> weights;               // unbinned weights (empty = 1), binned contents
  json::Node node;
};

struct Likelihood {
  std::string name;
  std::vector<json::Node> distributions;  // strings
  std::vector<json::Node> data;           // strings (data names) or numbers (inline data)
  std::vector<json::Node> aux;            // strings
  json::Node node;
};

struct DomainAxis {
  std::string name;
  double min, max;
};

struct PointEntry {
  double value = 0;
  bool is_const = false;
};

struct Analysis {
  std::string name, likelihood;
  std::vector<std::string> pois, domains;
  std::string init;  // "" = none
  json::Node node;
};

class Document {
 public:
  explicit Document(const json::Node& root);

  const json::Node* distribution(const std::string& name) const;
  const json::Node* function(const std::string& name) const;
  const Data* data(const std::string& name) const;
  const Likelihood* likelihood(const std::string& name) const;
  const Analysis* analysis(const std::string& name) const;

  const std::vector<std::string>& likelihood_names() const { return likelihood_order_; }
  const std::vector<std::string>& analysis_names() const { return analysis_order_; }
  bool root_producer() const { return root_producer_; }
  const json::Node& root() const { return root_; }

  // Domain axes by parameter name, merged over `domains` (analysis domains), else
  // `default_domain`, else all domains (SPEC §13.16).
  std::map<std::string, DomainAxis> bounds(const std::vector<std::string>& domains) const;
  // Parameter values: `default_values` (if present), overridden by `init` (if given and different),
  // else the first point (SPEC §13.15).
  std::map<std::string, PointEntry> point(const std::string& init) const;

 private:
  json::Node root_;
  std::map<std::string, json::Node> distributions_, functions_;
  std::map<std::string, Data> data_;
  std::map<std::string, Likelihood> likelihoods_;
  std::map<std::string, Analysis> analyses_;
  std::map<std::string, std::vector<DomainAxis>> domains_;
  std::vector<std::string> domain_order_;
  std::map<std::string, std::map<std::string, PointEntry>> points_;
  std::vector<std::string> point_order_, likelihood_order_, analysis_order_;
  bool root_producer_ = false;
};

// The error text for a document without likelihoods: "no likelihoods: nothing to fit" and what
// the file holds instead (counts and names of distributions, functions, data, ...).
std::string nothing_to_fit(const json::Node& root);

// The likelihoods a run uses: `--likelihood` names (checked) > `--analysis` > the first analysis
// > the first likelihood. `analysis` receives the analysis used (or null).
std::vector<std::string> select_likelihoods(const Document& doc, const std::string& analysis_option,
                                            const std::vector<std::string>& likelihood_option, const Analysis** analysis,
                                            std::string* selection);

}  // namespace hs3fit::hs3
