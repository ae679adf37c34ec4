// What analysts look at around a fit: pulls and constraints of the nuisance parameters, the
// impact of each nuisance parameter on the POI (pre- and post-fit ±1σ shifts, ranked, as
// Combine's impacts and cabinetry's ranking), and expected yields with uncertainties from
// linear error propagation with the exact Jacobian of the yields. Conventions: docs/impacts.md.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "fit/minimizer.h"
#include "infer/likelihood.h"
#include "infer/shards.h"
#include "model/model.h"
#include "model/yields.h"

namespace hs3fit::infer {

// ------------------------------------------------------------------------------ pulls

// The pre-fit centre θ0 and width Δθ a constraint term implies for its parameter:
//   Gaussian N(a | θ, σ):    θ0 = a,   Δθ = σ
//   Poisson Pois(a | θ·τ):   θ0 = a/τ, Δθ = 1/√τ   (shapesys; pyhf's width() of a Poisson set)
// Unconstrained parameters (normfactor, shapefactor, free parameters of HS3) have none.
struct PrefitWidth {
  bool constrained = false;
  model::ConstraintKind kind = model::ConstraintKind::Gaussian;
  double center = 0, width = 0;
};
// One entry per parameter (unconstrained ones: constrained = false).
std::vector<PrefitWidth> prefit_widths(const model::Model& m);

struct Pull {
  uint32_t param = 0;
  std::string name;
  bool constrained = false;  // false: a free unconstrained parameter (value ± error only)
  model::ConstraintKind kind = model::ConstraintKind::Gaussian;
  double center = 0, prefit_width = 0;  // θ0, Δθ (constrained only)
  double value = 0, error = 0;          // θ̂, σ̂ (HESSE; NaN without covariance)
  double pull = 0;                      // (θ̂ − θ0)/Δθ (NaN if unconstrained)
  double constraint = 0;                // σ̂/Δθ        (NaN if unconstrained)
};

// Every free parameter of the fit except the POI, in model order; fixed parameters are left out.
std::vector<Pull> pulls(const model::Model& m, const fit::FitResult& fit);

// ------------------------------------------------------------------------------ impacts

struct ImpactOptions {
  size_t top = 0;                  // keep the N highest-ranked (0 = all); every parameter is still fitted
  std::vector<std::string> only;   // restrict to these parameters (empty = every free non-POI one)
  // Each conditional fit first takes Newton steps with the nominal minimum's Hessian (one
  // gradient each). If those reach EDM < 1e-3 × the EDM goal (MIGRAD's criterion with that
  // Hessian as its approximate covariance) the point is taken; otherwise, or always with
  // verify_fits, fit::minimize continues from it and its own EDM/HESSE check decides.
  bool verify_fits = false;
};

struct Impact {
  Pull pull;                       // the parameter, its pull and constraint
  double prefit_up = 0, prefit_down = 0;    // Δμ = μ̂(θ fixed at θ̂ ± Δθ_prefit) − μ̂ (NaN if unconstrained)
  double postfit_up = 0, postfit_down = 0;  // Δμ = μ̂(θ fixed at θ̂ ± σ̂) − μ̂
  // The values θ was fixed at (after clamping to the parameter's bounds).
  double prefit_up_at = 0, prefit_down_at = 0, postfit_up_at = 0, postfit_down_at = 0;
  bool converged = true;           // every conditional fit usable (infer::usable)
  std::vector<std::string> failed; // which shifts failed: "prefit_up", ... (their Δμ is NaN)
  int fits = 0;
  int minimizer_fits = 0;          // of which finished by fit::minimize
  size_t item = 0;                 // position among the computed parameters (impact_parameters order)
  double rank_key() const;         // max(|postfit_up|, |postfit_down|); NaN treated as +∞ (shown first)
};

struct ImpactsResult {
  uint32_t poi = 0;
  fit::FitResult nominal;          // the free fit (with covariance)
  double poi_hat = 0, poi_error = 0;
  std::vector<Impact> impacts;     // sorted by rank_key(), largest first; then cut to options.top
  size_t ranked = 0;               // how many were computed before the cut
  int fits = 0;                    // conditional fits
  int minimizer_fits = 0;          // of which finished by fit::minimize (the rest by Newton steps on the nominal Hessian)
  bool converged = true;           // nominal fit and every conditional fit usable
  double time_nominal_s = 0, time_impacts_s = 0;
};

// Nominal fit (with HESSE) then, for each nuisance parameter, four conditional fits with it
// fixed at θ̂ ± σ̂ and θ̂ ± Δθ_prefit, each started from the nominal best-fit point.
// Throws Error(Usage) when the model has no POI or the POI is fixed.
ImpactsResult impacts(const model::Model& m, const fit::FitOptions& fit_options, const ImpactOptions& options = {});

// Sort by rank_key (largest first, ties by model order).
void rank_impacts(std::vector<Impact>& impacts);

// The parameters impacts are computed for, in model order (every free parameter except the
// POI) or in --parameters order. Error(Usage) when the model has no free POI or a named
// parameter is fixed or the POI. Depends on the model only (not on the fit).
std::vector<uint32_t> impact_parameters(const model::Model& m, const ImpactOptions& options);

// impacts() step by step, for sharded runs: the constructor does the nominal fit (with HESSE)
// and prepares the conditional fits; compute(k) does the four fits of parameter k of
// impact_parameters() — each from the nominal minimum, so the result does not depend on which
// other parameters were computed (or in which process).
class ImpactsRun {
 public:
  ImpactsRun(const model::Model& m, const fit::FitOptions& fit_options, const ImpactOptions& options);
  ~ImpactsRun();
  ImpactsRun(const ImpactsRun&) = delete;
  ImpactsRun& operator=(const ImpactsRun&) = delete;
  // poi, nominal, poi_hat, poi_error, converged (= the nominal fit usable), time_nominal_s; no impacts yet.
  const ImpactsResult& nominal() const;
  const std::vector<Pull>& selected() const;  // one per impact_parameters() entry
  Impact compute(size_t k);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Add the impacts to `r` (fits, minimizer_fits, converged), rank them (rank_impacts) and keep
// the first `top` (0 = all); r.ranked = how many there were.
void finish_impacts(ImpactsResult& r, std::vector<Impact> impacts, size_t top);

// ------------------------------------------------------------------------------ sharded impacts
// `hs3fit impacts --shard I/N -o DIR` / `hs3fit merge DIR` (files and rules: shards.h,
// docs/batch.md). Item k = parameter k of impact_parameters(); it belongs to shard (k mod N)+1.
// Every shard repeats the nominal fit (deterministic; merge checks that the shards agree).
// A checkpoint line per finished parameter; a rerun resumes. The merged result is ranked by
// rank_impacts() like the single-process run and equal to it bit for bit (timings aside).

struct ImpactsShardRun {
  std::string path;               // the shard file
  size_t items = 0;               // parameters of this shard
  int computed = 0, resumed = 0;  // computed now / read back from the checkpoint
  bool already_complete = false;  // the shard file existed: nothing was done (not even the nominal fit)
};
// Run (or resume) one shard. The manifest must already be written or checked.
ImpactsShardRun run_impacts_shard(const model::Model& m, const fit::FitOptions& fit_options, const ImpactOptions& options,
                                  const std::string& dir, const shards::Shard& shard, const std::string& manifest_hash);

struct MergedImpacts {
  std::string workspace, measurement, poi;
  ImpactsResult result;            // ranked and cut to the manifest's --top; result.poi = 0 (the POI's name is `poi`)
  bool nominal_usable = false;
  std::vector<std::string> problems;  // empty: complete and consistent
  int shards = 0;
};
MergedImpacts merge_impacts(const std::string& dir);

// ------------------------------------------------------------------------------ yields

// Expected yields per channel and sample (model::expected_yields) with uncertainties from
// linear error propagation: σ²(y) = ∇yᵀ C ∇y with the exact gradient of y.
struct YieldErrors {
  // Same layout as model::ChannelYields: per channel, per sample: per bin and total;
  // per channel: expected per bin and total.
  struct Sample { std::vector<double> bins; double total = 0; };
  struct Channel { std::vector<Sample> samples; std::vector<double> expected; double expected_total = 0; };
  std::vector<Channel> channels;
};

// Post-fit: C = the fit's covariance (free parameters). Pre-fit: C = diag(Δθ²) from the
// constraints (cabinetry's convention; unconstrained parameters contribute nothing).
YieldErrors yield_errors(const model::Model& m, const std::vector<double>& x, const std::vector<uint32_t>& free,
                         const Eigen::MatrixXd& covariance);
YieldErrors prefit_yield_errors(const model::Model& m);

// Gradient of every sample-bin yield: result[channel][sample][bin] = sparse (param, ∂y/∂θ).
using SparseGradient = std::vector<std::pair<uint32_t, double>>;
std::vector<std::vector<std::vector<SparseGradient>>> yield_gradients(const model::Model& m, const std::vector<double>& x);

}  // namespace hs3fit::infer
