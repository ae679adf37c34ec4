// The general HS3 front end: likelihoods built from any supported distribution (gaussian,
// exponential, uniform, poisson, lognormal, polynomial, argus, crystalball, generic, mixture,
// product) and function (sum, product, generic_function, polynomial) on unbinned, binned or point
// data, lowered onto the HS3 evaluation graph (graph.h) with exact gradients.
//
// Semantics (SPEC §3, decisions in docs/hs3.md): each distribution is normalized over the axes
// of the data it is paired with ([min, max] of the data axis; closed forms where they exist,
// composite Gauss–Legendre otherwise); distributions without paired data (aux distributions,
// constraint factors of a product_dist) use their full-line normalization and are counted once
// per run; extended mixtures add ν − N_eff ln ν (no ln N!); weighted events enter as Σ w ln PDF.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs3/program.h"
#include "model/model.h"

namespace hs3fit::json { class Node; }

namespace hs3fit::hs3 {

struct GeneralOptions {
  std::string analysis;                  // analysis to use ("" = first, if any)
  std::vector<std::string> likelihoods;  // likelihoods to combine (overrides the analysis')
};

// What an Asimov dataset of a general model needs, recorded when the model is built.
struct AsimovSource {
  std::vector<std::vector<double>> grid;  // [axis][point]: cell centres (binned data: its bins; unbinned: kAsimovBins per axis)
  std::vector<double> volume;             // per point: cell volume
  double n_obs = 0;                       // observed (weighted) events: the expected count of a non-extended pdf
  std::optional<uint32_t> rate;           // extended pdfs: the node of the expected number of events
  size_t extended_term = 0;               // its ν − n ln ν term in the scalar terms (when rate is set)
};
struct AsimovInfo {
  std::shared_ptr<const Program> program;                      // the model's (shared, not copied): its graph (nodes in
                                                               // topological order) and the observed data's sources
  std::vector<AsimovSource> asimov;                            // parallel to sources
  std::vector<std::pair<uint32_t, double>> scalar_terms;
  std::vector<std::pair<std::string, uint32_t>> global_means;  // constraint variate → the node it is centred on
  std::string unavailable;                                     // why there is no Asimov dataset ("" = there is)
};
// Unbinned data: the Asimov dataset puts weighted events at the centres of this many cells per
// axis (1 axis), or of kAsimovBins2D² cells (2 axes).
inline constexpr size_t kAsimovBins = 400;
inline constexpr size_t kAsimovBins2D = 80;

struct GeneralModel {
  std::vector<model::Parameter> parameters;
  std::optional<uint32_t> poi;
  std::string selection;                 // what was selected (for logs and reports)
  std::vector<std::string> analyses, likelihoods;  // all in the file
  size_t events = 0;                     // events (unbinned entries, bins, points) over all pairs
  size_t graph_nodes = 0;
  std::shared_ptr<Program> program;      // not thread-safe: one evaluation at a time

  // −ln L and its gradient at the full parameter vector x.
  double nll(const double* x) const { return program->value(x); }
  double nll_and_gradient(const double* x, double* g) const { return program->value_and_gradient(x, g); }
  std::string summary() const;

  std::shared_ptr<const AsimovInfo> asimov_info;
  // The same model on its Asimov dataset at the full parameter vector x: every event source
  // replaced by weighted events at cell centres carrying the expected events of the cell
  // (ν(x)·p(cell|x), extended; else the observed count), extended terms with n = ν(x), and the
  // global observables of Gaussian and Poisson constraints set to their means at x. Throws
  // Error(Usage) when the model has no Asimov dataset (more than 2 axes, point/inline data).
  GeneralModel asimov(const std::vector<double>& x) const;
};

// True if the likelihoods `options` selects contain anything but histfactory_dist channels
// (those go through hs3_histfactory.h onto the binned tape).
// `where` (optional) receives the JSON pointer of the first such distribution's type.
bool needs_general_reader(const json::Node& root, const GeneralOptions& options, std::string* where = nullptr);

GeneralModel build_general(const json::Node& root, const GeneralOptions& options);

class Document;
// Structural check of one distribution (`is_function` false) or function of `doc`: it is lowered
// onto a scratch graph (types, fields, references, expressions, cycles). A distribution a
// likelihood pairs with data is checked against that data's axes, as a fit reads it; others
// without observables (normalizations that need a data axis are skipped). histfactory_dist is
// left to the HistFactory front end. Returns "" or "<JSON pointer>: <problem>".
std::string check_object(const Document& doc, const std::string& name, bool is_function);

// Composite Gauss–Legendre rule used for numeric normalization: kPanels equal panels with
// kPoints nodes each on [lo, hi] (deterministic; documented in docs/hs3.md).
inline constexpr int kQuadPanels = 4;
inline constexpr int kQuadPoints = 16;
// Nodes and weights of the kPoints-point Gauss–Legendre rule on [−1, 1].
const std::vector<std::pair<double, double>>& gauss_legendre();

}  // namespace hs3fit::hs3
