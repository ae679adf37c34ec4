// The minimizer: Ceres L-BFGS on the exact gradient in Minuit's internal (bounded → unbounded)
// coordinates, polished by damped Newton steps with the Hessian from finite differences of the
// exact gradient; convergence judged by Minuit's EDM; covariance from the Hessian at the
// minimum. Options/Result read like Ceres' Solver::Options / Solver::Summary.
//
// Large models: with the Hessian's sparsity pattern (FitOptions::hessian_structure, from
// tape::Tape::parameter_coupling()) a Hessian costs two gradients per colour of a column
// colouring (parameters that never share a bin are perturbed together; parameters coupled to
// most others get a column of their own) instead of two per parameter, and Newton steps, the
// EDM and the errors use a sparse Cholesky factorisation (AMD ordering) instead of a dense
// O(n³) one. Without the pattern, models above max_dense_parameters are judged by an EDM from
// conjugate gradients on Hessian-vector products and get no covariance.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "model/model.h"

namespace hs3fit::fit {

// f(x) for the full parameter vector x; writes ∇f into `gradient` when it is not null.
using Objective = std::function<double(const double* x, double* gradient)>;

struct FitOptions {
  // EDM goal = 0.002 · tolerance · errordef (Minuit2's rule), errordef = 0.5 for an NLL.
  double tolerance = 1e-4;
  double errordef = 0.5;
  int max_iterations = 20000;      // L-BFGS iterations per attempt
  int max_newton_steps = 20;       // Newton polishing steps per attempt
  int max_attempts = 3;            // starting strategies tried before giving up
  bool compute_covariance = true;  // Hessian, errors and correlations at the minimum
  // Without hessian_structure: dense Newton polishing (2n gradients + an n³ solve per step)
  // only up to this many free parameters; above it L-BFGS must reach the EDM goal, judged by
  // conjugate gradients on Hessian-vector products.
  size_t max_dense_parameters = 3000;
  // Sparsity pattern of the Hessian over all parameters (row i: every j with ∂²f/∂θ_i∂θ_j
  // possibly ≠ 0, i included), e.g. tape.parameter_coupling(); empty = unknown (dense).
  std::vector<std::vector<uint32_t>> hessian_structure;
  // The full covariance matrix (FitResult::covariance) is computed up to this many free
  // parameters; above it only the errors (the diagonal, by selected inversion) are.
  size_t max_covariance_parameters = 4000;
};

struct FitResult {
  std::vector<double> values;   // every parameter (fixed ones at their value)
  std::vector<double> errors;   // symmetric (HESSE-like) errors; 0 for fixed parameters
  std::vector<uint32_t> free;   // indices of the free parameters (rows of `covariance`)
  Eigen::MatrixXd covariance;   // free × free (empty above FitOptions::max_covariance_parameters)
  double nll = 0;
  double edm = 0;
  double edm_goal = 0;
  bool converged = false;             // EDM below goal at a finite minimum
  bool covariance_valid = false;      // Hessian computed and positive definite
  bool covariance_forced_posdef = false;
  std::vector<std::string> at_limit;  // free parameters sitting on a bound
  int iterations = 0;                 // L-BFGS iterations + Newton steps, all attempts
  int function_evaluations = 0;       // objective calls (each with gradient)
  int attempts = 0;                   // starting strategies used
  int hessians = 0;                   // Hessians computed (Newton steps and HESSE)
  int hessian_colors = 0;             // gradient pairs per Hessian (free parameters if dense)
  std::string status;                 // "Valid Minimum", "EDM above goal", ...
  std::string strategy;               // the strategy that produced the result
  double time_minimize_s = 0;
  double time_hessian_s = 0;
};

struct HesseResult {
  std::vector<double> errors;  // every parameter; 0 for fixed ones
  std::vector<uint32_t> free;
  Eigen::MatrixXd covariance;  // free × free (empty above max_covariance_parameters)
  bool valid = false;          // Hessian positive definite
  bool forced_posdef = false;
};

// Errors and covariance at the point x (all parameters), as Minuit's HESSE reports them:
// the Hessian inverted in internal (bound-transformed) coordinates, errors mapped back with
// Minuit's Int2extError, covariance with the Jacobian. Away from bounds this is H⁻¹.
HesseResult hesse(const Objective& objective, const std::vector<model::Parameter>& parameters, const std::vector<double>& x,
                  double errordef = 0.5);
// The same with FitOptions' errordef, hessian_structure and max_covariance_parameters.
HesseResult hesse(const Objective& objective, const std::vector<model::Parameter>& parameters, const std::vector<double>& x,
                  const FitOptions& options);

FitResult minimize(const Objective& objective, const std::vector<model::Parameter>& parameters,
                   const FitOptions& options = {});

// Hessian of f from central differences of its exact gradient (one-sided at bounds),
// symmetrised. `x` full vector; only rows/columns of `free` are computed.
Eigen::MatrixXd gradient_fd_hessian(const Objective& objective, const std::vector<double>& x,
                                    const std::vector<uint32_t>& free, const std::vector<model::Parameter>& parameters,
                                    int* evaluations = nullptr);

}  // namespace hs3fit::fit
