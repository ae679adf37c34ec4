// One model with one dataset, compiled once, and the fits inference is made of: free fits and
// conditional fits (some parameters held at given values), each optionally warm-started.
// Inference changes data, never the model: an Asimov or toy dataset is a Dataset swapped into
// a copy of the model and compiled again (compilation is cheap next to a fit).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "fit/minimizer.h"
#include "model/model.h"

namespace hs3fit::tape { struct Tape; }
namespace hs3fit::eval { class Evaluator; }

namespace hs3fit::infer {

// Everything −ln L reads as data: main-measurement counts per channel and one auxiliary datum
// per constraint term (pyhf's `data = observations + auxdata`).
struct Dataset {
  std::vector<std::vector<double>> observed;  // model.channels order
  std::vector<double> aux;                    // model.constraints order
};

Dataset observed_dataset(const model::Model& m);
// The model with its data replaced (sizes must match; they do for datasets made from `m`).
model::Model with_dataset(model::Model m, const Dataset& data);

struct FixedValue {
  uint32_t param;
  double value;
};

// A fit good enough for inference: converged, or a finite minimum whose EDM is below pyhf's
// default MIGRAD goal (0.002 · tolerance 0.1 · errordef 1 on −2 ln L = 1e-4 on −ln L). Such a
// fit moves a test statistic by ~1e-4 at most; it is not counted as failed.
bool usable(const fit::FitResult& r);

// Fit settings for inference: the fit command's tolerance, no covariance (not needed).
fit::FitOptions inference_fit_options(double tolerance = fit::FitOptions{}.tolerance);

class Likelihood {
 public:
  explicit Likelihood(model::Model m, fit::FitOptions options = inference_fit_options());
  // A likelihood given as −ln L over m.parameters (general HS3: unbinned data, continuous pdfs),
  // with no binned dataset: fits, profiles, scans and MINOS work; expected() and with_data()
  // (Asimov and toy datasets) throw an Error saying `no_datasets_why`.
  Likelihood(model::Model m, fit::Objective objective, fit::FitOptions options, std::string no_datasets_why);
  // The Asimov likelihood of an objective-only likelihood at x: its parameters (the fixed ones —
  // global observables — at their Asimov values) and its −ln L.
  using AsimovFactory = std::function<std::pair<std::vector<model::Parameter>, fit::Objective>(const std::vector<double>& x)>;
  void set_asimov_factory(AsimovFactory f) { asimov_factory_ = std::move(f); }
  ~Likelihood();
  Likelihood(Likelihood&&) noexcept;
  Likelihood& operator=(Likelihood&&) noexcept;

  const model::Model& model() const { return model_; }
  const fit::FitOptions& options() const { return options_; }
  size_t num_params() const { return model_.parameters.size(); }

  double nll(const std::vector<double>& x);

  // False for an objective-only likelihood: no Asimov or toy datasets (expected, with_data).
  bool has_datasets() const { return evaluator_ != nullptr; }

  // Minimise −ln L with the parameters in `fixed` held at their values (on top of the ones the
  // model fixes), starting from `start` (every parameter; empty = the model's initial values;
  // values outside a bound are moved onto it). Fixed values may lie outside the bounds.
  fit::FitResult minimize(const std::vector<FixedValue>& fixed = {}, const std::vector<double>& start = {});

  // Expected data at x — main yields ν(x) and the expected auxiliary data (Gaussian: θ,
  // Poisson: θ·τ). At a fitted point this is the Asimov dataset (pyhf's expected_data).
  Dataset expected(const std::vector<double>& x);

  // The same model with another dataset.
  Likelihood with_data(const Dataset& data) const;

  // The likelihood of the Asimov dataset at x (the expected data): with_data(expected(x)) for
  // binned models, the factory's for objective-only ones (throws when there is none).
  Likelihood asimov(const std::vector<double>& x);
  // The same likelihood with other parameter bounds/initial values/fixed flags (same names, order).
  Likelihood with_parameters(std::vector<model::Parameter> parameters) const;

 private:
  model::Model model_;
  fit::FitOptions options_;
  std::unique_ptr<tape::Tape> tape_;
  std::unique_ptr<eval::Evaluator> evaluator_;
  fit::Objective objective_;     // −ln L and gradient: the evaluator's, or the given one
  std::string no_datasets_why_;  // objective-only likelihoods: why there are no datasets
  AsimovFactory asimov_factory_; // objective-only likelihoods: their Asimov likelihoods (optional)
};

// The profile of −ln L along one parameter: conditional fits with that parameter fixed, each
// warm-started from the fit at the nearest value done so far (the start point at first).
class Profile {
 public:
  Profile(Likelihood& likelihood, uint32_t param, const fit::FitResult& start);
  fit::FitResult at(double value);
  // Another warm-start point (a fit at values[param]).
  void add_start(const std::vector<double>& values) { starts_[values[param_]] = values; }
  uint32_t param() const { return param_; }
  int fits() const { return fits_; }

 private:
  Likelihood& likelihood_;
  uint32_t param_;
  std::map<double, std::vector<double>> starts_;
  int fits_ = 0;
};

}  // namespace hs3fit::infer
