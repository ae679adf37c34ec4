#include "fit/minimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <ceres/gradient_problem.h>
#include <ceres/gradient_problem_solver.h>
#include <glog/logging.h>
#include <spdlog/spdlog.h>

namespace hs3fit::fit {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Ceres logs through glog: keep it on stderr and quiet unless something is wrong.
void quiet_glog() {
  static bool done = false;
  if (done) return;
  done = true;
  if (!google::IsGoogleLoggingInitialized()) google::InitGoogleLogging("hs3fit");
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_ERROR;
}

// Minuit's transformations between a bounded external parameter x and an unbounded internal
// one t (MINUIT/Minuit2 SinParameterTransformation, SqrtLow/UpParameterTransformation).
// Unbounded parameters are scaled by their a-priori step so t is in units of the error.
struct Transform {
  enum class Kind { None, Lower, Upper, Both } kind = Kind::None;
  double lo = 0, hi = 0, scale = 1;

  double external(double t) const {
    switch (kind) {
      case Kind::None: return t * scale;
      case Kind::Lower: return lo - 1 + std::sqrt(t * t + 1);
      case Kind::Upper: return hi + 1 - std::sqrt(t * t + 1);
      case Kind::Both: return lo + 0.5 * (hi - lo) * (std::sin(t) + 1);
    }
    return t;
  }
  double internal(double x) const {
    switch (kind) {
      case Kind::None: return x / scale;
      case Kind::Lower: { double u = x - lo + 1; return u > 1 ? std::sqrt(u * u - 1) : 0.0; }
      case Kind::Upper: { double u = hi - x + 1; return u > 1 ? std::sqrt(u * u - 1) : 0.0; }
      case Kind::Both: return std::asin(std::clamp(2 * (x - lo) / (hi - lo) - 1, -1.0, 1.0));
    }
    return x;
  }
  double dx_dt(double t) const {
    switch (kind) {
      case Kind::None: return scale;
      case Kind::Lower: return t / std::sqrt(t * t + 1);
      case Kind::Upper: return -t / std::sqrt(t * t + 1);
      case Kind::Both: return 0.5 * (hi - lo) * std::cos(t);
    }
    return 1;
  }
  double d2x_dt2(double t) const {
    switch (kind) {
      case Kind::None: return 0;
      case Kind::Lower: return 1 / std::pow(t * t + 1, 1.5);
      case Kind::Upper: return -1 / std::pow(t * t + 1, 1.5);
      case Kind::Both: return -0.5 * (hi - lo) * std::sin(t);
    }
    return 0;
  }
};

// The problem in internal coordinates of the free parameters.
class Problem {
 public:
  Problem(const Objective& f, const std::vector<model::Parameter>& params) : f_(f), params_(params) {
    x_.resize(params.size());
    g_.resize(params.size());
    for (uint32_t i = 0; i < params.size(); ++i) {
      x_[i] = params[i].init;
      if (params[i].fixed) continue;
      free_.push_back(i);
      Transform tr;
      const auto& p = params[i];
      bool has_lo = std::isfinite(p.lo), has_hi = std::isfinite(p.hi);
      tr.kind = has_lo && has_hi ? Transform::Kind::Both
                : has_lo         ? Transform::Kind::Lower
                : has_hi         ? Transform::Kind::Upper
                                 : Transform::Kind::None;
      tr.lo = p.lo;
      tr.hi = p.hi;
      tr.scale = p.step > 0 ? p.step : 1.0;
      transforms_.push_back(tr);
    }
  }

  size_t n() const { return free_.size(); }
  const std::vector<uint32_t>& free() const { return free_; }
  const std::vector<model::Parameter>& params() const { return params_; }
  const Transform& transform(size_t j) const { return transforms_[j]; }
  int evaluations() const { return evaluations_; }

  // Internal starting point; a start exactly on a bound is moved inside (the transform's
  // derivative vanishes there, which would freeze the parameter).
  Eigen::VectorXd initial_internal() const {
    Eigen::VectorXd t(n());
    for (size_t j = 0; j < n(); ++j) {
      const auto& p = params_[free_[j]];
      double x = p.init;
      const double width = std::isfinite(p.hi - p.lo) ? p.hi - p.lo : 0.0;
      const double nudge = width > 0 ? std::min(1e-2 * width, 0.1 * p.step) : 0.1 * p.step;
      if (std::isfinite(p.lo) && x <= p.lo) x = p.lo + nudge;
      if (std::isfinite(p.hi) && x >= p.hi) x = p.hi - nudge;
      t[j] = transforms_[j].internal(x);
    }
    return t;
  }

