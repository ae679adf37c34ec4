#include "infer/likelihood.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "core/error.h"
#include "eval/evaluator.h"
#include "tape/compiler.h"

namespace hs3fit::infer {

Dataset observed_dataset(const model::Model& m) {
  Dataset d;
  for (const model::Channel& c : m.channels) d.observed.push_back(c.observed);
  for (const model::Constraint& c : m.constraints) d.aux.push_back(c.aux);
  return d;
}

model::Model with_dataset(model::Model m, const Dataset& data) {
  if (data.observed.size() != m.channels.size() || data.aux.size() != m.constraints.size())
    throw Error(ErrorKind::Internal, "infer::with_dataset", "dataset does not match the model");
  for (size_t i = 0; i < m.channels.size(); ++i) {
    if (data.observed[i].size() != m.channels[i].observed.size())
      throw Error(ErrorKind::Internal, "infer::with_dataset", "dataset does not match channel " + m.channels[i].name);
    m.channels[i].observed = data.observed[i];
  }
  for (size_t j = 0; j < m.constraints.size(); ++j) m.constraints[j].aux = data.aux[j];
  return m;
}

bool usable(const fit::FitResult& r) { return r.converged || (std::isfinite(r.nll) && r.edm < 1e-4); }

fit::FitOptions inference_fit_options(double tolerance) {
  fit::FitOptions o;
  o.tolerance = tolerance;
  o.compute_covariance = false;
  return o;
}

Likelihood::Likelihood(model::Model m, fit::FitOptions options)
    : model_(std::move(m)), options_(options), tape_(std::make_unique<tape::Tape>(tape::compile(model_))),
      evaluator_(std::make_unique<eval::Evaluator>(*tape_)) {
  // The Hessian's sparsity pattern: cheap Hessians and sparse Newton steps for large models.
  if (options_.hessian_structure.empty()) options_.hessian_structure = tape_->parameter_coupling();
  eval::Evaluator* ev = evaluator_.get();
  objective_ = [ev](const double* x, double* g) { return g ? ev->nll_and_gradient(x, g) : ev->nll(x); };
}

Likelihood::Likelihood(model::Model m, fit::Objective objective, fit::FitOptions options, std::string no_datasets_why)
    : model_(std::move(m)), options_(std::move(options)), objective_(std::move(objective)), no_datasets_why_(std::move(no_datasets_why)) {
  if (!objective_) throw Error(ErrorKind::Internal, "infer::Likelihood", "empty objective");
}

Likelihood::~Likelihood() = default;
Likelihood::Likelihood(Likelihood&&) noexcept = default;
Likelihood& Likelihood::operator=(Likelihood&&) noexcept = default;

double Likelihood::nll(const std::vector<double>& x) { return objective_(x.data(), nullptr); }

fit::FitResult Likelihood::minimize(const std::vector<FixedValue>& fixed, const std::vector<double>& start) {
  std::vector<model::Parameter> params = model_.parameters;
  if (!start.empty()) {
    for (size_t i = 0; i < params.size(); ++i) {
      model::Parameter& p = params[i];
      if (!p.fixed) p.init = std::clamp(start[i], p.lo, p.hi);
    }
  }
  for (const FixedValue& f : fixed) {
    params[f.param].fixed = true;
    params[f.param].init = f.value;
  }
  return fit::minimize(objective_, params, options_);
}

Dataset Likelihood::expected(const std::vector<double>& x) {
  if (!evaluator_) throw Error(ErrorKind::Usage, "", no_datasets_why_);
  evaluator_->nll(x.data());
  Dataset d;
  for (size_t c = 0; c < model_.channels.size(); ++c) d.observed.push_back(evaluator_->channel_yields(c));
  for (const model::Constraint& c : model_.constraints)
    d.aux.push_back(c.kind == model::ConstraintKind::Gaussian ? x[c.param] : x[c.param] * c.tau);
  return d;
}

Likelihood Likelihood::with_data(const Dataset& data) const {
  if (!evaluator_) throw Error(ErrorKind::Usage, "", no_datasets_why_);
  return Likelihood(with_dataset(model_, data), options_);
}

Likelihood Likelihood::asimov(const std::vector<double>& x) {
  if (evaluator_) return with_data(expected(x));
  if (!asimov_factory_) throw Error(ErrorKind::Usage, "", no_datasets_why_);
  auto [params, objective] = asimov_factory_(x);
  model::Model m = model_;  // this likelihood's bounds and flags; the Asimov values of the fixed parameters
  for (size_t i = 0; i < m.parameters.size() && i < params.size(); ++i)
    if (m.parameters[i].fixed) m.parameters[i].init = params[i].init;
  Likelihood out(std::move(m), std::move(objective), options_, no_datasets_why_);
  return out;
}

Likelihood Likelihood::with_parameters(std::vector<model::Parameter> parameters) const {
  model::Model m = model_;
  if (parameters.size() != m.parameters.size()) throw Error(ErrorKind::Internal, "infer::Likelihood::with_parameters", "parameter count");
  m.parameters = std::move(parameters);
  if (evaluator_) return Likelihood(std::move(m), options_);
  Likelihood out(std::move(m), objective_, options_, no_datasets_why_);
  out.asimov_factory_ = asimov_factory_;
  return out;
}

Profile::Profile(Likelihood& likelihood, uint32_t param, const fit::FitResult& start)
    : likelihood_(likelihood), param_(param) {
  starts_[start.values[param]] = start.values;
}

fit::FitResult Profile::at(double value) {
  auto it = starts_.lower_bound(value);
  if (it == starts_.end() || (it != starts_.begin() && value - std::prev(it)->first < it->first - value)) --it;
  fit::FitResult r = likelihood_.minimize({{param_, value}}, it->second);
  ++fits_;
  if (usable(r)) starts_[value] = r.values;
  return r;
}

}  // namespace hs3fit::infer
