#include "fit/minimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/SparseCholesky>
#include <ceres/gradient_problem.h>
#include <ceres/gradient_problem_solver.h>
#include <glog/logging.h>
#include <spdlog/spdlog.h>

namespace hs3fit::fit {

namespace {

using Clock = std::chrono::steady_clock;
using SparseMatrix = Eigen::SparseMatrix<double>;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
constexpr uint32_t kNone = 0xffffffffu;

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

// ---------------------------------------------------------------------------------------------
// How the Hessian is computed: columns of the free parameters perturbed together ("colours").
// Without a structure every column is its own colour (2n gradients, dense). With one, a
// parameter coupled to many others (a row longer than `cutoff`) is a column of its own, which
// also gives its whole row by symmetry; the other columns are grouped so that no two of a
// group meet in a row that is not such a dense row (greedy distance-2 colouring), so each
// such row gets one unknown per group.
struct HessianPlan {
  size_t n = 0;                                // free parameters
  bool sparse = false;                         // structure known and worth a sparse factorisation
  std::vector<std::vector<uint32_t>> rows;     // pattern over free parameters (sorted, with diagonal)
  std::vector<char> dense;                     // column computed alone (its row is complete)
  std::vector<std::vector<uint32_t>> groups;   // columns perturbed together
};

HessianPlan make_plan(const std::vector<uint32_t>& free, const std::vector<std::vector<uint32_t>>& structure,
                      size_t num_params) {
  HessianPlan plan;
  plan.n = free.size();
  const size_t n = plan.n;
  plan.dense.assign(n, 1);
  if (structure.size() != num_params || n == 0) {
    for (uint32_t j = 0; j < n; ++j) plan.groups.push_back({j});
    return plan;
  }
  std::vector<uint32_t> local(num_params, kNone);
  for (uint32_t j = 0; j < n; ++j) local[free[j]] = j;
  plan.rows.resize(n);
  size_t nnz = 0;
  for (uint32_t j = 0; j < n; ++j) {
    auto& row = plan.rows[j];
    for (uint32_t q : structure[free[j]])
      if (q < num_params && local[q] != kNone) row.push_back(local[q]);
    row.push_back(j);
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    nnz += row.size();
  }
  // Rows coupled to more than a tenth of the parameters (at least 64) are dense.
  const size_t cutoff = std::max<size_t>(64, n / 10);
  std::vector<uint32_t> order;
  for (uint32_t j = 0; j < n; ++j) {
    plan.dense[j] = plan.rows[j].size() > cutoff;
    if (plan.dense[j]) plan.groups.push_back({j});
    else order.push_back(j);
  }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return plan.rows[a].size() > plan.rows[b].size(); });
  std::vector<int> color(n, -1);
  std::vector<uint32_t> forbidden;  // stamp per colour
  uint32_t stamp = 0;
  for (uint32_t j : order) {
    ++stamp;
    for (uint32_t i : plan.rows[j]) {
      if (plan.dense[i]) continue;
      for (uint32_t k : plan.rows[i])
        if (!plan.dense[k] && color[k] >= 0) forbidden[static_cast<size_t>(color[k])] = stamp;
    }
    size_t c = 0;
    while (c < forbidden.size() && forbidden[c] == stamp) ++c;
    if (c == forbidden.size()) forbidden.push_back(0);
    color[j] = static_cast<int>(c);
  }
  const size_t first = plan.groups.size();
  for (uint32_t j : order) {
    const size_t g = first + static_cast<size_t>(color[j]);
    if (plan.groups.size() <= g) plan.groups.resize(g + 1);
    plan.groups[g].push_back(j);
  }
  // Sparse linear algebra pays off for larger, sparser problems.
  plan.sparse = n > 200 && static_cast<double>(nnz) < 0.3 * static_cast<double>(n) * static_cast<double>(n);
  return plan;
}

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
      t[static_cast<Eigen::Index>(j)] = transforms_[j].internal(x);
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

  // f and internal gradient into a vector (infinite f when not finite).
  double value_and_gradient(const Eigen::VectorXd& t, Eigen::VectorXd& g_int) {
    g_int.resize(static_cast<Eigen::Index>(n()));
    double f;
    return evaluate(t.data(), &f, g_int.data()) ? f : std::numeric_limits<double>::infinity();
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

// ---------------------------------------------------------------------------------------------
// The external Hessian over the free parameters from central differences of the exact gradient
// (one-sided at bounds), colour by colour; symmetrised. Steps as gradient_fd_hessian.
struct Steps {
  double up = 0, down = 0;
};
Steps fd_steps(const model::Parameter& p, double x) {
  const double step = 1e-5 * std::max(1.0, std::fabs(x));
  Steps s{step, step};
  if (x + s.up > p.hi) s.up = 0;
  if (x - s.down < p.lo) s.down = 0;
  if (s.up == 0 && s.down == 0) s.up = s.down = 0.5 * std::min(p.hi - x, x - p.lo);
  return s;
}

std::vector<Eigen::Triplet<double>> hessian_triplets(const Objective& objective, const std::vector<double>& x0,
                                                     const std::vector<uint32_t>& free,
                                                     const std::vector<model::Parameter>& parameters, const HessianPlan& plan,
                                                     int* evaluations) {
  const size_t n = free.size();
  std::vector<Eigen::Triplet<double>> out;
  std::vector<double> x = x0, gp(x0.size()), gm(x0.size());
  std::vector<Steps> steps(n);
  for (size_t j = 0; j < n; ++j) steps[j] = fd_steps(parameters[free[j]], x0[free[j]]);
  int evals = 0;
  const bool have_rows = !plan.rows.empty();
  for (const auto& group : plan.groups) {
    bool any = false;
    for (uint32_t j : group) any = any || steps[j].up + steps[j].down > 0;
    if (!any) continue;
    for (uint32_t j : group) x[free[j]] = x0[free[j]] + steps[j].up;
    objective(x.data(), gp.data());
    for (uint32_t j : group) x[free[j]] = x0[free[j]] - steps[j].down;
    objective(x.data(), gm.data());
    for (uint32_t j : group) x[free[j]] = x0[free[j]];
    evals += 2;
    for (uint32_t j : group) {
      const double h = steps[j].up + steps[j].down;
      if (h == 0) continue;
      auto entry = [&](uint32_t i) {
        const double v = (gp[free[i]] - gm[free[i]]) / h;
        if (i == j) {
          out.emplace_back(i, j, v);
        } else if (plan.dense[j] && !plan.dense[i]) {
          out.emplace_back(i, j, v);  // the only source of this pair
          out.emplace_back(j, i, v);
        } else if (!plan.dense[j] && plan.dense[i]) {
          // taken from dense column i
        } else {
          out.emplace_back(i, j, 0.5 * v);  // computed from both sides: average
          out.emplace_back(j, i, 0.5 * v);
        }
      };
      if (have_rows) {
        for (uint32_t i : plan.rows[j]) entry(i);
      } else {
        for (uint32_t i = 0; i < n; ++i) entry(i);
      }
    }
  }
  if (evaluations) *evaluations = evals;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Curvature in internal coordinates and its factorisation (dense LLT or sparse LLT with AMD).

struct Curvature {
  bool sparse = false;
  Eigen::MatrixXd h_dense;   // internal Hessian (dense problems)
  SparseMatrix h_sparse;     // internal Hessian (sparse problems)
  Eigen::VectorXd g_int;
  double f = 0;
  bool valid = false;
};

class Factorization {
 public:
  explicit Factorization(const Curvature& c) : c_(c) {
    const Eigen::Index n = c.g_int.size();
    diag_ = c.sparse ? Eigen::VectorXd(c.h_sparse.diagonal()) : Eigen::VectorXd(c.h_dense.diagonal());
    diag_ = diag_.cwiseAbs().cwiseMax(1e-12);
    if (c.sparse) sparse_.analyzePattern(c.h_sparse);
    (void)n;
  }
  // Factorise H + λ·diag(|H_ii|); false when not positive definite.
  bool factorize(double lambda) {
    if (c_.sparse) {
      SparseMatrix m = c_.h_sparse;
      if (lambda > 0)
        for (Eigen::Index i = 0; i < m.rows(); ++i) m.coeffRef(i, i) += lambda * diag_[i];
      sparse_.factorize(m);
      ok_ = sparse_.info() == Eigen::Success;
    } else {
      Eigen::MatrixXd m = c_.h_dense;
      if (lambda > 0) m.diagonal() += lambda * diag_;
      dense_.compute(m);
      ok_ = dense_.info() == Eigen::Success;
    }
    return ok_;
  }
  Eigen::VectorXd solve(const Eigen::VectorXd& b) const { return c_.sparse ? Eigen::VectorXd(sparse_.solve(b)) : Eigen::VectorXd(dense_.solve(b)); }
  Eigen::MatrixXd inverse() const {
    const Eigen::Index n = c_.g_int.size();
    if (!c_.sparse) return dense_.solve(Eigen::MatrixXd::Identity(n, n));
    Eigen::MatrixXd inv(n, n);
    Eigen::VectorXd e = Eigen::VectorXd::Zero(n);
    for (Eigen::Index j = 0; j < n; ++j) {
      e[j] = 1;
      inv.col(j) = sparse_.solve(e);
      e[j] = 0;
    }
    return 0.5 * (inv + inv.transpose());
  }
  // diag(H⁻¹) without forming H⁻¹: Takahashi's selected inversion on the factor's pattern.
  Eigen::VectorXd inverse_diagonal() const {
    const Eigen::Index n = c_.g_int.size();
    if (!c_.sparse) return inverse().diagonal();
    // H = Pᵀ L Lᵀ P. With L = L̂ D^½ (L̂ unit lower), Z = (L Lᵀ)⁻¹ on the pattern of L satisfies
    //   Z_ij = −Σ_{k>j} L̂_kj Z_ik (i > j),   Z_jj = 1/D_j − Σ_{k>j} L̂_kj Z_kj.
    const SparseMatrix L = sparse_.matrixL();  // lower, column-major
    std::vector<std::vector<std::pair<Eigen::Index, double>>> Z(static_cast<size_t>(n));  // column j: (row ≥ j, value)
    auto lookup = [&](Eigen::Index i, Eigen::Index k) -> double {  // Z_ik, i,k > j
      const Eigen::Index r = std::max(i, k), col = std::min(i, k);
      const auto& zc = Z[static_cast<size_t>(col)];
      auto it = std::lower_bound(zc.begin(), zc.end(), r, [](const auto& p, Eigen::Index v) { return p.first < v; });
      return (it != zc.end() && it->first == r) ? it->second : 0.0;
    };
    for (Eigen::Index j = n; j-- > 0;) {
      double djj = 0;
      std::vector<std::pair<Eigen::Index, double>> below;  // (k, L̂_kj)
      for (SparseMatrix::InnerIterator it(L, j); it; ++it) {
        if (it.row() == j) djj = it.value();
        else if (it.row() > j) below.emplace_back(it.row(), it.value());
      }
      for (auto& b : below) b.second /= djj;  // L̂ = L D^-½, D_j = L_jj²
      auto& zc = Z[static_cast<size_t>(j)];
      std::vector<std::pair<Eigen::Index, double>> col;
      double zjj = 1.0 / (djj * djj);
      for (const auto& [i, lij] : below) {
        double s = 0;
        for (const auto& [k, lkj] : below) s += lkj * lookup(i, k);
        col.emplace_back(i, -s);
        zjj -= lij * -s;
      }
      zc.emplace_back(j, zjj);
      zc.insert(zc.end(), col.begin(), col.end());
      std::sort(zc.begin(), zc.end());
    }
    // Undo the fill-reducing permutation: H⁻¹ = Pᵀ Z P.
    Eigen::VectorXd zdiag(n);
    for (Eigen::Index j = 0; j < n; ++j) zdiag[j] = Z[static_cast<size_t>(j)].front().second;
    Eigen::VectorXd out(n);
    const auto& perm = sparse_.permutationP().indices();
    for (Eigen::Index i = 0; i < n; ++i) out[i] = zdiag[perm[i]];
    return out;
  }

 private:
  const Curvature& c_;
  Eigen::VectorXd diag_;
  Eigen::LLT<Eigen::MatrixXd> dense_;
  Eigen::SimplicialLLT<SparseMatrix, Eigen::Lower, Eigen::AMDOrdering<int>> sparse_;
  bool ok_ = false;
};

Curvature curvature(Problem& problem, const HessianPlan& plan, const Eigen::VectorXd& t, int* hessians) {
  Curvature c;
  std::vector<double> x, g;
  c.f = problem.external_gradient(t, x, g);
  int evals = 0;
  auto trip = hessian_triplets(problem.objective(), x, problem.free(), problem.params(), plan, &evals);
  problem.count(evals);
  if (hessians) ++*hessians;
  const size_t n = problem.n();
  const auto N = static_cast<Eigen::Index>(n);
  Eigen::VectorXd J(N), D(N);
  c.g_int.resize(N);
  for (size_t j = 0; j < n; ++j) {
    const auto jj = static_cast<Eigen::Index>(j);
    J[jj] = problem.transform(j).dx_dt(t[jj]);
    D[jj] = g[problem.free()[j]] * problem.transform(j).d2x_dt2(t[jj]);
    c.g_int[jj] = g[problem.free()[j]] * J[jj];
  }
  // H_int = J H J + diag(g·x'')
  for (auto& e : trip) e = Eigen::Triplet<double>(e.row(), e.col(), e.value() * J[e.row()] * J[e.col()]);
  for (Eigen::Index j = 0; j < N; ++j) trip.emplace_back(j, j, D[j]);
  c.sparse = plan.sparse;
  if (c.sparse) {
    c.h_sparse.resize(N, N);
    c.h_sparse.setFromTriplets(trip.begin(), trip.end());
    c.valid = c.h_sparse.coeffs().allFinite();
  } else {
    c.h_dense = Eigen::MatrixXd::Zero(N, N);
    for (const auto& e : trip) c.h_dense(e.row(), e.col()) += e.value();
    c.valid = c.h_dense.allFinite();
  }
  return c;
}

// Solve (H + λ·diag) Δ = −g with the smallest λ ≥ lambda0 (×10 steps) that makes the matrix
// positive definite.
Eigen::VectorXd damped_newton_direction(Factorization& fac, const Eigen::VectorXd& g, const Eigen::VectorXd& diag, double lambda0,
                                        bool* was_pd) {
  double lambda = lambda0;
  *was_pd = lambda0 == 0;
  for (int k = 0; k < 60; ++k) {
    if (fac.factorize(lambda)) {
      Eigen::VectorXd d = fac.solve(-g);
      if (d.allFinite()) return d;
    }
    *was_pd = false;
    lambda = lambda == 0 ? 1e-8 : lambda * 10;
  }
  return -g.cwiseQuotient(diag);
}

Eigen::VectorXd abs_diagonal(const Curvature& c) {
  Eigen::VectorXd d = c.sparse ? Eigen::VectorXd(c.h_sparse.diagonal()) : Eigen::VectorXd(c.h_dense.diagonal());
  return d.cwiseAbs().cwiseMax(1e-12);
}

// EDM without a Hessian: conjugate gradients on H d = g with Hessian-vector products from
// central differences of the internal gradient. Infinite when CG meets negative curvature.
double edm_hessian_free(Problem& problem, const Eigen::VectorXd& t, const Eigen::VectorXd& g, int max_iterations = 200) {
  const Eigen::Index n = g.size();
  auto hvp = [&](const Eigen::VectorXd& v) {
    const double h = 1e-5 / std::max(1e-300, v.lpNorm<Eigen::Infinity>()) * std::max(1.0, t.lpNorm<Eigen::Infinity>());
    Eigen::VectorXd gp, gm;
    problem.value_and_gradient(t + h * v, gp);
    problem.value_and_gradient(t - h * v, gm);
    return Eigen::VectorXd((gp - gm) / (2 * h));
  };
  Eigen::VectorXd d = Eigen::VectorXd::Zero(n), r = g, p = r;
  double rr = r.squaredNorm();
  const double stop = 1e-12 * rr;
  for (int k = 0; k < max_iterations && rr > stop; ++k) {
    Eigen::VectorXd hp = hvp(p);
    const double php = p.dot(hp);
    if (!(php > 0)) return std::numeric_limits<double>::infinity();
    const double alpha = rr / php;
    d += alpha * p;
    r -= alpha * hp;
    const double rr_new = r.squaredNorm();
    p = r + (rr_new / rr) * p;
    rr = rr_new;
  }
  return 0.5 * g.dot(d);
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
void newton_polish(Problem& problem, const HessianPlan& plan, Attempt& a, double goal, int max_steps, int* hessians) {
  for (int step = 0; step <= max_steps; ++step) {
    a.curv = curvature(problem, plan, a.t, hessians);
    a.have_curv = true;
    a.f = a.curv.f;
    if (!a.curv.valid) return;
    Factorization fac(a.curv);
    const Eigen::VectorXd diag = abs_diagonal(a.curv);
    bool pd;
    Eigen::VectorXd d = damped_newton_direction(fac, a.curv.g_int, diag, 0.0, &pd);
    a.edm = -0.5 * a.curv.g_int.dot(d);
    spdlog::debug("Newton step {}: f = {:.12f}, EDM = {:.3g}", step, a.f, a.edm);
    if (a.edm < goal) {
      a.converged = true;
      return;
    }
    if (step == max_steps) return;
    double lambda = 0;
    bool improved = false;
    for (int tries = 0; tries < 8 && !improved; ++tries) {
      if (tries > 0) d = damped_newton_direction(fac, a.curv.g_int, diag, lambda, &pd);
      const double slope = a.curv.g_int.dot(d);
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
    if (!improved) return;  // no descent possible: stay, EDM says how far we are
  }
}

Attempt run_attempt(Problem& problem, const HessianPlan& plan, const Eigen::VectorXd& start, const FitOptions& opt, double goal,
                    bool use_lbfgs, int newton_steps, int* hessians) {
  Attempt a;
  a.t = start;
  if (use_lbfgs) a.iterations += run_lbfgs(problem, a.t, opt);
  if (plan.sparse || problem.n() <= opt.max_dense_parameters) {
    newton_polish(problem, plan, a, goal, newton_steps, hessians);
  } else {
    // Too large for dense Hessians and no structure: L-BFGS alone, judged by a Hessian-free EDM.
    Eigen::VectorXd g;
    a.f = problem.value_and_gradient(a.t, g);
    a.edm = std::isfinite(a.f) ? edm_hessian_free(problem, a.t, g) : std::numeric_limits<double>::infinity();
    a.converged = a.edm < goal;
  }
  return a;
}

// Covariance and errors the way Minuit reports them (see minimize()).
HesseResult minuit_covariance(Problem& problem, const Eigen::VectorXd& best_t, const Curvature& curv, double errordef,
                              size_t max_covariance) {
  HesseResult r;
  r.free = problem.free();
  const size_t n = problem.n();
  r.errors.assign(problem.params().size(), 0.0);
  const auto N = static_cast<Eigen::Index>(n);
  if (!curv.valid) return r;
  // V_int = (H_int / (2·errordef))⁻¹ = 2·errordef · H_int⁻¹
  const double scale = 2.0 * errordef;
  const bool full = n <= max_covariance;
  Eigen::MatrixXd v_int;
  Eigen::VectorXd v_diag;
  Factorization fac(curv);
  if (fac.factorize(0.0)) {
    if (full) v_int = scale * fac.inverse();
    else v_diag = scale * fac.inverse_diagonal();
    r.valid = true;
  } else if (!curv.sparse) {
    // Minuit's MnPosDef: scale to unit diagonal, lift non-positive eigenvalues, flag it.
    const Eigen::MatrixXd h = curv.h_dense / scale;
    Eigen::VectorXd d = h.diagonal().cwiseAbs().cwiseMax(1e-300).cwiseSqrt().cwiseInverse();
    Eigen::MatrixXd scaled = d.asDiagonal() * h * d.asDiagonal();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(scaled);
    Eigen::VectorXd ev = es.eigenvalues();
    const double floor = 1e-3 * std::max(ev.maxCoeff(), 1e-300);
    for (Eigen::Index i = 0; i < ev.size(); ++i) ev[i] = std::max(ev[i], floor);
    v_int = d.asDiagonal() * (es.eigenvectors() * ev.cwiseInverse().asDiagonal() * es.eigenvectors().transpose()) * d.asDiagonal();
    if (!full) v_diag = v_int.diagonal();
    r.forced_posdef = true;
  } else {
    // Sparse: the smallest diagonal shift that makes H positive definite, flagged.
    for (double lambda = 1e-6; lambda < 1e6; lambda *= 10) {
      if (!fac.factorize(lambda)) continue;
      if (full) v_int = scale * fac.inverse();
      else v_diag = scale * fac.inverse_diagonal();
      r.forced_posdef = true;
      break;
    }
  }
  if (v_int.size() == 0 && v_diag.size() == 0) return r;
  if (v_diag.size() == 0) v_diag = v_int.diagonal();
  Eigen::VectorXd J(N);
  for (size_t j = 0; j < n; ++j) J[static_cast<Eigen::Index>(j)] = problem.transform(j).dx_dt(best_t[static_cast<Eigen::Index>(j)]);
  if (full) r.covariance = J.asDiagonal() * v_int * J.asDiagonal();
  for (size_t j = 0; j < n; ++j) {
    const auto jj = static_cast<Eigen::Index>(j);
    const Transform& tr = problem.transform(j);
    const double t = best_t[jj], sigma = std::sqrt(std::max(0.0, v_diag[jj]));
    const double x0 = tr.external(t);
    double up = std::fabs(tr.external(t + sigma) - x0), down = std::fabs(tr.external(t - sigma) - x0);
    if (tr.kind == Transform::Kind::Both && sigma > 1) up = tr.hi - tr.lo;
    r.errors[r.free[j]] = 0.5 * (up + down);
  }
  return r;
}

}  // namespace

HesseResult hesse(const Objective& objective, const std::vector<model::Parameter>& parameters, const std::vector<double>& x,
                  const FitOptions& options) {
  quiet_glog();
  std::vector<model::Parameter> at_x = parameters;
  for (size_t i = 0; i < at_x.size(); ++i) at_x[i].init = x[i];
  Problem problem(objective, at_x);
  const HessianPlan plan = make_plan(problem.free(), options.hessian_structure, parameters.size());
  Eigen::VectorXd t(static_cast<Eigen::Index>(problem.n()));
  for (size_t j = 0; j < problem.n(); ++j) t[static_cast<Eigen::Index>(j)] = problem.transform(j).internal(x[problem.free()[j]]);
  return minuit_covariance(problem, t, curvature(problem, plan, t, nullptr), options.errordef, options.max_covariance_parameters);
}

HesseResult hesse(const Objective& objective, const std::vector<model::Parameter>& parameters, const std::vector<double>& x,
                  double errordef) {
  FitOptions o;
  o.errordef = errordef;
  return hesse(objective, parameters, x, o);
}

Eigen::MatrixXd gradient_fd_hessian(const Objective& objective, const std::vector<double>& x0,
                                    const std::vector<uint32_t>& free, const std::vector<model::Parameter>& parameters,
                                    int* evaluations) {
  const auto trip = hessian_triplets(objective, x0, free, parameters, make_plan(free, {}, parameters.size()), evaluations);
  const auto n = static_cast<Eigen::Index>(free.size());
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(n, n);
  for (const auto& e : trip) h(e.row(), e.col()) += e.value();
  return h;
}

FitResult minimize(const Objective& objective, const std::vector<model::Parameter>& parameters, const FitOptions& opt) {
  quiet_glog();
  const auto t0 = Clock::now();
  Problem problem(objective, parameters);
  const HessianPlan plan = make_plan(problem.free(), opt.hessian_structure, parameters.size());
  FitResult r;
  r.free = problem.free();
  r.edm_goal = 0.002 * opt.tolerance * opt.errordef;
  r.hessian_colors = static_cast<int>(plan.groups.size());
  if (!plan.rows.empty())
    spdlog::debug("Hessian: {} free parameters in {} colours ({} dense columns), {} linear algebra", plan.n, plan.groups.size(),
                  std::count(plan.dense.begin(), plan.dense.end(), 1), plan.sparse ? "sparse" : "dense");

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
    // Damped Newton from the start needs Hessians; without a structure that is only done for
    // problems small enough for dense ones.
    if (!s.lbfgs && !plan.sparse && problem.n() > opt.max_dense_parameters) continue;
    Attempt a = run_attempt(problem, plan, s.from_best ? best.t : start, opt, r.edm_goal, s.lbfgs, s.newton_steps, &r.hessians);
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
  const bool can_hesse = plan.sparse || n <= opt.max_dense_parameters;
  if (opt.compute_covariance && n > 0 && std::isfinite(best.f) && can_hesse) {
    if (!best.have_curv) {
      best.curv = curvature(problem, plan, best.t, &r.hessians);
      best.have_curv = true;
    }
    HesseResult hr = minuit_covariance(problem, best.t, best.curv, opt.errordef, opt.max_covariance_parameters);
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