  void to_external(const double* t, std::vector<double>& x) const {
    x = x_;
    for (size_t j = 0; j < n(); ++j) x[free_[j]] = transforms_[j].external(t[j]);
  }

  // f and internal gradient; false when f is not finite.
  bool evaluate(const double* t, double* f, double* g_int) {
    to_external(t, scratch_);
    ++evaluations_;
    double v = f_(scratch_.data(), g_int ? g_.data() : nullptr);
    if (!std::isfinite(v)) return false;
    *f = v;
    if (g_int) {
      for (size_t j = 0; j < n(); ++j) {
        g_int[j] = g_[free_[j]] * transforms_[j].dx_dt(t[j]);
        if (!std::isfinite(g_int[j])) return false;
      }
    }
    return true;
  }

  double value(const Eigen::VectorXd& t) {
    double f;
    return evaluate(t.data(), &f, nullptr) ? f : std::numeric_limits<double>::infinity();
  }

  // External gradient (full vector) at internal point t.
  double external_gradient(const Eigen::VectorXd& t, std::vector<double>& x, std::vector<double>& g) {
    to_external(t.data(), x);
    g.assign(x.size(), 0.0);
    ++evaluations_;
    return f_(x.data(), g.data());
  }

  const Objective& objective() const { return f_; }
  void count(int k) { evaluations_ += k; }

 private:
  const Objective& f_;
  const std::vector<model::Parameter>& params_;
  std::vector<uint32_t> free_;
  std::vector<Transform> transforms_;
  std::vector<double> x_, g_, scratch_;
  int evaluations_ = 0;
};

class CeresAdapter : public ceres::FirstOrderFunction {
 public:
  explicit CeresAdapter(Problem& p) : p_(p) {}
  bool Evaluate(const double* t, double* cost, double* gradient) const override {
    return p_.evaluate(t, cost, gradient);
  }
  int NumParameters() const override { return static_cast<int>(p_.n()); }

 private:
  Problem& p_;
};

// Run Ceres L-BFGS from t (updated in place); returns iterations used.
int run_lbfgs(Problem& problem, Eigen::VectorXd& t, const FitOptions& opt) {
  if (problem.n() == 0) return 0;
  ceres::GradientProblemSolver::Options o;
  o.line_search_direction_type = ceres::LBFGS;
  o.line_search_type = ceres::WOLFE;
  o.max_lbfgs_rank = 20;
  o.use_approximate_eigenvalue_bfgs_scaling = true;
  o.max_num_iterations = opt.max_iterations;
  o.function_tolerance = 1e-15;
  o.gradient_tolerance = 1e-10;
  o.parameter_tolerance = 1e-15;
  o.logging_type = ceres::SILENT;
  o.minimizer_progress_to_stdout = false;
  ceres::GradientProblem gp(new CeresAdapter(problem));
  ceres::GradientProblemSolver::Summary summary;
  Eigen::VectorXd start = t;
  ceres::Solve(o, gp, t.data(), &summary);
  spdlog::debug("L-BFGS: {} ({} iterations, cost {} -> {})", summary.message, summary.iterations.size(),
                summary.initial_cost, summary.final_cost);
  if (!std::isfinite(summary.final_cost) || summary.termination_type == ceres::FAILURE) {
    // Keep the better of start and result.
    if (!(problem.value(t) <= problem.value(start))) t = start;
  }
  return static_cast<int>(summary.iterations.size());
}

struct Curvature {
  Eigen::MatrixXd h_ext;  // external Hessian (free × free)
  Eigen::MatrixXd h_int;  // internal Hessian
  Eigen::VectorXd g_int;
  double f = 0;
};

Curvature curvature(Problem& problem, const Eigen::VectorXd& t) {
  Curvature c;
  std::vector<double> x, g;
  c.f = problem.external_gradient(t, x, g);
  int evals = 0;
  c.h_ext = gradient_fd_hessian(problem.objective(), x, problem.free(), problem.params(), &evals);
  problem.count(evals);
  const size_t n = problem.n();
  Eigen::VectorXd J(n), D(n);
  c.g_int.resize(n);
  for (size_t j = 0; j < n; ++j) {
    J[j] = problem.transform(j).dx_dt(t[j]);
    D[j] = g[problem.free()[j]] * problem.transform(j).d2x_dt2(t[j]);
    c.g_int[j] = g[problem.free()[j]] * J[j];
  }
  c.h_int = J.asDiagonal() * c.h_ext * J.asDiagonal();
  c.h_int.diagonal() += D;
  return c;
}

// Solve (H + λ·diag) Δ = −g with the smallest λ ≥ 0 that makes the matrix positive definite.
Eigen::VectorXd damped_newton_direction(const Eigen::MatrixXd& h, const Eigen::VectorXd& g, double lambda0, bool* was_pd) {
  const size_t n = static_cast<size_t>(g.size());
  Eigen::VectorXd diag = h.diagonal().cwiseAbs().cwiseMax(1e-12);
  double lambda = lambda0;
  *was_pd = lambda0 == 0;
  for (int k = 0; k < 60; ++k) {
    Eigen::MatrixXd m = h;
    if (lambda > 0) m.diagonal() += lambda * diag;
    Eigen::LLT<Eigen::MatrixXd> llt(m);
    if (llt.info() == Eigen::Success) {
      Eigen::VectorXd d = llt.solve(-g);
      if (d.allFinite()) return d;
    }
    *was_pd = false;
    lambda = lambda == 0 ? 1e-8 : lambda * 10;
  }
  return -g.cwiseQuotient(diag);
  (void)n;
}

double edm_of(const Eigen::MatrixXd& h_int, const Eigen::VectorXd& g_int) {
  bool pd;
  Eigen::VectorXd d = damped_newton_direction(h_int, g_int, 0.0, &pd);
  return -0.5 * g_int.dot(d);
}

struct Attempt {
  Eigen::VectorXd t;
  double f = std::numeric_limits<double>::infinity();
  double edm = std::numeric_limits<double>::infinity();
  bool converged = false;
  int iterations = 0;
  Curvature curv;
  bool have_curv = false;
};

// Damped Newton polishing in internal coordinates until EDM < goal.
void newton_polish(Problem& problem, Attempt& a, const FitOptions& opt, double goal, int max_steps) {
  for (int step = 0; step <= max_steps; ++step) {
    a.curv = curvature(problem, a.t);
    a.have_curv = true;
    a.f = a.curv.f;
    a.edm = edm_of(a.curv.h_int, a.curv.g_int);
    spdlog::debug("Newton step {}: f = {:.12f}, EDM = {:.3g}", step, a.f, a.edm);
    if (a.edm < goal) { a.converged = true; return; }
    if (step == max_steps) return;
    bool pd;
    double lambda = 0;
    bool improved = false;
    for (int tries = 0; tries < 8 && !improved; ++tries) {
      Eigen::VectorXd d = damped_newton_direction(a.curv.h_int, a.curv.g_int, lambda, &pd);
      double slope = a.curv.g_int.dot(d);
      double alpha = 1.0;
      for (int ls = 0; ls < 30; ++ls, alpha *= 0.5) {
        Eigen::VectorXd trial = a.t + alpha * d;
        double ft = problem.value(trial);
        if (ft <= a.f + 1e-4 * alpha * slope || (ft < a.f && ls > 0)) {
          a.t = trial;
          improved = true;
          break;
        }
      }
      lambda = lambda == 0 ? 1e-3 : lambda * 100;
    }
    ++a.iterations;
    (void)opt;
    if (!improved) return;  // no descent possible: stay, EDM says how far we are
  }
}

Attempt run_attempt(Problem& problem, const Eigen::VectorXd& start, const FitOptions& opt, double goal, bool use_lbfgs,
                    int newton_steps) {
  Attempt a;
  a.t = start;
  if (use_lbfgs) a.iterations += run_lbfgs(problem, a.t, opt);
  if (problem.n() <= opt.max_dense_parameters) {
    newton_polish(problem, a, opt, goal, newton_steps);
  } else {
    a.f = problem.value(a.t);
    a.edm = std::numeric_limits<double>::quiet_NaN();
    a.converged = std::isfinite(a.f);
  }
  return a;
}

// Covariance and errors the way Minuit reports them (see minimize()).
HesseResult minuit_covariance(Problem& problem, const Eigen::VectorXd& best_t, const Curvature& curv, double errordef) {
  HesseResult r;
  r.free = problem.free();
  const size_t n = problem.n();
  r.errors.assign(problem.params().size(), 0.0);
  const auto N = static_cast<Eigen::Index>(n);
  Eigen::MatrixXd h = curv.h_int * (1.0 / (2.0 * errordef));
  Eigen::MatrixXd v_int;
  Eigen::LLT<Eigen::MatrixXd> llt(h);
  if (llt.info() == Eigen::Success && h.allFinite()) {
    v_int = llt.solve(Eigen::MatrixXd::Identity(N, N));
    r.valid = true;
  } else if (h.allFinite()) {
    // Minuit's MnPosDef: scale to unit diagonal, lift non-positive eigenvalues, flag it.
    Eigen::VectorXd d = h.diagonal().cwiseAbs().cwiseMax(1e-300).cwiseSqrt().cwiseInverse();
    Eigen::MatrixXd scaled = d.asDiagonal() * h * d.asDiagonal();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(scaled);
    Eigen::VectorXd ev = es.eigenvalues();
    const double floor = 1e-3 * std::max(ev.maxCoeff(), 1e-300);
    for (Eigen::Index i = 0; i < ev.size(); ++i) ev[i] = std::max(ev[i], floor);
    v_int = d.asDiagonal() * (es.eigenvectors() * ev.cwiseInverse().asDiagonal() * es.eigenvectors().transpose()) * d.asDiagonal();
    r.forced_posdef = true;
  }
  if (v_int.size() == 0) return r;
  Eigen::VectorXd J(N);
  for (size_t j = 0; j < n; ++j) J[static_cast<Eigen::Index>(j)] = problem.transform(j).dx_dt(best_t[static_cast<Eigen::Index>(j)]);
  r.covariance = J.asDiagonal() * v_int * J.asDiagonal();
  for (size_t j = 0; j < n; ++j) {
    const auto jj = static_cast<Eigen::Index>(j);
    const Transform& tr = problem.transform(j);
    const double t = best_t[jj], sigma = std::sqrt(std::max(0.0, v_int(jj, jj)));
    const double x0 = tr.external(t);
    double up = std::fabs(tr.external(t + sigma) - x0), down = std::fabs(tr.external(t - sigma) - x0);
    if (tr.kind == Transform::Kind::Both && sigma > 1) up = tr.hi - tr.lo;
    r.errors[r.free[j]] = 0.5 * (up + down);
  }
  return r;
}

}  // namespace

HesseResult hesse(const Objective& objective, const std::vector<model::Parameter>& parameters, const std::vector<double>& x,
                  double errordef) {
  quiet_glog();
  std::vector<model::Parameter> at_x = parameters;
  for (size_t i = 0; i < at_x.size(); ++i) at_x[i].init = x[i];
  Problem problem(objective, at_x);
  Eigen::VectorXd t(static_cast<Eigen::Index>(problem.n()));
  for (size_t j = 0; j < problem.n(); ++j) t[static_cast<Eigen::Index>(j)] = problem.transform(j).internal(x[problem.free()[j]]);
  return minuit_covariance(problem, t, curvature(problem, t), errordef);
}

Eigen::MatrixXd gradient_fd_hessian(const Objective& objective, const std::vector<double>& x0,
                                    const std::vector<uint32_t>& free, const std::vector<model::Parameter>& parameters,
                                    int* evaluations) {
  const size_t n = free.size();
  Eigen::MatrixXd h(n, n);
  std::vector<double> x = x0, gp(x0.size()), gm(x0.size());
  int evals = 0;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t i = free[j];
    const auto& p = parameters[i];
    double step = 1e-5 * std::max(1.0, std::fabs(x0[i]));
    double up = step, down = step;
    // One-sided differences where a bound is closer than the step.
    if (x0[i] + up > p.hi) up = 0;
    if (x0[i] - down < p.lo) down = 0;
    if (up == 0 && down == 0) up = down = 0.5 * std::min(p.hi - x0[i], x0[i] - p.lo);
    if (up == 0 && down == 0) { h.col(static_cast<Eigen::Index>(j)).setZero(); continue; }
    x[i] = x0[i] + up;
    objective(x.data(), gp.data());
    x[i] = x0[i] - down;
    objective(x.data(), gm.data());
    evals += 2;
    x[i] = x0[i];
    for (size_t k = 0; k < n; ++k) h(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(j)) = (gp[free[k]] - gm[free[k]]) / (up + down);
  }
  if (evaluations) *evaluations = evals;
  return 0.5 * (h + h.transpose());
}

FitResult minimize(const Objective& objective, const std::vector<model::Parameter>& parameters, const FitOptions& opt) {
  quiet_glog();
  const auto t0 = Clock::now();
  Problem problem(objective, parameters);
  FitResult r;
  r.free = problem.free();
  r.edm_goal = 0.002 * opt.tolerance * opt.errordef;

  Eigen::VectorXd start = problem.initial_internal();
  Attempt best;
  struct Strategy { const char* name; bool lbfgs; int newton_steps; bool from_best; };
  const Strategy strategies[] = {
      {"L-BFGS + Newton", true, opt.max_newton_steps, false},
      {"L-BFGS restart from best point + Newton", true, 5 * opt.max_newton_steps, true},
      {"damped Newton from the initial point", false, 10 * opt.max_newton_steps, false},
  };
  const int n_attempts = std::clamp(opt.max_attempts, 1, 3);
  for (int k = 0; k < n_attempts; ++k) {
    const Strategy& s = strategies[k];
    if (s.from_best && !std::isfinite(best.f)) continue;
    Attempt a = run_attempt(problem, s.from_best ? best.t : start, opt, r.edm_goal, s.lbfgs, s.newton_steps);
    ++r.attempts;
    r.iterations += a.iterations;
    spdlog::debug("strategy '{}': f = {:.12g}, EDM = {:.3g}, converged = {}", s.name, a.f, a.edm, a.converged);
    if (k == 0 || a.f < best.f - 1e-12 || (a.converged && !best.converged && a.f <= best.f + 1e-9)) {
      best = a;
      r.strategy = s.name;
    }
    if (best.converged) break;
    spdlog::info("fit not converged with strategy '{}' (EDM {:.3g} > goal {:.3g}); trying another", s.name, a.edm, r.edm_goal);
  }

  std::vector<double> x;
  problem.to_external(best.t.data(), x);
  r.values = x;
  r.nll = best.f;
  r.edm = best.edm;
  r.converged = best.converged && std::isfinite(best.f);
  r.time_minimize_s = seconds_since(t0);

  // Covariance the way Minuit (and so ROOT, pyhf, iminuit) reports it: invert the Hessian in
  // internal coordinates, V_int = (J H J + diag(g·x''))⁻¹ (errordef 0.5 ⇒ V = H⁻¹), then
  //   covariance  V_ext = J V_int J                                  (MnUserTransformation::Int2extCovariance)
  //   errors      σ_i = ½(|x(t_i+σ_int) − x(t_i)| + |x(t_i−σ_int) − x(t_i)|)   (Int2extError)
  // For parameters away from their bounds this is exactly H_ext⁻¹; near a bound the transform
  // damps the parameter (a parameter on its limit is effectively held there).
  const size_t n = problem.n();
  r.errors.assign(parameters.size(), 0.0);
  const auto t1 = Clock::now();
  if (opt.compute_covariance && n > 0 && std::isfinite(best.f)) {
    if (!best.have_curv) {
      best.curv = curvature(problem, best.t);
      best.have_curv = true;
    }
    HesseResult hr = minuit_covariance(problem, best.t, best.curv, opt.errordef);
    r.covariance = std::move(hr.covariance);
    r.covariance_valid = hr.valid;
    r.covariance_forced_posdef = hr.forced_posdef;
    r.errors = std::move(hr.errors);
  }
  r.time_hessian_s = seconds_since(t1);

  for (size_t j = 0; j < n; ++j) {
    const auto& p = parameters[r.free[j]];
    const double v = x[r.free[j]];
    const double tol = 1e-6 * std::max({1.0, std::fabs(p.lo), std::fabs(p.hi)});
    if ((std::isfinite(p.lo) && v - p.lo < tol) || (std::isfinite(p.hi) && p.hi - v < tol)) r.at_limit.push_back(p.name);
  }
  r.function_evaluations = problem.evaluations();

  if (!std::isfinite(r.nll)) r.status = "Failed (NLL not finite)";
  else if (!r.converged) r.status = "EDM above goal";
  else if (r.covariance_forced_posdef) r.status = "Valid Minimum (covariance forced pos. def.)";
  else if (opt.compute_covariance && n > 0 && !r.covariance_valid) r.status = "Valid Minimum (no covariance)";
  else r.status = "Valid Minimum";
  return r;
}

}  // namespace hs3fit::fit
