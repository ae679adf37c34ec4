#include "hs3/hs3_unbinned.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/LU>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "expr/expr.h"
#include "hs3/hs3_document.h"
#include "json/json_reader.h"

namespace hs3fit::hs3 {

using json::Node;

const std::vector<std::pair<double, double>>& gauss_legendre() {
  static const std::vector<std::pair<double, double>> rule = [] {
    std::vector<std::pair<double, double>> r;
    const int n = kQuadPoints;
    for (int i = 1; i <= n; ++i) {
      double x = std::cos(M_PI * (i - 0.25) / (n + 0.5));
      double dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = x;
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = n * (x * p1 - p0) / (x * x - 1);
        const double dx = p1 / dp;
        x -= dx;
        if (std::fabs(dx) < 1e-16) break;
      }
      r.emplace_back(x, 2 / ((1 - x * x) * dp * dp));
    }
    return r;
  }();
  return rule;
}

std::string GeneralModel::summary() const {
  return fmt::format("HS3 graph: {} nodes, {} events, {} parameters", graph_nodes, events, parameters.size());
}

namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;
constexpr double kInfD = std::numeric_limits<double>::infinity();

bool parses_as_number(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(x)) return false;
  *v = x;
  return true;
}

// Volume of bin b (C order, the first axis slowest) of a binning given by its edges per axis.
double bin_volume(const std::vector<std::vector<double>>& edges, size_t b) {
  double vol = 1;
  for (size_t k = edges.size(); k-- > 0;) {
    const size_t nb = edges[k].size() - 1, j = b % nb;
    b /= nb;
    vol *= edges[k][j + 1] - edges[k][j];
  }
  return vol;
}

// Second derivatives M_i of the interpolating cubic spline through (x_i, y_i) with de Boor's
// not-a-knot end conditions (ROOT's TSpline3 without options): the third derivative is
// continuous at x_1 and x_{n−2}. n = 2: a line (M = 0); n = 3: the parabola through the points.
std::vector<double> spline_second_derivatives(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  std::vector<double> m(n, 0.0);
  if (n == 2) return m;
  if (n == 3) {
    const double d1 = (y[1] - y[0]) / (x[1] - x[0]), d2 = (y[2] - y[1]) / (x[2] - x[1]);
    m.assign(3, 2 * (d2 - d1) / (x[2] - x[0]));
    return m;
  }
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(n));
  std::vector<double> h(n - 1);
  for (size_t i = 0; i + 1 < n; ++i) h[i] = x[i + 1] - x[i];
  const auto I = [](size_t i) { return static_cast<Eigen::Index>(i); };
  for (size_t i = 1; i + 1 < n; ++i) {
    a(I(i), I(i - 1)) = h[i - 1];
    a(I(i), I(i)) = 2 * (h[i - 1] + h[i]);
    a(I(i), I(i + 1)) = h[i];
    rhs(I(i)) = 6 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1]);
  }
  // (M_1 − M_0)/h_0 = (M_2 − M_1)/h_1 and the same at the right end.
  a(0, 0) = -h[1];
  a(0, 1) = h[0] + h[1];
  a(0, 2) = -h[0];
  a(I(n - 1), I(n - 3)) = -h[n - 2];
  a(I(n - 1), I(n - 2)) = h[n - 3] + h[n - 2];
  a(I(n - 1), I(n - 1)) = -h[n - 3];
  const Eigen::VectorXd sol = a.partialPivLu().solve(rhs);
  for (size_t i = 0; i < n; ++i) m[i] = sol(I(i));
  return m;
}

struct ObsInfo {
  uint32_t node;
  bool ranged;
  double lo, hi;
  // Binned data: the per-event (per-bin) nodes of the bin's lower and upper edge on this axis.
  uint32_t edge_lo = UINT32_MAX, edge_hi = UINT32_MAX;
};

// A context's observables by name: few, so a vector kept in name order (iterated like a map).
// Every read that finds an observable, and every iteration, counts in *reads: a lowering during
// which the count did not move depends on the context only through which names are observables
// (its shape), and is reused in every context of that shape (Lowerer::function, logpdf).
class ObsMap {
 public:
  using value_type = std::pair<std::string, ObsInfo>;
  using const_iterator = std::vector<value_type>::const_iterator;
  ObsMap() = default;
  ObsMap(std::initializer_list<value_type> init) {
    for (const value_type& v : init) (*this)[v.first] = v.second;
  }
  const_iterator begin() const {
    touch();
    return v_.begin();
  }
  const_iterator end() const { return v_.end(); }
  const_iterator find(const std::string& name) const {
    auto it = lower_bound(name);
    if (it == v_.end() || it->first != name) return v_.end();
    touch();
    return it;
  }
  size_t count(const std::string& name) const { return find(name) == v_.end() ? 0 : 1; }
  const ObsInfo& at(const std::string& name) const {
    auto it = find(name);
    if (it == v_.end()) throw Error(ErrorKind::Internal, "", "no observable '" + name + "' in the context");
    return it->second;
  }
  ObsInfo& operator[](const std::string& name) {
    auto it = v_.begin() + (lower_bound(name) - v_.cbegin());
    if (it == v_.end() || it->first != name) it = v_.insert(it, value_type(name, ObsInfo{0, false, 0, 0}));
    return it->second;
  }
  // Whether `name` is an observable, without counting a read (the shape says it).
  bool has(const std::string& name) const { return slot(name) >= 0; }
  // Its index in name order (the same in every context of the same shape), or −1.
  int slot(const std::string& name) const {
    auto it = lower_bound(name);
    return it != v_.end() && it->first == name ? static_cast<int>(it - v_.begin()) : -1;
  }
  const ObsInfo& at_slot(size_t i) const {
    touch();
    return v_[i].second;
  }
  // The names, each followed by a NUL: the shape's key.
  std::string names() const {
    std::string k;
    for (const value_type& v : v_) (k += v.first) += '\0';
    return k;
  }
  uint64_t* reads = nullptr;

 private:
  const_iterator lower_bound(const std::string& name) const {
    return std::lower_bound(v_.begin(), v_.end(), name, [](const value_type& v, const std::string& n) { return v.first < n; });
  }
  void touch() const {
    if (reads) ++*reads;
  }
  std::vector<value_type> v_;
};

struct Ctx {
  int id = 0;
  int shape = 0;  // the set of observable names (Lowerer::context)
  ObsMap obs;
};

struct Lowered {
  uint32_t node = 0;
  bool touched = false;              // depends on an observable of the context
  std::optional<uint32_t> rate;      // expected number of events (extended distributions)
};

// Variate field of a distribution evaluated without data (aux distributions, inline data).
const char* variate_field(const std::string& type) {
  if (type == "argus_dist" || type == "ARGUS_dist") return "mass";
  if (type == "crystalball_dist" || type == "crystalball_doublesided_dist") return "m";
  return "x";
}

class Lowerer {
 public:
  explicit Lowerer(const Document& doc) : doc_(doc) {}

  Graph g;
  std::vector<std::string> param_names;
  std::set<std::string> global_observables;
  std::vector<EventSource> sources;
  std::vector<std::pair<uint32_t, double>> scalar_terms;
  std::vector<AsimovSource> asimov_sources;                    // parallel to sources
  std::vector<std::pair<std::string, uint32_t>> global_means;  // constraint variate → its mean's node
  std::string asimov_unavailable;
  bool validate = false;  // structural check only (check_object)

  // A new context; `shape` when the caller knows it (the same names as another context's).
  Ctx context(ObsMap obs, int shape = -1) {
    Ctx c;
    c.id = next_ctx_++;
    c.obs = std::move(obs);
    c.obs.reads = &obs_reads_;
    c.shape = shape >= 0 ? shape : shapes_.emplace(c.obs.names(), static_cast<int>(shapes_.size())).first->second;
    return c;
  }

  // ---- one likelihood ---------------------------------------------------------------------------

  void lower_likelihood(const Likelihood& lik) {
    for (size_t i = 0; i < lik.distributions.size(); ++i) {
      const Node& dn = lik.distributions[i];
      const std::string dname = dn.as_string();
      const Node* dist = doc_.distribution(dname);
      if (!dist) dn.fail("unknown distribution '" + dname + "'");
      const Node& dat = lik.data[i];
      if (dat.is_number()) {
        lower_inline(*dist, dname, dat);
        continue;
      }
      const std::string data_name = dat.as_string();
      const Data* data = doc_.data(data_name);
      if (!data) dat.fail("unknown data '" + data_name + "'");
      if (auto prev = paired_.find(dname); prev != paired_.end()) {
        if (prev->second.first == lik.name) dn.fail("distribution '" + dname + "' appears twice in likelihood '" + lik.name + "'");
        dn.fail("likelihoods '" + prev->second.first + "' (data '" + prev->second.second + "') and '" + lik.name + "' (data '" + data_name +
                "') share the distribution '" + dname + "': combining them would count it twice against " +
                (prev->second.second == data_name ? "the same data" : "different data") +
                "; pick one with --likelihood NAME (likelihoods with disjoint distributions can be combined)");
      }
      paired_.emplace(dname, std::make_pair(lik.name, data_name));
      lower_pair(*dist, dname, *data, dn);
    }
    for (const Node& an : lik.aux) {
      const std::string aname = an.as_string();
      const Node* dist = doc_.distribution(aname);
      if (!dist) an.fail("unknown distribution '" + aname + "'");
      Ctx ctx = context({});
      Lowered l = logpdf(aname, ctx, an);
      if (counted_.insert(aname).second) scalar_terms.emplace_back(l.node, -1.0);
      auto v = dist->get(variate_field(dist->at("type").as_string()));
      // one variate, or several (multivariate_normal_dist's x)
      record_global_mean(*dist, ctx);
      const std::vector<Node> variates = !v ? std::vector<Node>{} : v->is_array() ? v->elements() : std::vector<Node>{*v};
      for (const Node& var : variates) {
        if (!var.is_string()) continue;
        const std::string name = var.as_string();
        double num;
        if (!doc_.function(name) && !doc_.distribution(name) && !parses_as_number(name, &num)) global_observables.insert(name);
      }
    }
  }

  void lower_pair(const Node& dist, const std::string& dname, const Data& data, const Node& where) {
    if (dist.at("type").as_string() == "histfactory_dist")
      dist.at("type").fail("histfactory_dist in a likelihood together with other distribution types (or paired with non-binned data) is not supported yet");
    const uint32_t s = static_cast<uint32_t>(sources.size());
    ObsMap obs;
    for (size_t k = 0; k < data.axes.size(); ++k) {
      const Axis& a = data.axes[k];
      obs[a.name] = ObsInfo{g.obs(s, static_cast<uint32_t>(k)), a.has_min && a.has_max, a.min, a.max};
      if (data.type == "binned") {  // edge columns after the centres (bin_edge_columns)
        const uint32_t naxes = static_cast<uint32_t>(data.axes.size());
        obs[a.name].edge_lo = g.obs(s, naxes + 2 * static_cast<uint32_t>(k));
        obs[a.name].edge_hi = g.obs(s, naxes + 2 * static_cast<uint32_t>(k) + 1);
      }
    }
    Ctx ctx = context(std::move(obs));
    std::vector<uint32_t> event_terms;
    std::vector<uint32_t> rates;
    collect(dname, ctx, where, event_terms, rates);
    EventSource src;
    src.columns = data.columns;
    src.coefficient = -1.0;
    double n_eff = 0;
    if (data.type == "binned") {  // ROOT: pdf at bin centres weighted by the contents; empty bins dropped
      const std::vector<std::vector<double>> all = bin_edge_columns(data);
      src.columns.assign(all.size(), {});
      for (size_t b = 0; b < data.weights.size(); ++b) {
        if (data.weights[b] == 0) continue;
        for (size_t k = 0; k < all.size(); ++k) src.columns[k].push_back(all[k][b]);
        src.weights.push_back(data.weights[b]);
      }
    } else {
      src.weights = data.weights;
    }
    if (src.weights.empty()) n_eff = static_cast<double>(src.columns.empty() ? 0 : src.columns[0].size());
    for (double w : src.weights) n_eff += w;
    if (event_terms.empty()) event_terms.push_back(g.constant(0));
    src.root = event_terms.size() == 1 ? event_terms[0] : g.add(Op::Sum, event_terms);
    sources.push_back(std::move(src));
    if (rates.size() > 1) where.fail("more than one extended distribution in the product '" + dname + "'");
    AsimovSource a = asimov_grid(data);
    a.n_obs = n_eff;
    if (rates.size() == 1) {
      const uint32_t nu = rates[0];
      a.rate = nu;
      a.extended_term = scalar_terms.size();
      scalar_terms.emplace_back(g.add2(Op::Sub, nu, g.add2(Op::Mul, g.constant(n_eff), g.add1(Op::Log, nu))), 1.0);
    }
    asimov_sources.push_back(std::move(a));
  }

  // The cells of the Asimov dataset of `data`: its own bins (binned), a regular grid over its
  // axes (unbinned, 1 or 2 closed axes); point data keeps its value (empty grid).
  // Binned data's columns: the bin centres per axis, then each axis' lower and upper bin edges
  // (for bin integrals, bincounts_*), all in the contents' C order.
  static std::vector<std::vector<double>> bin_edge_columns(const Data& data) {
    const size_t k = data.axes.size(), nbins = data.weights.size();
    std::vector<std::vector<double>> out = data.columns;
    out.resize(3 * k);
    for (size_t ax = 0; ax < k; ++ax) {
      out[k + 2 * ax].assign(nbins, 0.0);
      out[k + 2 * ax + 1].assign(nbins, 0.0);
    }
    for (size_t b = 0; b < nbins; ++b) {
      size_t rest = b;
      for (size_t ax = k; ax-- > 0;) {
        const std::vector<double>& e = data.axes[ax].edges;
        if (e.size() < 2) continue;
        const size_t nb = e.size() - 1, j = rest % nb;
        rest /= nb;
        out[k + 2 * ax][b] = e[j];
        out[k + 2 * ax + 1][b] = e[j + 1];
      }
    }
    return out;
  }

  AsimovSource asimov_grid(const Data& data) {
    AsimovSource a;
    const size_t k = data.axes.size();
    if (data.type == "binned") {
      a.grid = bin_edge_columns(data);
      const size_t nbins = data.weights.size();
      a.volume.assign(nbins, 1.0);
      for (size_t b = 0; b < nbins; ++b)
        for (size_t ax = 0; ax < k; ++ax)
          if (data.axes[ax].edges.size() >= 2) a.volume[b] *= a.grid[k + 2 * ax + 1][b] - a.grid[k + 2 * ax][b];
      return a;
    }
    if (data.type != "unbinned") return a;
    bool closed = k >= 1 && k <= 2;
    for (const Axis& ax : data.axes) closed = closed && ax.has_min && ax.has_max && ax.max > ax.min;
    if (!closed) {
      if (asimov_unavailable.empty())
        asimov_unavailable = "unbinned data '" + data.name + "' has " + std::to_string(k) +
                             " axes or an axis without min/max (Asimov datasets are built on a grid over 1 or 2 closed axes)";
      return a;
    }
    const size_t n = k == 1 ? kAsimovBins : kAsimovBins2D;
    std::vector<std::vector<double>> centres(k);
    std::vector<double> width(k);
    for (size_t ax = 0; ax < k; ++ax) {
      width[ax] = (data.axes[ax].max - data.axes[ax].min) / static_cast<double>(n);
      for (size_t i = 0; i < n; ++i) centres[ax].push_back(data.axes[ax].min + (static_cast<double>(i) + 0.5) * width[ax]);
    }
    a.grid.assign(k, {});
    const size_t total = k == 1 ? n : n * n;
    for (size_t c = 0; c < total; ++c) {
      a.grid[0].push_back(centres[0][k == 1 ? c : c / n]);
      if (k == 2) a.grid[1].push_back(centres[1][c % n]);
      a.volume.push_back(k == 1 ? width[0] : width[0] * width[1]);
    }
    return a;
  }

  // A Gaussian or Poisson constraint whose variate is a plain name (a global observable when it
  // is fixed): the Asimov dataset sets it to the constraint's mean.
  void record_global_mean(const Node& dist, const Ctx& ctx) {
    const std::string type = dist.at("type").as_string();
    if (type != "gaussian_dist" && type != "normal_dist" && type != "poisson_dist") return;
    auto v = dist.get("x");
    auto m = dist.get("mean");
    if (!v || !v->is_string() || !m) return;
    const std::string name = v->as_string();
    double num;
    if (doc_.function(name) || doc_.distribution(name) || parses_as_number(name, &num) || ctx.obs.count(name)) return;
    global_means.emplace_back(name, value(*m, ctx).node);
  }

  // A number instead of a data name: the distribution observed at that value (SPEC §3.2).
  void lower_inline(const Node& dist, const std::string& dname, const Node& value) {
    const char* field = variate_field(dist.at("type").as_string());
    auto v = dist.get(field);
    if (!v || !v->is_string()) value.fail(std::string("inline data needs a distribution whose variate '") + field + "' is a name");
    Ctx ctx = context({{v->as_string(), ObsInfo{g.constant(value.as_number()), false, 0, 0}}});
    Lowered l = logpdf(dname, ctx, value);
    scalar_terms.emplace_back(l.node, -1.0);
    if (l.rate) scalar_terms.emplace_back(g.add2(Op::Sub, *l.rate, g.add1(Op::Log, *l.rate)), 1.0);
  }

  // The structural split of SPEC §3.3: factors of a top-level product_dist that do not depend
  // on the data's observables are constraints, counted once; the rest are evaluated per event.
  void collect(const std::string& name, const Ctx& ctx, const Node& where, std::vector<uint32_t>& event_terms, std::vector<uint32_t>& rates) {
    const Node* dist = doc_.distribution(name);
    if (!dist) where.fail("unknown distribution '" + name + "'");
    if (dist->at("type").as_string() == "product_dist") {
      enter(name, *dist);
      for (const Node& f : dist->at("factors").elements()) collect(f.as_string(), ctx, f, event_terms, rates);
      leave();
      return;
    }
    Lowered l = logpdf(name, ctx, where);
    if (!l.touched) {
      if (counted_.insert(name).second) scalar_terms.emplace_back(l.node, -1.0);
      record_global_mean(*dist, ctx);
      return;
    }
    event_terms.push_back(l.node);
    if (l.rate) rates.push_back(*l.rate);
  }

  // ---- values ---------------------------------------------------------------------------------

  uint32_t param(const std::string& name) { return g.param(param_index(name)); }

  uint32_t param_index(const std::string& name) {
    auto it = param_index_.find(name);
    if (it != param_index_.end()) return it->second;
    const uint32_t idx = static_cast<uint32_t>(param_names.size());
    param_names.push_back(name);
    param_index_[name] = idx;
    return idx;
  }

  Lowered value(const Node& v, const Ctx& ctx) {
    if (v.is_number()) return {g.constant(v.as_number()), false, {}};
    if (!v.is_string()) v.fail("expected a number or a name, found " + v.type_name());
    return value_name(v.as_string(), ctx, v);
  }

  // What a name means apart from the context's observables (which come after numbers and
  // before everything else): resolved once per name.
  struct Resolved {
    enum Kind { Number, Function, Distribution, Data, Param } kind = Param;
    double number = 0;
    const Node* node = nullptr;        // Function
    uint32_t param = UINT32_MAX;       // Param: its index once created (on first use, as before)
  };
  Resolved& resolve(const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    Resolved r;
    if (parses_as_number(name, &r.number)) r.kind = Resolved::Number;
    else if ((r.node = doc_.function(name))) r.kind = Resolved::Function;
    else if (doc_.distribution(name)) r.kind = Resolved::Distribution;
    else if (doc_.data(name)) r.kind = Resolved::Data;
    return names_.emplace(name, r).first->second;
  }

  Lowered value_name(const std::string& name, const Ctx& ctx, const Node& where) { return value_resolved(name, resolve(name), ctx, where); }

  Lowered value_resolved(const std::string& name, Resolved& r, const Ctx& ctx, const Node& where) {
    if (r.kind == Resolved::Number) return {g.constant(r.number), false, {}};
    if (auto it = ctx.obs.find(name); it != ctx.obs.end()) return {it->second.node, true, {}};
    switch (r.kind) {
      case Resolved::Function: return function(name, *r.node, ctx);
      case Resolved::Distribution: {
        Lowered l = logpdf(name, ctx, where);
        return {g.add1(Op::Exp, l.node), l.touched, {}};
      }
      case Resolved::Data: where.fail("'" + name + "' is a data set, not a value");
      default: break;
    }
    if (r.param == UINT32_MAX) r.param = param_index(name);
    return {g.param(r.param), false, {}};
  }

  Lowered function(const std::string& name, const Node& f, const Ctx& ctx) {
    const MemoKey key{ctx.id, &f}, by_shape{-1 - ctx.shape, &f};
    if (const Lowered* l = memo(fmemo_, key, by_shape)) return *l;
    const uint64_t reads = obs_reads_;
    enter(name, f);
    const std::string type = f.at("type").as_string();
    Lowered out;
    if (type == "sum" || type == "product") {
      std::vector<uint32_t> args;
      for (const Node& a : f.at(type == "sum" ? "summands" : "factors").elements()) {
        Lowered l = value(a, ctx);
        out.touched |= l.touched;
        args.push_back(l.node);
      }
      if (type == "sum") out.node = args.empty() ? g.constant(0) : args.size() == 1 ? args[0] : g.add(Op::Sum, args);
      else {
        out.node = g.constant(1);
        for (uint32_t a : args) out.node = g.add2(Op::Mul, out.node, a);
      }
    } else if (type == "generic_function" || type == "generic") {
      out = expression(f.at("expression"), ctx);
    } else if (type == "polynomial") {
      Lowered x = value(f.at("x"), ctx);
      out.touched = x.touched;
      out.node = polynomial(f.at("coefficients"), x.node, ctx, out.touched);
    } else if (type == "interpolation") {
      out.node = piecewise_interpolation(f, ctx, out.touched);
    } else if (type == "step" || type == "histogram") {
      // ParamHistFunc (step: one parameter per bin) / RooHistFunc (histogram: constant contents):
      // the value of the bin containing the variables (outside the axes: the edge bin).
      std::vector<std::vector<double>> edges;
      std::vector<std::string> names;
      Node axes = f.get("data") && type == "histogram" ? f.at("data").at("axes") : f.at("axes");
      read_binning(axes, edges, names);
      if (auto vars = f.get("variables")) {
        auto vs = vars->elements();
        if (vs.size() != edges.size()) vars->fail(std::to_string(vs.size()) + " variables for " + std::to_string(edges.size()) + " axes");
        for (size_t k = 0; k < vs.size(); ++k) names[k] = vs[k].as_string();
      }
      std::vector<uint32_t> xs, vals;
      for (const std::string& n : names) xs.push_back(field_value_name(n, ctx, f, out.touched));
      size_t total = 1;
      for (const auto& e : edges) total *= e.size() - 1;
      Node content = type == "step" ? f.at("parameters") : f.at("data").at("contents");
      auto cs = content.elements();
      if (cs.size() != total) content.fail(std::to_string(cs.size()) + " values for " + std::to_string(total) + " bins");
      for (const Node& c : cs) vals.push_back(field_value(c, ctx, out.touched));
      out.node = bin_lookup(xs, edges, vals, 0, 0, total);
    } else if (type == "binvolume" || type == "inverse_binvolume" || type == "binwidth") {
      // RooBinWidthFunction: the volume (or its inverse) of the bin of the `histogram` function
      // containing its variables; legacy `binwidth` with `divideByBinWidth` = the inverse.
      const Node hn = f.at("histogram");
      const Node* h = doc_.function(hn.as_string());
      if (!h) hn.fail("unknown function '" + hn.as_string() + "'");
      if (h->at("type").as_string() != "histogram") hn.fail("expected the name of a 'histogram' function");
      std::vector<std::vector<double>> edges;
      std::vector<std::string> names;
      read_binning(h->at("data").at("axes"), edges, names);
      if (auto vars = h->get("variables")) {
        auto vs = vars->elements();
        if (vs.size() != edges.size()) vars->fail(std::to_string(vs.size()) + " variables for " + std::to_string(edges.size()) + " axes");
        for (size_t k = 0; k < vs.size(); ++k) names[k] = vs[k].as_string();
      }
      const bool inverse = type == "inverse_binvolume" || (type == "binwidth" && f.get("divideByBinWidth") && f.at("divideByBinWidth").as_bool());
      std::vector<uint32_t> xs, vals;
      for (const std::string& n : names) xs.push_back(field_value_name(n, ctx, f, out.touched));
      size_t total = 1;
      for (const auto& e : edges) total *= e.size() - 1;
      for (size_t b = 0; b < total; ++b) {
        const double vol = bin_volume(edges, b);
        vals.push_back(g.constant(inverse ? 1 / vol : vol));
      }
      out.node = bin_lookup(xs, edges, vals, 0, 0, total);
    } else if (type == "interpolation0d") {
      // ROOT's FlexibleInterpVar (normsys-style, numbers): v = nom; additive codes 0, 2 (3) add
      // Δ, multiplicative codes 1, 4 (≡ 5), 6 multiply; v ≤ 0 → DBL_MIN.
      const uint32_t y0 = field_value(f.at("nom"), ctx, out.touched);
      auto hs = f.at("high").elements(), ls = f.at("low").elements(), vs = f.at("vars").elements();
      if (hs.size() != vs.size() || ls.size() != vs.size())
        f.at("vars").fail(std::to_string(vs.size()) + " vars, " + std::to_string(hs.size()) + " high and " + std::to_string(ls.size()) + " low (one each expected)");
      std::vector<double> codes(vs.size(), 0);
      if (auto c = f.get("interpolationCodes")) codes = c->as_numbers();
      if (codes.size() != vs.size()) f.at("interpolationCodes").fail(std::to_string(codes.size()) + " codes for " + std::to_string(vs.size()) + " vars");
      uint32_t v = y0;
      for (size_t i = 0; i < vs.size(); ++i) {
        const uint32_t th = field_value(vs[i], ctx, out.touched), yp = field_value(hs[i], ctx, out.touched), ym = field_value(ls[i], ctx, out.touched);
        if (!(codes[i] >= 0 && codes[i] <= 6 && codes[i] == std::floor(codes[i])))
          f.at("interpolationCodes").fail("interpolation code " + fmt::format("{:g}", codes[i]) + " is not one of 0-6");
        const int code = static_cast<int>(codes[i]);
        if (code == 0 || code == 2 || code == 3) v = add(v, interp_delta(code, th, y0, yp, ym));
        else if (code == 1 || code == 4 || code == 5 || code == 6) v = mul(v, interp_factor(code == 4 ? 5 : code, th, div(yp, y0), div(ym, y0)));
        else f.at("interpolationCodes").fail("interpolation code " + std::to_string(code) + " is not one of 0-6");
      }
      out.node = g.add2(Op::Max, v, C(std::numeric_limits<double>::min()));
    } else if (type == "weighted_sum") {
      // RooRealSumFunc: Σ c_i g_i.
      auto gs = f.at("samples").elements(), cs = f.at("coefficients").elements();
      if (gs.size() != cs.size()) f.at("coefficients").fail(std::to_string(cs.size()) + " coefficients for " + std::to_string(gs.size()) + " samples");
      out.node = g.constant(0);
      for (size_t i = 0; i < gs.size(); ++i) {
        Lowered c = value(cs[i], ctx), v = value(gs[i], ctx);
        out.touched |= c.touched || v.touched;
        out.node = g.add2(Op::Add, out.node, g.add2(Op::Mul, c.node, v.node));
      }
    } else if (type == "integral") {
      // RooRealIntegral: ∫ integrand d(variables) over each variable's range (a ranged axis of the
      // data, else its domain), by the composite Gauss–Legendre rule per variable (product rule).
      if (f.get("domain")) f.at("domain").fail("integrals over a named sub-range are not supported (the variables' full ranges are used)");
      const Node integrand = f.at("integrand");
      if (!integrand.is_string()) integrand.fail("expected the name of a function or distribution");
      std::vector<std::pair<std::string, DomainAxis>> vars;
      const auto bounds = doc_.bounds({});
      for (const Node& v : f.at("variables").elements()) {
        const std::string vn = v.as_string();
        if (auto it = ctx.obs.find(vn); it != ctx.obs.end() && it->second.ranged) {
          vars.push_back({vn, DomainAxis{vn, it->second.lo, it->second.hi}});
        } else if (auto b = bounds.find(vn); b != bounds.end() && std::isfinite(b->second.min) && std::isfinite(b->second.max)) {
          vars.push_back({vn, b->second});
        } else {
          v.fail("variable '" + vn + "' has no finite range (a data axis or a domain with min and max) to integrate over");
        }
      }
      if (vars.size() > 2) f.at("variables").fail("integrals over more than 2 variables are not supported");
      std::function<uint32_t(const Ctx&, size_t)> over = [&](const Ctx& c, size_t k) -> uint32_t {
        if (k == vars.size()) return value(integrand, c).node;
        return integrate(c, vars[k].first, g.constant(vars[k].second.min), g.constant(vars[k].second.max), [&](const Ctx& c2) { return over(c2, k + 1); });
      };
      out.node = over(ctx, 0);
    } else if (type == "derivative") {
      // RooDerivative: d^n f/dx^n (order 1–3) by central differences with step `eps` (default
      // 1e-3·max(1, |x|)), on the graph (so the gradient in the parameters is exact for them).
      const Node fn = f.at("function");
      const std::string xn = f.at("x").as_string();
      const int order = f.get("order") ? static_cast<int>(f.at("order").as_number()) : 1;
      if (order < 1 || order > 3) f.at("order").fail("expected an order of 1, 2 or 3");
      if (f.get("normalization")) f.at("normalization").fail("derivatives of normalized pdfs are not supported");
      Lowered x0 = value_name(xn, ctx, f.at("x"));
      const uint32_t h = f.get("eps") ? value(f.at("eps"), ctx).node
                                      : g.add2(Op::Mul, g.constant(1e-3), g.add2(Op::Max, g.constant(1), g.add1(Op::Abs, x0.node)));
      auto at = [&](double k) {
        ObsMap o = ctx.obs;
        o[xn] = ObsInfo{g.add2(Op::Add, x0.node, g.add2(Op::Mul, g.constant(k), h)), false, 0, 0};
        Ctx c2 = context(std::move(o));
        Lowered l = value(fn, c2);
        out.touched |= l.touched;
        return l.node;
      };
      out.touched |= x0.touched;
      if (order == 1) {
        out.node = g.add2(Op::Div, g.add2(Op::Sub, at(1), at(-1)), g.add2(Op::Mul, g.constant(2), h));
      } else if (order == 2) {
        out.node = g.add2(Op::Div, g.add2(Op::Add, g.add2(Op::Sub, at(1), g.add2(Op::Mul, g.constant(2), at(0))), at(-1)), g.add2(Op::Mul, h, h));
      } else {
        const uint32_t num = g.add2(Op::Sub, g.add2(Op::Add, g.add2(Op::Sub, at(2), g.add2(Op::Mul, g.constant(2), at(1))), g.add2(Op::Mul, g.constant(2), at(-1))), at(-2));
        out.node = g.add2(Op::Div, num, g.add2(Op::Mul, g.constant(2), g.add2(Op::Mul, h, g.add2(Op::Mul, h, h))));
      }
    } else if (type == "spline") {
      // RooSpline with `interpolation: poly3` (TSpline3 without options: the cubic interpolating
      // spline with not-a-knot end conditions, de Boor's CUBSPL), the knots (x0, y0) numbers, and
      // `logy` (the spline interpolates ln y0 and returns its exponential). Beyond the knots the end
      // intervals' cubics continue.
      Lowered xl = value(f.at("x"), ctx);
      out.touched = xl.touched;
      const std::vector<double> x0 = f.at("x0").as_numbers(), y0raw = f.at("y0").as_numbers();
      if (x0.size() != y0raw.size()) f.at("y0").fail(std::to_string(y0raw.size()) + " y0 values for " + std::to_string(x0.size()) + " knots");
      if (x0.size() < 2) f.at("x0").fail("expected at least 2 knots");
      for (size_t i = 1; i < x0.size(); ++i)
        if (!(x0[i] > x0[i - 1])) f.at("x0").elements()[i].fail("knots must increase strictly");
      if (auto ip = f.get("interpolation"); ip && ip->as_string() != "poly3")
        ip->fail("only interpolation 'poly3' (TSpline3) is supported; 'poly5' (TSpline5) is not");
      if (auto lx = f.get("logx"); lx && lx->as_bool())
        lx->fail("logx is not supported (RooSpline builds the spline on ln x0 but evaluates it at e^x; hs3fit does not imitate that)");
      const bool logy = f.get("logy") && f.at("logy").as_bool();
      std::vector<double> y0 = y0raw;
      if (logy)
        for (size_t i = 0; i < y0.size(); ++i) {
          if (!(y0[i] > 0)) f.at("y0").elements()[i].fail("logy needs positive values");
          y0[i] = std::log(y0[i]);
        }
      const std::vector<double> m = spline_second_derivatives(x0, y0);
      const uint32_t xv = xl.node;
      auto piece = [&](size_t i) {  // y_i + b t + (M_i/2) t² + ((M_{i+1} − M_i)/(6h)) t³, t = x − x_i
        const double h = x0[i + 1] - x0[i];
        const double b = (y0[i + 1] - y0[i]) / h - h * (2 * m[i] + m[i + 1]) / 6;
        const uint32_t t = g.add2(Op::Sub, xv, g.constant(x0[i]));
        uint32_t p = g.constant((m[i + 1] - m[i]) / (6 * h));
        p = g.add2(Op::Add, g.add2(Op::Mul, p, t), g.constant(m[i] / 2));
        p = g.add2(Op::Add, g.add2(Op::Mul, p, t), g.constant(b));
        return g.add2(Op::Add, g.add2(Op::Mul, p, t), g.constant(y0[i]));
      };
      const size_t last = x0.size() - 2;
      uint32_t v = piece(last);
      for (size_t i = last; i-- > 0;) v = g.add(Op::Select, {g.add2(Op::Lt, xv, g.constant(x0[i + 1])), piece(i), v});
      out.node = logy ? g.add1(Op::Exp, v) : v;
    } else if (type == "gauss_model_function" || type == "truth_model_function") {
      // Resolution models (SPEC §5): meaningful as decay_dist's resolutionModel (convolved there in
      // closed form). As plain values: the Gaussian density N(x; mean, sigma), and the δ function
      // (0 away from x = 0, infinite at 0).
      Lowered xl = value(f.at("x"), ctx);
      out.touched = xl.touched;
      if (type == "gauss_model_function") {
        Lowered m = value(f.at("mean"), ctx), sg = value(f.at("sigma"), ctx);
        out.touched |= m.touched || sg.touched;
        const uint32_t z = g.add2(Op::Div, g.add2(Op::Sub, xl.node, m.node), sg.node);
        out.node = g.add2(Op::Div, g.add1(Op::Exp, g.add2(Op::Mul, g.constant(-0.5), g.add2(Op::Mul, z, z))),
                          g.add2(Op::Mul, sg.node, g.constant(std::sqrt(2 * M_PI))));
      } else {
        out.node = g.add(Op::Select, {g.add2(Op::EqExact, xl.node, g.constant(0)), g.constant(kInfD), g.constant(0)});
      }
    } else if (type == "roorecursivefraction_dist") {
      // RooRecursiveFraction (a function despite the name): a_0 Π_{i≥1} (1 − a_i) with `recursive`
      // (default), else a_0.
      auto as = f.at("list").elements();
      if (as.empty()) f.at("list").fail("expected at least one value");
      Lowered a0 = value(as[0], ctx);
      out.touched = a0.touched;
      out.node = a0.node;
      if (!f.get("recursive") || f.at("recursive").as_bool())
        for (size_t i = 1; i < as.size(); ++i) {
          Lowered ai = value(as[i], ctx);
          out.touched |= ai.touched;
          out.node = g.add2(Op::Mul, out.node, g.add2(Op::Sub, g.constant(1), ai.node));
        }
    } else if (type == "CMS::asympow") {
      // κ_lo^{−θ} for θ < 0, κ_hi^{θ} otherwise.
      const uint32_t lo = field_value(f.at("kappaLow"), ctx, out.touched), hi = field_value(f.at("kappaHigh"), ctx, out.touched);
      const uint32_t th = field_value(f.at("theta"), ctx, out.touched);
      out.node = sel(g.add2(Op::Lt, th, C(0)), power(lo, g.add1(Op::Neg, th)), power(hi, th));
    } else if (type == "CMS::process_normalization") {
      out.node = process_normalization(f, ctx, out.touched);
    } else {
      f.at("type").fail("function type '" + type + "' is valid HS3 but not supported by this hs3fit build yet");
    }
    leave();
    remember(fmemo_, key, by_shape, out, reads);
    return out;
  }

  uint32_t field_value_name(const std::string& name, const Ctx& ctx, const Node& where, bool& touched) {
    Lowered l = value_name(name, ctx, where);
    touched |= l.touched;
    return l.node;
  }

  // Bin edges of HS3 axes (`edges`, or `nbins` with `min`/`max`) and the axes' names.
  static void read_binning(const Node& axes, std::vector<std::vector<double>>& edges, std::vector<std::string>& names) {
    for (const Node& ax : axes.elements()) {
      names.push_back(ax.at("name").as_string());
      std::vector<double> e;
      if (auto ed = ax.get("edges")) {
        e = ed->as_numbers();
        if (e.size() < 2) ed->fail("expected at least 2 edges");
        for (size_t i = 1; i < e.size(); ++i)
          if (!(e[i] > e[i - 1])) ed->fail("edges must be strictly increasing");
      } else {
        const double n = ax.at("nbins").as_number(), lo = ax.at("min").as_number(), hi = ax.at("max").as_number();
        if (!(n >= 1) || n != std::floor(n) || n > 1e6) ax.at("nbins").fail("expected a positive integer number of bins");
        if (!(hi > lo)) ax.fail("expected min < max");
        for (size_t i = 0; i <= static_cast<size_t>(n); ++i) e.push_back(lo + (hi - lo) * static_cast<double>(i) / n);
      }
      edges.push_back(std::move(e));
    }
    if (edges.empty()) axes.fail("expected at least one axis");
  }

  // The value of the bin (C order, first axis slowest) containing xs[axis..]: a chain of
  // Selects on the edges per axis (values[offset, offset + count) are this sub-block's bins).
  uint32_t bin_lookup(const std::vector<uint32_t>& xs, const std::vector<std::vector<double>>& edges, const std::vector<uint32_t>& values, size_t axis,
                      size_t offset, size_t count) {
    const size_t nb = edges[axis].size() - 1, stride = count / nb;
    auto sub = [&](size_t b) { return axis + 1 == edges.size() ? values[offset + b] : bin_lookup(xs, edges, values, axis + 1, offset + b * stride, stride); };
    uint32_t v = sub(nb - 1);
    for (size_t j = nb - 1; j >= 1; --j) v = g.add(Op::Select, {g.add2(Op::Lt, xs[axis], C(edges[axis][j])), sub(j - 1), v});
    return v;
  }

  // ROOT's PiecewiseInterpolation (SPEC §5, §7.4): v = nominal; per variable, additive codes
  // (0 linear, 2/3 parabolic, 4 poly6/linear) add Δ against the nominal, multiplicative codes
  // (1 exponential, 5 poly6/exponential, 6 poly6/linear) multiply; positiveDefinite clamps at 0.
  uint32_t piecewise_interpolation(const Node& f, const Ctx& ctx, bool& touched) {
    const uint32_t y0 = field_value(f.at("nom"), ctx, touched);
    auto hs = f.at("high").elements(), ls = f.at("low").elements(), vs = f.at("vars").elements();
    if (hs.size() != vs.size() || ls.size() != vs.size())
      f.at("vars").fail(std::to_string(vs.size()) + " vars, " + std::to_string(hs.size()) + " high and " + std::to_string(ls.size()) + " low (one each expected)");
    std::vector<double> codes(vs.size(), 0);
    if (auto c = f.get("interpolationCodes")) {
      codes = c->as_numbers();
      if (codes.size() != vs.size()) c->fail(std::to_string(codes.size()) + " codes for " + std::to_string(vs.size()) + " vars");
    }
    uint32_t v = y0;
    for (size_t i = 0; i < vs.size(); ++i) {
      const uint32_t th = field_value(vs[i], ctx, touched), yp = field_value(hs[i], ctx, touched), ym = field_value(ls[i], ctx, touched);
      if (!(codes[i] >= 0 && codes[i] <= 6 && codes[i] == std::floor(codes[i])))
          f.at("interpolationCodes").fail("interpolation code " + fmt::format("{:g}", codes[i]) + " is not one of 0-6");
        const int code = static_cast<int>(codes[i]);
      switch (code) {
        case 0: case 2: case 3: case 4: v = add(v, interp_delta(code, th, y0, yp, ym)); break;
        case 1: case 5: case 6: v = mul(v, interp_factor(code, th, div(yp, y0), div(ym, y0))); break;
        default: f.at("interpolationCodes").fail("interpolation code " + std::to_string(code) + " is not one of 0-6");
      }
    }
    if (auto pd = f.get("positiveDefinite"); pd && pd->as_bool()) v = g.add2(Op::Max, v, C(0));
    return v;
  }

  uint32_t sel(uint32_t c, uint32_t a, uint32_t b) { return g.add(Op::Select, {c, a, b}); }

  // Additive interpolation codes (Δ against y0): 0, 2 (= 3), 4 (4p).
  uint32_t interp_delta(int code, uint32_t th, uint32_t y0, uint32_t yp, uint32_t ym) {
    if (code == 0) return sel(g.add2(Op::Gt, th, C(0)), mul(th, sub(yp, y0)), mul(th, sub(y0, ym)));
    if (code == 2 || code == 3) {
      const uint32_t a = sub(mul(C(0.5), add(yp, ym)), y0), b = mul(C(0.5), sub(yp, ym));
      const uint32_t hi = add(mul(add(mul(C(2), a), b), sub(th, C(1))), sub(yp, y0));
      const uint32_t lo = add(mul(g.add1(Op::Neg, sub(mul(C(2), a), b)), add(th, C(1))), sub(ym, y0));
      const uint32_t in = add(mul(a, mul(th, th)), mul(b, th));
      return sel(g.add2(Op::Gt, th, C(1)), hi, sel(g.add2(Op::Lt, th, C(-1)), lo, in));
    }
    const uint32_t ep = sub(yp, y0), em = sub(y0, ym);
    const uint32_t S = mul(C(0.5), add(ep, em)), A = mul(C(1.0 / 16), sub(ep, em));
    const uint32_t t2 = mul(th, th);
    const uint32_t in = mul(th, add(S, mul(mul(th, A), add(C(15), mul(t2, sub(mul(C(3), t2), C(10)))))));
    return sel(g.add2(Op::Ge, th, C(1)), mul(th, ep), sel(g.add2(Op::Le, th, C(-1)), mul(th, em), in));
  }

  // Multiplicative codes (factor F of r± = y±/y0): 1, 5, 6.
  uint32_t interp_factor(int code, uint32_t th, uint32_t rp, uint32_t rm) {
    const uint32_t up = power(rp, th), down = power(rm, g.add1(Op::Neg, th));
    if (code == 1) return sel(g.add2(Op::Ge, th, C(0)), up, down);
    if (code == 6) return add(C(1), interp_delta(4, th, C(1), rp, rm));
    const uint32_t lp = log(rp), lm = log(rm);
    const uint32_t S0 = mul(C(0.5), add(rp, rm)), A0 = mul(C(0.5), sub(rp, rm));
    const uint32_t S1 = mul(C(0.5), sub(mul(rp, lp), mul(rm, lm))), A1 = mul(C(0.5), add(mul(rp, lp), mul(rm, lm)));
    const uint32_t S2 = mul(C(0.5), add(mul(rp, mul(lp, lp)), mul(rm, mul(lm, lm)))), A2 = mul(C(0.5), sub(mul(rp, mul(lp, lp)), mul(rm, mul(lm, lm))));
    auto lin = [&](double k, std::initializer_list<std::pair<double, uint32_t>> terms) {
      uint32_t acc = C(k);
      for (auto [c, n] : terms) acc = add(acc, mul(C(c), n));
      return acc;
    };
    const uint32_t c1 = mul(C(1.0 / 8), lin(0, {{15, A0}, {-7, S1}, {1, A2}}));
    const uint32_t c2 = mul(C(1.0 / 8), lin(-24, {{24, S0}, {-9, A1}, {1, S2}}));
    const uint32_t c3 = mul(C(1.0 / 4), lin(0, {{-5, A0}, {5, S1}, {-1, A2}}));
    const uint32_t c4 = mul(C(1.0 / 4), lin(12, {{-12, S0}, {7, A1}, {-1, S2}}));
    const uint32_t c5 = mul(C(1.0 / 8), lin(0, {{3, A0}, {-3, S1}, {1, A2}}));
    const uint32_t c6 = mul(C(1.0 / 8), lin(-8, {{8, S0}, {-5, A1}, {1, S2}}));
    uint32_t poly = c6;
    for (uint32_t c : {c5, c4, c3, c2, c1}) poly = add(mul(poly, th), c);
    const uint32_t in = add(C(1), mul(poly, th));
    return sel(g.add2(Op::Ge, th, C(1)), up, sel(g.add2(Op::Le, th, C(-1)), down, in));
  }

  // CMS Combine's ProcessNormalization (RooFit MathFuncs::processNormalization):
  // nominal · exp(Σ_i θ_i lnκ_i + Σ_j x_j·logKappaForX(x_j)) · Π others, with logKappaForX(x) =
  // lnκ_hi (x ≥ ½), −lnκ_lo (x ≤ −½), else avg + halfdiff·h(2x), h(y) = (3y⁵ − 10y³ + 15y)/8,
  // avg = ½(lnκ_hi − lnκ_lo), halfdiff = ½(lnκ_hi + lnκ_lo); `logAsymmKappa` holds [lnκ_lo, lnκ_hi].
  uint32_t process_normalization(const Node& f, const Ctx& ctx, bool& touched) {
    uint32_t logv = C(0);
    auto thetas = f.get("thetaList") ? f.at("thetaList").elements() : std::vector<Node>{};
    auto kappas = f.get("logKappa") ? f.at("logKappa").elements() : std::vector<Node>{};
    if (thetas.size() != kappas.size())
      f.at("logKappa").fail(std::to_string(kappas.size()) + " logKappa values for " + std::to_string(thetas.size()) + " thetaList entries");
    for (size_t i = 0; i < thetas.size(); ++i) logv = add(logv, mul(field_value(thetas[i], ctx, touched), C(kappas[i].as_number())));
    auto asym = f.get("asymmThetaList") ? f.at("asymmThetaList").elements() : std::vector<Node>{};
    auto akap = f.get("logAsymmKappa") ? f.at("logAsymmKappa").elements() : std::vector<Node>{};
    if (asym.size() != akap.size())
      f.at("logAsymmKappa").fail(std::to_string(akap.size()) + " logAsymmKappa pairs for " + std::to_string(asym.size()) + " asymmThetaList entries");
    for (size_t i = 0; i < asym.size(); ++i) {
      auto pair = akap[i].as_numbers();
      if (pair.size() != 2) akap[i].fail("expected a pair [log kappa_low, log kappa_high]");
      const double lo = pair[0], hi = pair[1];
      const uint32_t x = field_value(asym[i], ctx, touched);
      const uint32_t y = mul(C(2), x), y2 = mul(y, y);
      const uint32_t h = mul(C(0.125), mul(y, add(mul(y2, sub(mul(C(3), y2), C(10))), C(15))));
      const uint32_t inner = add(C(0.5 * (hi - lo)), mul(h, C(0.5 * (hi + lo))));
      const uint32_t outer = g.add(Op::Select, {g.add2(Op::Ge, x, C(0)), C(hi), C(-lo)});
      const uint32_t lk = g.add(Op::Select, {g.add2(Op::Ge, g.add1(Op::Abs, x), C(0.5)), outer, inner});
      logv = add(logv, mul(x, lk));
    }
    Node nominal = f.at("nominalValue");
    uint32_t out = mul(field_value(nominal, ctx, touched), g.add1(Op::Exp, logv));
    if (auto others = f.get("otherFactorList"))
      for (const Node& o : others->elements()) out = mul(out, field_value(o, ctx, touched));
    return out;
  }

  uint32_t polynomial(const Node& coefs, uint32_t x, const Ctx& ctx, bool& touched) {
    auto cs = coefs.elements();
    uint32_t acc = g.constant(0);
    for (size_t i = cs.size(); i-- > 0;) {  // Horner
      Lowered c = value(cs[i], ctx);
      touched |= c.touched;
      acc = g.add2(Op::Add, g.add2(Op::Mul, acc, x), c.node);
    }
    return acc;
  }

  // ---- expressions (parsed once per JSON node, lowered per context) -----------------------------

  // An expression compiled for lowering: operators mapped to graph ops and symbols resolved
  // (apart from the context's observables) once. A node whose lowering read no observable
  // (ObsMap) is the same in every context of the same shape and remembers it: the quadrature
  // points of a normalization share their shape and redo only what depends on the abscissa.
  struct CExpr {
    enum Code : uint8_t { Number, Symbol, Op1, Op2, Op3, Plus, Pow, Log10, Exp2, Unknown };
    Code code = Number;
    Op op = Op::Const;
    double value = 0;
    const std::string* name = nullptr;  // Symbol: the name; Unknown: the function
    Resolved* sym = nullptr;            // Symbol
    int shape = -1, slot = -1;          // Symbol: its place among the observables of contexts of this shape (−1: none)
    std::vector<CExpr> args;
    std::vector<std::pair<int, std::pair<uint32_t, bool>>> by_shape;  // shape → (node, touched)
  };
  struct Parsed {
    expr::Expr tree;
    CExpr code;
  };

  CExpr compile(const expr::Expr& e) {
    using expr::Kind;
    CExpr c;
    for (const expr::Expr& a : e.args) c.args.push_back(compile(a));
    switch (e.kind) {
      case Kind::Number: c.value = e.value; break;
      case Kind::Symbol:
        c.code = CExpr::Symbol;
        c.name = &e.name;
        c.sym = &resolve(e.name);
        break;
      case Kind::Unary:
        c.code = e.name == "-" || e.name == "!" ? CExpr::Op1 : CExpr::Plus;
        c.op = e.name == "-" ? Op::Neg : Op::Not;
        break;
      case Kind::Binary:
        c.op = binary_op(e.name);
        c.code = c.op == Op::Pow ? CExpr::Pow : CExpr::Op2;
        break;
      case Kind::Ternary:
        c.code = CExpr::Op3;
        c.op = Op::Select;
        break;
      case Kind::Call: {
        static const std::map<std::string, Op> unary = {
            {"exp", Op::Exp}, {"log", Op::Log}, {"sqrt", Op::Sqrt}, {"abs", Op::Abs}, {"sin", Op::Sin},
            {"cos", Op::Cos}, {"tan", Op::Tan}, {"asin", Op::Asin}, {"acos", Op::Acos}, {"atan", Op::Atan},
            {"sinh", Op::Sinh}, {"cosh", Op::Cosh}, {"tanh", Op::Tanh}, {"erf", Op::Erf}, {"erfc", Op::Erfc},
            {"floor", Op::Floor}, {"ceil", Op::Ceil}, {"lgamma", Op::LGamma}};
        static const std::map<std::string, Op> binary = {{"min", Op::Min}, {"max", Op::Max}, {"atan2", Op::Atan2}};
        if (auto u = unary.find(e.name); u != unary.end()) {
          c.code = CExpr::Op1;
          c.op = u->second;
        } else if (auto b = binary.find(e.name); b != binary.end()) {
          c.code = CExpr::Op2;
          c.op = b->second;
        } else if (e.name == "pow") {
          c.code = CExpr::Pow;
        } else if (e.name == "log10") {
          c.code = CExpr::Log10;
        } else if (e.name == "exp2") {
          c.code = CExpr::Exp2;
        } else if (e.name == "ifelse") {
          c.code = CExpr::Op3;
          c.op = Op::Select;
        } else {
          c.code = CExpr::Unknown;  // reported when lowered, after its arguments (as before)
          c.name = &e.name;
        }
        break;
      }
    }
    return c;
  }

  // An expression string, parsed and compiled on first use (keyed by the string's place in the
  // document: the JSON pointer is built only for a parse error).
  Parsed& parsed(const Node& text) {
    const char* key = text.as_string_view().data();
    auto it = parsed_.find(key);
    if (it == parsed_.end()) {
      it = parsed_.emplace(key, Parsed{expr::parse(text.as_string(), text.pointer()), {}}).first;
      it->second.code = compile(it->second.tree);  // names point into the stored tree
    }
    return it->second;
  }

  Lowered expression(const Node& text, const Ctx& ctx) {
    bool touched = false;
    const uint32_t n = lower_expr(parsed(text).code, ctx, text, touched);
    return {n, touched, {}};
  }

  uint32_t lower_expr(CExpr& e, const Ctx& ctx, const Node& where, bool& touched) {
    if (e.code == CExpr::Number) return g.constant(e.value);
    for (const auto& [shape, r] : e.by_shape)
      if (shape == ctx.shape) {
        touched |= r.second;
        return r.first;
      }
    const uint64_t reads = obs_reads_;
    bool t = false;
    const uint32_t n = lower_expr_node(e, ctx, where, t);
    touched |= t;
    if (obs_reads_ == reads) e.by_shape.emplace_back(ctx.shape, std::make_pair(n, t));
    return n;
  }

  uint32_t lower_expr_node(CExpr& e, const Ctx& ctx, const Node& where, bool& touched) {
    uint32_t a[3] = {0, 0, 0};
    for (size_t i = 0; i < e.args.size() && i < 3; ++i) a[i] = lower_expr(e.args[i], ctx, where, touched);
    switch (e.code) {
      case CExpr::Number: return g.constant(e.value);
      case CExpr::Symbol: {
        if (e.shape != ctx.shape) {  // which observable it is depends on the shape only
          e.shape = ctx.shape;
          e.slot = ctx.obs.slot(*e.name);
        }
        if (e.slot >= 0 && e.sym->kind != Resolved::Number) {  // as value_resolved: numbers first, then observables
          touched = true;
          return ctx.obs.at_slot(static_cast<size_t>(e.slot)).node;
        }
        Lowered l = value_resolved(*e.name, *e.sym, ctx, where);
        touched |= l.touched;
        return l.node;
      }
      case CExpr::Op1: return g.add1(e.op, a[0]);
      case CExpr::Op2: return g.add2(e.op, a[0], a[1]);
      case CExpr::Op3: return g.add(e.op, a, 3);
      case CExpr::Plus: return a[0];
      case CExpr::Pow: return power(a[0], a[1]);
      case CExpr::Log10: return g.add2(Op::Div, g.add1(Op::Log, a[0]), g.constant(M_LN10));
      case CExpr::Exp2: return power(g.constant(2), a[0]);
      case CExpr::Unknown: where.fail("function '" + *e.name + "' has no lowering");
    }
    return g.constant(0);
  }

  // The graph op of an expression's binary operator (expr.h's spellings, `**` as `^`).
  static Op binary_op(const std::string& name) {
    const char c = name[0], c1 = name.size() > 1 ? name[1] : '\0';
    switch (c) {
      case '+': return Op::Add;
      case '-': return Op::Sub;
      case '*': return Op::Mul;
      case '/': return Op::Div;
      case '^': return Op::Pow;
      case '<': return c1 == '=' ? Op::Le : Op::Lt;
      case '>': return c1 == '=' ? Op::Ge : Op::Gt;
      case '=': return name.size() == 3 ? Op::EqExact : Op::Eq;
      case '!': return name.size() == 3 ? Op::NeExact : Op::Ne;
      case '&': return Op::And;
      case '|': return Op::Or;
      default: break;
    }
    throw Error(ErrorKind::Internal, "", "unknown binary operator '" + name + "'");
  }

  uint32_t power(uint32_t a, uint32_t b) {
    if (g.is_const(b)) {
      const double k = g.const_value(b);
      if (k == 1) return a;
      if (k == 2) return g.add2(Op::Mul, a, a);
      if (k == 0.5) return g.add1(Op::Sqrt, a);
    }
    return g.add2(Op::Pow, a, b);
  }

  // ---- distributions --------------------------------------------------------------------------

  Lowered logpdf(const std::string& name, const Ctx& ctx, const Node& where) {
    const Node* dist = doc_.distribution(name);
    if (!dist) where.fail("unknown distribution '" + name + "'");
    const MemoKey key{ctx.id, dist}, by_shape{-1 - ctx.shape, dist};
    if (const Lowered* l = memo(dmemo_, key, by_shape)) return *l;
    const uint64_t reads = obs_reads_;
    enter(name, *dist);
    Lowered out = lower_dist(*dist, ctx);
    leave();
    remember(dmemo_, key, by_shape, out, reads);
    return out;
  }

  std::optional<ObsInfo> direct_obs(const Node& dist, const char* key, const Ctx& ctx) {
    auto f = dist.get(key);
    if (!f || !f->is_string()) return std::nullopt;
    auto it = ctx.obs.find(f->as_string());
    if (it == ctx.obs.end() || !it->second.ranged) return std::nullopt;
    return it->second;
  }

  Lowered field(const Node& dist, const char* key, const Ctx& ctx, bool& touched) {
    Lowered l = value(dist.at(key), ctx);
    touched |= l.touched;
    return l;
  }

  // A distribution whose value depends on a ranged observable only through a function cannot
  // be normalized by the closed forms here (contexts without ranged observables — aux, inline
  // data, quadrature abscissae — need no normalization over data).
  void indirect(const Node& dist, const Ctx& ctx) {
    if (validate) return;
    bool ranged = false;
    for (const auto& [n, o] : ctx.obs) ranged |= o.ranged;
    if (!ranged) return;
    dist.fail("depends on an observable of its data only through a function: normalizing over it is not supported yet");
  }

  // Validation without data (hs3fit inspect): a normalization that needs a data axis is skipped.
  void need_axis(const Node& dist, const std::string& message) {
    if (!validate) dist.fail(message);
  }

  uint32_t C(double v) { return g.constant(v); }
  uint32_t add(uint32_t a, uint32_t b) { return g.add2(Op::Add, a, b); }
  uint32_t sub(uint32_t a, uint32_t b) { return g.add2(Op::Sub, a, b); }
  uint32_t mul(uint32_t a, uint32_t b) { return g.add2(Op::Mul, a, b); }
  uint32_t div(uint32_t a, uint32_t b) { return g.add2(Op::Div, a, b); }
  uint32_t log(uint32_t a) { return g.add1(Op::Log, a); }

  // ∫_lo^hi f(x) dx by the composite Gauss–Legendre rule, f built in a context where the
  // observable `obs` is the quadrature abscissa.
  // With `cluster_hi`, x = lo + (hi − lo)(1 − (1 − τ)²) for τ uniform in the panels, so that a
  // (hi − x)^p edge singularity (ARGUS at m0) becomes a smooth integrand.
  // With `keep_range`, the abscissa keeps the observable's axis range, so distributions inside
  // the density are normalized over the axis exactly as at the data (efficiency products).
  uint32_t integrate(const Ctx& ctx, const std::string& obs, uint32_t lo, uint32_t hi, const std::function<uint32_t(const Ctx&)>& density,
                     bool cluster_hi = false, bool keep_range = false) {
    const auto& rule = gauss_legendre();
    const uint32_t width = sub(hi, lo);
    const bool same_names = ctx.obs.has(obs);
    // The abscissae and weights of (lo, hi), made once (most integrals share their axis).
    std::vector<std::pair<uint32_t, uint32_t>>& nodes = rules_[std::make_tuple(lo, hi, cluster_hi)];
    const bool made = !nodes.empty();
    if (!made) nodes.reserve(kQuadPanels * rule.size());
    std::vector<uint32_t> terms;
    terms.reserve(kQuadPanels * rule.size());
    // One context per abscissa (a new id each: the memos are per context), its observables
    // updated in place (a context is only read while the density is lowered).
    const ObsInfo* was = keep_range ? &ctx.obs.at(obs) : nullptr;
    ObsMap o = ctx.obs;
    o[obs] = ObsInfo{0, false, 0, 0};  // set per abscissa
    Ctx sub_ctx = context(std::move(o), same_names ? ctx.shape : -1);
    size_t k = 0;
    for (int p = 0; p < kQuadPanels; ++p)
      for (const auto& [t, wt] : rule) {
        if (!made) {
          const double tau = (p + 0.5 * (t + 1)) / kQuadPanels;
          const double frac = cluster_hi ? 1 - (1 - tau) * (1 - tau) : tau;
          const double w = cluster_hi ? wt * 2 * (1 - tau) : wt;  // dx/dτ
          const uint32_t x = add(lo, mul(width, C(frac)));
          nodes.emplace_back(x, C(0.5 * w / kQuadPanels));
        }
        const auto [x, weight] = nodes[k++];
        if (k > 1) sub_ctx.id = next_ctx_++;
        sub_ctx.obs[obs] = was ? ObsInfo{x, true, was->lo, was->hi} : ObsInfo{x, false, 0, 0};
        terms.push_back(mul(weight, density(sub_ctx)));
      }
    return mul(width, g.add(Op::Sum, terms));
  }

  Lowered lower_dist(const Node& d, const Ctx& ctx) {
    const std::string type = d.at("type").as_string();
    Lowered out;
    bool& t = out.touched;
    if (type == "gaussian_dist" || type == "normal_dist") {
      const uint32_t x = field(d, "x", ctx, t).node, mu = field(d, "mean", ctx, t).node, s = field(d, "sigma", ctx, t).node;
      // ln PDF = −w² − K with w = (x − μ)/(σ√2), K = ln σ + ln √(2π) [+ ln M]: one fused op (GaussLog).
      const uint32_t inv = div(C(M_SQRT1_2), s);
      uint32_t K = add(log(s), C(kLogSqrt2Pi));
      auto ox = direct_obs(d, "x", ctx), om = direct_obs(d, "mean", ctx);
      if (ox && om) d.fail("gaussian_dist over two observables (x and mean) is not supported");
      if (ox || om) {
        const ObsInfo& o = ox ? *ox : *om;
        const uint32_t centre = ox ? mu : x;
        const uint32_t u = mul(sub(C(o.lo), centre), inv), v = mul(sub(C(o.hi), centre), inv);
        K = add(K, log(mul(C(0.5), g.add2(Op::ErfDiff, u, v))));
      } else if (t) {
        indirect(d, ctx);
      }
      out.node = g.add(Op::GaussLog, {x, mu, inv, K});
    } else if (type == "exponential_dist") {
      const uint32_t x = field(d, "x", ctx, t).node, c = field(d, "c", ctx, t).node;
      const uint32_t cx = mul(c, x);
      if (auto ox = direct_obs(d, "x", ctx)) out.node = g.add(Op::LinLog, {x, g.add1(Op::Neg, c), g.add(Op::LogExpNorm, {c}, ox->lo, ox->hi)});
      else {
        if (t) indirect(d, ctx);
        out.node = sub(log(c), cx);  // full-line normalization on x ≥ 0 (pyhs3)
      }
    } else if (type == "uniform_dist") {
      std::vector<Node> xs = d.at("x").is_array() ? d.at("x").elements() : std::vector<Node>{d.at("x")};
      double lv = 0;
      bool any = false;
      for (const Node& x : xs) {
        auto it = x.is_string() ? ctx.obs.find(x.as_string()) : ctx.obs.end();
        if (it == ctx.obs.end() || !it->second.ranged) continue;
        lv += std::log(it->second.hi - it->second.lo);
        any = true;
      }
      if (!any) need_axis(d, "uniform_dist needs a data axis (min, max) to be normalized over");
      t = true;
      out.node = C(-lv);
    } else if (type == "poisson_dist") {
      uint32_t x = field(d, "x", ctx, t).node;
      const uint32_t lam = field(d, "mean", ctx, t).node;
      if (auto i = d.get("integer"); i && i->as_bool()) x = g.add1(Op::Floor, x);
      uint32_t lp = g.add2(Op::PoisLog, x, lam);
      if (auto ox = direct_obs(d, "x", ctx)) lp = sub(lp, g.add(Op::LogPoisNorm, {lam}, ox->lo, ox->hi));
      else if (t && !g.is_event(lam)) indirect(d, ctx);
      out.node = lp;
    } else if (type == "lognormal_dist") {
      const uint32_t x = field(d, "x", ctx, t).node, mu = field(d, "mu", ctx, t).node, s = field(d, "sigma", ctx, t).node;
      const uint32_t lx = log(x);
      const uint32_t z = div(sub(lx, mu), s);
      uint32_t lp = sub(sub(sub(mul(C(-0.5), mul(z, z)), lx), log(s)), C(kLogSqrt2Pi));
      if (auto ox = direct_obs(d, "x", ctx)) {
        const uint32_t scale = mul(s, C(M_SQRT2));
        const uint32_t u = ox->lo > 0 ? div(sub(C(std::log(ox->lo)), mu), scale) : C(-kInfD);
        const uint32_t v = div(sub(C(std::log(ox->hi)), mu), scale);
        lp = sub(lp, log(mul(C(0.5), g.add2(Op::ErfDiff, u, v))));
      } else if (t) {
        indirect(d, ctx);
      }
      out.node = lp;
    } else if (type == "polynomial_dist") {
      const uint32_t x = field(d, "x", ctx, t).node;
      auto ox = direct_obs(d, "x", ctx);
      bool ct = false;
      const uint32_t f = polynomial(d.at("coefficients"), x, ctx, ct);
      if (!ox) {
        need_axis(d, "polynomial_dist needs its x to be a data axis with min and max (to be normalized over)");
        out.node = log(f);
        return out;
      }
      uint32_t norm = C(0);
      auto cs = d.at("coefficients").elements();
      for (size_t i = 0; i < cs.size(); ++i) {
        const double k = static_cast<double>(i + 1);
        norm = add(norm, mul(value(cs[i], ctx).node, C((std::pow(ox->hi, k) - std::pow(ox->lo, k)) / k)));
      }
      out.node = sub(log(f), log(norm));
    } else if (type == "argus_dist" || type == "ARGUS_dist") {
      const uint32_t m0 = field(d, "resonance", ctx, t).node, c = field(d, "slope", ctx, t).node, p = field(d, "power", ctx, t).node;
      auto shape = [&](uint32_t m) {
        const uint32_t r = div(m, m0);
        const uint32_t u = sub(C(1), mul(r, r));
        const uint32_t lf = add(add(log(m), mul(p, log(u))), mul(c, u));
        return g.add(Op::Select, {g.add2(Op::Lt, m, m0), lf, C(-kInfD)});
      };
      const uint32_t m = field(d, "mass", ctx, t).node;
      uint32_t lp = shape(m);
      if (auto om = direct_obs(d, "mass", ctx)) {
        const std::string obs = d.at("mass").as_string();
        const uint32_t hi = g.add2(Op::Min, C(om->hi), m0);
        const uint32_t norm = integrate(ctx, obs, C(om->lo), hi, [&](const Ctx& c2) { return g.add1(Op::Exp, shape(c2.obs.at(obs).node)); }, true);
        lp = sub(lp, log(norm));
      } else {
        need_axis(d, "argus_dist needs its mass to be a data axis with min and max (to be normalized over)");
      }
      out.node = lp;
    } else if (type == "crystalball_doublesided_dist" ||
               (type == "crystalball_dist" && (d.get("alpha_L") || d.get("alpha_R") || d.get("n_L") || d.get("n_R") || d.get("sigma_L") || d.get("sigma_R")))) {
      out.node = crystalball_double(d, ctx, t);
    } else if (type == "crystalball_dist") {
      const uint32_t m = field(d, "m", ctx, t).node, m0 = field(d, "m0", ctx, t).node, s = field(d, "sigma", ctx, t).node;
      const uint32_t alpha = field(d, "alpha", ctx, t).node, n = field(d, "n", ctx, t).node;
      // ROOT RooCBShape: tail on the low side for α > 0, on the high side for α < 0 (t → −t).
      const uint32_t flip = g.add2(Op::Lt, alpha, C(0));
      auto oriented = [&](uint32_t tt) { return g.add(Op::Select, {flip, g.add1(Op::Neg, tt), tt}); };
      const uint32_t aa = g.add1(Op::Abs, alpha);
      const uint32_t logA = sub(mul(n, log(div(n, aa))), mul(C(0.5), mul(aa, aa)));
      const uint32_t B = sub(div(n, aa), aa);
      const uint32_t tt = oriented(div(sub(m, m0), s));
      const uint32_t gauss = mul(C(-0.5), mul(tt, tt));
      const uint32_t tail = sub(logA, mul(n, log(sub(B, tt))));
      const uint32_t neg_aa = g.add1(Op::Neg, aa);
      uint32_t lp = g.add(Op::Select, {g.add2(Op::Ge, tt, neg_aa), gauss, tail});
      if (auto om = direct_obs(d, "m", ctx)) {
        // Analytic integral (RooCBShape::analyticalIntegral) over t ∈ [tmin, tmax].
        const uint32_t ta = div(sub(C(om->lo), m0), s), tb = div(sub(C(om->hi), m0), s);
        const uint32_t tmin = g.add(Op::Select, {flip, g.add1(Op::Neg, tb), ta});
        const uint32_t tmax = g.add(Op::Select, {flip, g.add1(Op::Neg, ta), tb});
        const uint32_t t1 = g.add2(Op::Min, tmax, neg_aa);
        const uint32_t one_minus_n = sub(C(1), n);
        const uint32_t tail_int = mul(div(g.add1(Op::Exp, logA), sub(n, C(1))),
                                      sub(g.add2(Op::Pow, sub(B, t1), one_minus_n), g.add2(Op::Pow, sub(B, tmin), one_minus_n)));
        const uint32_t tail_part = g.add(Op::Select, {g.add2(Op::Lt, tmin, t1), tail_int, C(0)});
        const uint32_t t2 = g.add2(Op::Max, tmin, neg_aa);
        const uint32_t gauss_int = mul(C(std::sqrt(M_PI / 2)), g.add2(Op::ErfDiff, div(t2, C(M_SQRT2)), div(tmax, C(M_SQRT2))));
        const uint32_t gauss_part = g.add(Op::Select, {g.add2(Op::Lt, t2, tmax), gauss_int, C(0)});
        lp = sub(lp, log(mul(s, add(tail_part, gauss_part))));
      } else {
        need_axis(d, "crystalball_dist needs its m to be a data axis with min and max (to be normalized over)");
      }
      out.node = lp;
    } else if (type == "generic_dist") {
      Node text = d.get("expression") ? d.at("expression") : d.at("formula");
      Lowered f = expression(text, ctx);
      t = f.touched;
      std::vector<std::string> obs;
      for (const std::string& sym : expr::symbols(parsed(text).tree))
        if (auto o = ctx.obs.find(sym); o != ctx.obs.end() && o->second.ranged) obs.push_back(sym);
      if (obs.size() > 2) d.fail("generic_dist over " + std::to_string(obs.size()) + " observables: normalizing over more than 2 is not supported (the product Gauss-Legendre rule would need 64^" + std::to_string(obs.size()) + " evaluations)");
      if (obs.empty()) {
        need_axis(d, "generic_dist needs one of its symbols to be a data axis with min and max (to be normalized over)");
        out.node = log(f.node);
        return out;
      }
      // Over the box of its observables' axes: the composite Gauss–Legendre rule per axis (product rule).
      CExpr& tree = parsed(text).code;
      std::function<uint32_t(const Ctx&, size_t)> integral = [&](const Ctx& c, size_t k) -> uint32_t {
        const ObsInfo& o = ctx.obs.at(obs[k]);
        return integrate(c, obs[k], C(o.lo), C(o.hi), [&](const Ctx& c2) {
          bool ct = false;
          return k + 1 == obs.size() ? lower_expr(tree, c2, text, ct) : integral(c2, k + 1);
        });
      };
      const uint32_t norm = integral(ctx, 0);
      out.node = sub(log(f.node), log(norm));
    } else if (type == "mixture_dist") {
      auto summands = d.at("summands").elements();
      auto coefs = d.at("coefficients").elements();
      const size_t n = summands.size();
      if (n == 0) d.at("summands").fail("expected at least one summand");
      std::vector<uint32_t> cs, ls;
      for (const Node& c : coefs) cs.push_back(field_value(c, ctx, t));
      for (const Node& s : summands) {
        Lowered l = logpdf(s.as_string(), ctx, s);
        t |= l.touched;
        ls.push_back(l.node);
      }
      const bool extended = d.get("extended") && d.at("extended").as_bool();
      std::vector<uint32_t> args;
      if (coefs.size() + 1 == n) {
        if (extended) d.at("extended").fail("an extended mixture needs one coefficient per summand");
        uint32_t rest = C(1);
        for (uint32_t c : cs) rest = sub(rest, c);
        cs.push_back(rest);
        args = cs;
        args.insert(args.end(), ls.begin(), ls.end());
        out.node = g.add(Op::LogMix, args);
      } else if (coefs.size() == n) {
        const uint32_t total = n == 1 ? cs[0] : g.add(Op::Sum, cs);
        for (uint32_t c : cs) args.push_back(div(c, total));  // Σ (c_i/Σc) f_i: normalized coefficients
        args.insert(args.end(), ls.begin(), ls.end());
        out.node = g.add(Op::LogMix, args);
        if (extended) out.rate = total;
      } else {
        d.at("coefficients").fail(std::to_string(coefs.size()) + " coefficients for " + std::to_string(n) + " summands (expected n or n-1)");
      }
    } else if (type == "product_dist") {
      std::vector<uint32_t> terms;
      for (const Node& f : d.at("factors").elements()) {
        Lowered l = logpdf(f.as_string(), ctx, f);
        t |= l.touched;
        terms.push_back(l.node);
        if (l.rate) {
          if (out.rate) f.fail("more than one extended factor in a product_dist");
          out.rate = l.rate;
        }
      }
      out.node = terms.empty() ? C(0) : terms.size() == 1 ? terms[0] : g.add(Op::Sum, terms);
    } else if (type == "bernstein_poly_dist") {
      // RooBernstein: Σ c_i C(n,i) u^i (1−u)^{n−i}, u = (x − min)/(max − min) on the data axis;
      // ∫ = (max − min) Σ c_i / (n + 1).
      const uint32_t x = field(d, "x", ctx, t).node;
      auto cs = d.at("coefficients").elements();
      if (cs.empty()) d.at("coefficients").fail("expected at least one coefficient");
      auto ox = direct_obs(d, "x", ctx);
      if (!ox) {
        need_axis(d, "bernstein_poly_dist needs its x to be a data axis with min and max (its polynomial lives on that range)");
        out.node = C(0);
        return out;
      }
      const size_t n = cs.size() - 1;
      const uint32_t u = div(sub(x, C(ox->lo)), C(ox->hi - ox->lo)), v = sub(C(1), u);
      uint32_t f = C(0), csum = C(0);
      for (size_t i = 0; i <= n; ++i) {
        const uint32_t c = field_value(cs[i], ctx, t);
        double binom = 1;
        for (size_t k = 1; k <= i; ++k) binom = binom * static_cast<double>(n - i + k) / static_cast<double>(k);
        uint32_t term = mul(c, C(binom));
        for (size_t k = 0; k < i; ++k) term = mul(term, u);
        for (size_t k = 0; k < n - i; ++k) term = mul(term, v);
        f = add(f, term);
        csum = add(csum, c);
      }
      out.node = sub(log(f), log(mul(csum, C((ox->hi - ox->lo) / static_cast<double>(n + 1)))));
    } else if (type == "chebychev_dist") {
      // RooChebychev: 1 + Σ_{i≥1} a_i T_i(z), z = 2(x − min)/(max − min) − 1 on the data axis;
      // ∫ = (max − min)/2 · (2 + Σ_{even i} a_i · 2/(1 − i²)).
      const uint32_t x = field(d, "x", ctx, t).node;
      auto cs = d.at("coefficients").elements();
      auto ox = direct_obs(d, "x", ctx);
      if (!ox) {
        need_axis(d, "chebychev_dist needs its x to be a data axis with min and max (its polynomials live on that range)");
        out.node = C(0);
        return out;
      }
      const uint32_t z = sub(mul(C(2 / (ox->hi - ox->lo)), sub(x, C(ox->lo))), C(1));
      uint32_t tprev = C(1), tcur = z, f = C(1), integral = C(2);
      for (size_t i = 1; i <= cs.size(); ++i) {
        if (i > 1) {
          const uint32_t tnext = sub(mul(mul(C(2), z), tcur), tprev);
          tprev = tcur;
          tcur = tnext;
        }
        const uint32_t a = field_value(cs[i - 1], ctx, t);
        f = add(f, mul(a, tcur));
        if (i % 2 == 0) integral = add(integral, mul(a, C(2.0 / (1.0 - static_cast<double>(i * i)))));
      }
      out.node = sub(log(f), log(mul(integral, C(0.5 * (ox->hi - ox->lo)))));
    } else if (type == "bifurkated_gaussian_dist" || type == "bifurcated_gaussian_dist") {
      // RooBifurGauss: σ_L below the mean, σ_R above; closed-form truncated normalization.
      const uint32_t x = field(d, "x", ctx, t).node, mu = field(d, "mean", ctx, t).node;
      const uint32_t sL = field(d, "sigmaL", ctx, t).node, sR = field(d, "sigmaR", ctx, t).node;
      const uint32_t dx = sub(x, mu);
      const uint32_t s = sel(g.add2(Op::Lt, dx, C(0)), sL, sR);
      const uint32_t w = div(dx, s);
      uint32_t lp = mul(C(-0.5), mul(w, w));
      auto ox = direct_obs(d, "x", ctx);
      const uint32_t k = C(std::sqrt(M_PI / 2));
      if (ox) {
        // Left piece over [lo, min(hi, μ)], right piece over [max(lo, μ), hi] (each 0 if empty).
        const uint32_t r2 = C(M_SQRT1_2);
        const uint32_t lb = g.add2(Op::Min, C(ox->hi), mu), ra = g.add2(Op::Max, C(ox->lo), mu);
        const uint32_t left = sel(g.add2(Op::Lt, C(ox->lo), lb), mul(mul(k, sL), g.add2(Op::ErfDiff, mul(div(sub(C(ox->lo), mu), sL), r2), mul(div(sub(lb, mu), sL), r2))), C(0));
        const uint32_t right = sel(g.add2(Op::Lt, ra, C(ox->hi)), mul(mul(k, sR), g.add2(Op::ErfDiff, mul(div(sub(ra, mu), sR), r2), mul(div(sub(C(ox->hi), mu), sR), r2))), C(0));
        lp = sub(lp, log(add(left, right)));
      } else {
        if (t) indirect(d, ctx);
        lp = sub(lp, log(mul(k, add(sL, sR))));  // full line: √(π/2)(σ_L + σ_R)
      }
      out.node = lp;
    } else if (type == "barlow_beeston_lite_poisson_constraint_dist") {
      // Π_i Pois_cont(τ_i | x_i τ_i): HistFactory's BB-lite constraint (the standard's text swaps
      // variate and mean, SPEC §13.13; documented in docs/hs3.md).
      auto xs = d.at("x").elements(), taus = d.at("expected").elements();
      if (xs.size() != taus.size()) d.at("expected").fail(std::to_string(taus.size()) + " expected values for " + std::to_string(xs.size()) + " x entries");
      std::vector<uint32_t> terms;
      for (size_t i = 0; i < xs.size(); ++i) {
        const uint32_t xi = field_value(xs[i], ctx, t), tau = field_value(taus[i], ctx, t);
        terms.push_back(g.add2(Op::PoisLog, tau, mul(xi, tau)));
      }
      out.node = terms.empty() ? C(0) : terms.size() == 1 ? terms[0] : g.add(Op::Sum, terms);
    } else if (type == "histogram_dist") {
      // RooHistPdf: density content_b / (volume_b · Σ contents), normalized over the histogram.
      std::vector<std::vector<double>> edges;
      std::vector<std::string> names;
      read_binning(d.at("data").at("axes"), edges, names);
      auto cs = d.at("data").at("contents").as_numbers();
      size_t total = 1;
      for (const auto& e : edges) total *= e.size() - 1;
      if (cs.size() != total) d.at("data").at("contents").fail(std::to_string(cs.size()) + " contents for " + std::to_string(total) + " bins");
      double sum = 0;
      for (double c : cs) {
        if (c < 0) d.at("data").at("contents").fail("contents must be >= 0");
        sum += c;
      }
      if (!(sum > 0)) d.at("data").at("contents").fail("contents sum to 0: the density is undefined");
      std::vector<uint32_t> xs, vals(total);
      for (const std::string& nme : names) xs.push_back(field_value_name(nme, ctx, d, t));
      for (size_t b = 0; b < total; ++b) {
        const double vol = bin_volume(edges, b);
        vals[b] = C(cs[b] > 0 ? std::log(cs[b] / (vol * sum)) : -kInfD);
      }
      out.node = bin_lookup(xs, edges, vals, 0, 0, total);
    } else if (type == "rate_extended_dist" || type == "extend_pdf") {
      // Poisson point process Pois(n | λ) Π m(x_j) (SPEC §4): the underlying distribution with the
      // rate as its expected number of events. Standard fields dist/rate, ROOT's pdf/norm.
      const char* dkey = d.get("dist") ? "dist" : "pdf";
      const char* rkey = d.get("rate") ? "rate" : "norm";
      if (d.get("range")) d.at("range").fail("rate_extended_dist with a 'range' (expected events in a sub-range) is not supported yet");
      const Node dn = d.at(dkey);
      if (!dn.is_string()) dn.fail("expected the name of a distribution");
      Lowered inner = logpdf(dn.as_string(), ctx, dn);
      if (inner.rate) dn.fail("the distribution is already extended: its rate would be counted twice");
      t |= inner.touched;
      out.node = inner.node;
      out.rate = field(d, rkey, ctx, t).node;
    } else if (type == "multivariate_normal_dist") {
      // exp(−½ (x−μ)ᵀ Σ⁻¹ (x−μ)) / ((2π)^{k/2} |Σ|^{1/2}) with a numeric Σ (covariances, or ROOT's
      // correlations + standard_deviations), inverted once here; normalized over the full space.
      const std::vector<Node> xs = d.at("x").elements(), ms = d.at("mean").elements();
      const size_t k = xs.size();
      if (k == 0) d.at("x").fail("expected at least one variate");
      if (ms.size() != k) d.at("mean").fail(std::to_string(ms.size()) + " means for " + std::to_string(k) + " variates");
      Eigen::MatrixXd cov(k, k);
      auto numeric = [](const Node& v) {
        double x = 0;
        if (v.is_number()) return v.as_number();
        if (v.is_string() && parses_as_number(v.as_string(), &x)) return x;
        v.fail("expected a number (hs3fit needs a numeric covariance matrix, as ROOT does)");
        return 0.0;
      };
      auto square = [&](const Node& m) {
        const std::vector<Node> rows = m.elements();
        if (rows.size() != k) m.fail(std::to_string(rows.size()) + " rows for " + std::to_string(k) + " variates");
        for (size_t i = 0; i < k; ++i) {
          const std::vector<Node> row = rows[i].elements();
          if (row.size() != k) rows[i].fail(std::to_string(row.size()) + " entries for " + std::to_string(k) + " variates");
          for (size_t j = 0; j < k; ++j) cov(i, j) = numeric(row[j]);
        }
      };
      if (d.get("covariances")) {
        square(d.at("covariances"));
      } else {
        square(d.at("correlations"));
        const std::vector<Node> sds = d.at("standard_deviations").elements();
        if (sds.size() != k) d.at("standard_deviations").fail(std::to_string(sds.size()) + " standard deviations for " + std::to_string(k) + " variates");
        for (size_t i = 0; i < k; ++i)
          for (size_t j = 0; j < k; ++j) cov(i, j) *= numeric(sds[i]) * numeric(sds[j]);
      }
      const char* what = d.get("covariances") ? "covariances" : "correlations";
      if (!cov.isApprox(cov.transpose(), 1e-12)) d.at(what).fail("the covariance matrix is not symmetric");
      const Eigen::LLT<Eigen::MatrixXd> llt(cov);
      if (llt.info() != Eigen::Success) d.at(what).fail("the covariance matrix is not positive definite");
      const Eigen::MatrixXd prec = llt.solve(Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k)));
      double logdet = 0;
      for (size_t i = 0; i < k; ++i) logdet += 2 * std::log(llt.matrixL()(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)));
      std::vector<uint32_t> dev(k), terms;
      for (size_t i = 0; i < k; ++i) {
        if (xs[i].is_string() && ctx.obs.count(xs[i].as_string()) && ctx.obs.at(xs[i].as_string()).ranged)
          xs[i].fail("multivariate_normal_dist over an axis of its data is not supported (it is normalized over the full space; use it as a constraint)");
        dev[i] = sub(field_value(xs[i], ctx, t), field_value(ms[i], ctx, t));
      }
      for (size_t i = 0; i < k; ++i)
        for (size_t j = i; j < k; ++j) {
          const double pij = prec(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) * (i == j ? -0.5 : -1.0);
          if (pij != 0) terms.push_back(mul(C(pij), mul(dev[i], dev[j])));
        }
      terms.push_back(C(-0.5 * logdet - static_cast<double>(k) * kLogSqrt2Pi));
      out.node = g.add(Op::Sum, terms);
    } else if (type == "landau_dist") {
      // RooLandau: φ((x − mean)/σ) with φ the standard Landau density (CERNLIB DENLAN, as ROOT's
      // TMath::Landau; `mean` is the location, the mode lies 0.2228σ below it), normalized over the
      // data axis with the distribution function (DISLAN, as RooLandau's analytical integral):
      // M = σ (Φ((max − mean)/σ) − Φ((min − mean)/σ)); on the full line M = σ.
      const uint32_t x = field(d, "x", ctx, t).node, mu = field(d, "mean", ctx, t).node, s = field(d, "sigma", ctx, t).node;
      uint32_t lp = log(g.add1(Op::LandauPdf, div(sub(x, mu), s)));
      if (auto ox = direct_obs(d, "x", ctx)) {
        const uint32_t lo = g.add1(Op::LandauCdf, div(sub(C(ox->lo), mu), s)), hi = g.add1(Op::LandauCdf, div(sub(C(ox->hi), mu), s));
        lp = sub(lp, log(mul(s, sub(hi, lo))));
      } else {
        if (t) indirect(d, ctx);
        lp = sub(lp, log(s));
      }
      out.node = lp;
    } else if (type == "gamma_dist") {
      // RooGamma: (x − μ)^{γ−1} e^{−(x−μ)/β} for x > μ (0 below), normalized over the data axis with
      // the regularized incomplete gamma function: M = β^γ Γ(γ) [P(γ, (max − μ)/β) − P(γ, (min − μ)/β)]
      // (P = 0 for a non-positive argument); on the full line M = β^γ Γ(γ).
      const uint32_t x = field(d, "x", ctx, t).node, gam = field(d, "gamma", ctx, t).node;
      const uint32_t beta = field(d, "beta", ctx, t).node, mu = field(d, "mu", ctx, t).node;
      const uint32_t dx = sub(x, mu);
      uint32_t lp = sel(g.add2(Op::Gt, dx, C(0)), sub(mul(sub(gam, C(1)), log(dx)), div(dx, beta)), C(-kInfD));
      uint32_t logm = add(mul(gam, log(beta)), g.add1(Op::LGamma, gam));
      if (auto ox = direct_obs(d, "x", ctx)) {
        const uint32_t pa = g.add2(Op::GammaP, gam, div(sub(C(ox->lo), mu), beta));
        const uint32_t pb = g.add2(Op::GammaP, gam, div(sub(C(ox->hi), mu), beta));
        logm = add(logm, log(sub(pb, pa)));
      } else if (t) {
        indirect(d, ctx);
      }
      out.node = sub(lp, logm);
    } else if (type == "generalized_normal_dist") {
      // exp(−(|x − μ|/α)^β) (SPEC §4.1), normalized over the data axis: with the odd antiderivative
      // F(y) = sign(y − μ)·P(1/β, (|y − μ|/α)^β), M = (α Γ(1/β)/β)·(F(max) − F(min)); on the full line
      // M = 2αΓ(1/β)/β. β = 2 is a Gaussian with σ = α/√2.
      const uint32_t x = field(d, "x", ctx, t).node, mu = field(d, "mean", ctx, t).node;
      const uint32_t alpha = field(d, "alpha", ctx, t).node, beta = field(d, "beta", ctx, t).node;
      const uint32_t lp = g.add1(Op::Neg, g.add2(Op::Pow, div(g.add1(Op::Abs, sub(x, mu)), alpha), beta));
      const uint32_t ib = div(C(1), beta);
      uint32_t logm = add(log(div(alpha, beta)), g.add1(Op::LGamma, ib));
      if (auto ox = direct_obs(d, "x", ctx)) {
        auto F = [&](double y) {
          const uint32_t dy = sub(C(y), mu);
          const uint32_t p = g.add2(Op::GammaP, ib, g.add2(Op::Pow, div(g.add1(Op::Abs, dy), alpha), beta));
          return sel(g.add2(Op::Lt, dy, C(0)), g.add1(Op::Neg, p), p);
        };
        logm = add(logm, log(sub(F(ox->hi), F(ox->lo))));
      } else {
        if (t) indirect(d, ctx);
        logm = add(logm, C(std::log(2.0)));
      }
      out.node = sub(lp, logm);
    } else if (type == "power_sum_dist") {
      // RooPowerSum: Σ c_i x^{e_i}, normalized over the data axis in closed form,
      // ∫ x^e = (max^{e+1} − min^{e+1})/(e + 1) (ln(max/min) for e = −1).
      const uint32_t x = field(d, "x", ctx, t).node;
      auto cs = d.at("coefficients").elements(), es = d.at("exponents").elements();
      if (cs.size() != es.size()) d.at("exponents").fail(std::to_string(es.size()) + " exponents for " + std::to_string(cs.size()) + " coefficients");
      if (cs.empty()) d.at("coefficients").fail("expected at least one coefficient");
      auto ox = direct_obs(d, "x", ctx);
      uint32_t f = C(0), norm = C(0);
      for (size_t i = 0; i < cs.size(); ++i) {
        const uint32_t c = field_value(cs[i], ctx, t), e = field_value(es[i], ctx, t);
        f = add(f, mul(c, g.add2(Op::Pow, x, e)));
        if (ox) {
          const uint32_t e1 = add(e, C(1));
          const uint32_t power = div(sub(g.add2(Op::Pow, C(ox->hi), e1), g.add2(Op::Pow, C(ox->lo), e1)), e1);
          const uint32_t logs = C(std::log(ox->hi / ox->lo));
          norm = add(norm, mul(c, sel(g.add2(Op::EqExact, e1, C(0)), logs, power)));
        }
      }
      if (!ox) {
        need_axis(d, "power_sum_dist needs its x to be a data axis with min and max (to be normalized over)");
        out.node = log(f);
        return out;
      }
      out.node = sub(log(f), log(norm));
    } else if (type == "legacy_exp_poly_dist") {
      // RooLegacyExpPoly: exp(Σ_k c_k x^{k + lowestOrder}) (the literal coefficients; ROOT's "1.0"/"0.0"
      // string folding is not imitated, SPEC §13.22), normalized over the data axis by the
      // composite Gauss–Legendre rule.
      const uint32_t x = field(d, "x", ctx, t).node;
      const int lowest = d.get("lowestOrder") ? static_cast<int>(d.at("lowestOrder").as_number()) : 0;
      if (lowest < 0) d.at("lowestOrder").fail("expected a non-negative integer");
      auto exponent = [&](uint32_t xv, const Ctx& c) {
        bool ct = false;
        uint32_t p = polynomial(d.at("coefficients"), xv, c, ct);
        for (int k = 0; k < lowest; ++k) p = mul(p, xv);
        return p;
      };
      const uint32_t lf = exponent(x, ctx);
      auto ox = direct_obs(d, "x", ctx);
      if (!ox) {
        need_axis(d, "legacy_exp_poly_dist needs its x to be a data axis with min and max (to be normalized over)");
        out.node = lf;
        return out;
      }
      const std::string obs = d.at("x").as_string();
      const uint32_t norm = integrate(ctx, obs, C(ox->lo), C(ox->hi), [&](const Ctx& c2) { return g.add1(Op::Exp, exponent(c2.obs.at(obs).node, c2)); });
      out.node = sub(lf, log(norm));
    } else if (type == "density_function_dist" || type == "log_density_function_dist" || type == "rate_density_dist" ||
               type == "weighted_sum_dist") {
      // A function f ≥ 0 of the data's observable as the density, normalized numerically over the
      // axis (composite Gauss–Legendre): density_function_dist f/∫f (ROOT: RooWrapperPdf, which
      // skips the integral when `selfNormalized`), log_density_function_dist e^f/∫e^f,
      // rate_density_dist Pois(n | ∫f) Π f(x_j)/∫f (so ln L = Σ ln f(x_j) − ∫f), weighted_sum_dist
      // (RooRealSumPdf) Σ c_i g_i / ∫Σ c_i g_i, with ∫ as the expected events when `extended`.
      const bool log_form = type == "log_density_function_dist";
      auto density = [&](const Ctx& c, bool& touched) -> uint32_t {
        if (type == "weighted_sum_dist") {
          auto gs = d.at("samples").elements(), cs = d.at("coefficients").elements();
          if (gs.size() != cs.size()) d.at("coefficients").fail(std::to_string(cs.size()) + " coefficients for " + std::to_string(gs.size()) + " samples");
          uint32_t f = C(0);
          for (size_t i = 0; i < gs.size(); ++i) f = add(f, mul(field_value(cs[i], c, touched), field_value(gs[i], c, touched)));
          return f;
        }
        return field_value(d.at(type == "rate_density_dist" ? "density" : "function"), c, touched);
      };
      const uint32_t f = density(ctx, t);
      const uint32_t lf = log_form ? f : log(f);
      // The axis: `x` if given, else the only ranged observable of the data.
      std::string obs;
      if (auto xf = d.get("x"); xf && xf->is_string()) obs = xf->as_string();
      else
        for (const auto& [name, o] : ctx.obs)
          if (o.ranged) {
            if (!obs.empty()) d.fail("the density depends on more than one axis of its data: give `x`, or use generic_dist (normalizing over several axes)");
            obs = name;
          }
      auto it = obs.empty() ? ctx.obs.end() : ctx.obs.find(obs);
      const bool self_normalized = d.get("selfNormalized") && d.at("selfNormalized").as_bool();
      if (self_normalized) {
        out.node = lf;
      } else if (it == ctx.obs.end() || !it->second.ranged) {
        need_axis(d, type + " needs a data axis with min and max (to be normalized over)");
        out.node = lf;
        return out;
      } else {
        const ObsInfo o = it->second;
        const uint32_t norm = integrate(ctx, obs, C(o.lo), C(o.hi), [&](const Ctx& c2) {
          bool ct = false;
          const uint32_t v = density(c2, ct);
          return log_form ? g.add1(Op::Exp, v) : v;
        });
        out.node = sub(lf, log(norm));
        if (type == "rate_density_dist" || (type == "weighted_sum_dist" && d.get("extended") && d.at("extended").as_bool())) out.rate = norm;
      }
    } else if (type == "efficiency_product_pdf_dist") {
      // RooEffProd: f(x) ε(x) / ∫ f ε over the data axis (composite Gauss–Legendre), f normalized over
      // the axis in both places so its constant cancels.
      const Node pn = d.at("pdf");
      if (!pn.is_string()) pn.fail("expected the name of a distribution");
      Lowered inner = logpdf(pn.as_string(), ctx, pn);
      if (inner.rate) pn.fail("an extended distribution inside an efficiency product is not supported");
      t |= inner.touched;
      const uint32_t eff = field_value(d.at("eff"), ctx, t);
      std::string obs;
      for (const auto& [name, o] : ctx.obs)
        if (o.ranged) {
          if (!obs.empty()) d.fail("efficiency products over more than one axis of the data are not supported");
          obs = name;
        }
      if (obs.empty()) {
        need_axis(d, "efficiency_product_pdf_dist needs a data axis with min and max (to be normalized over)");
        out.node = add(inner.node, log(eff));
        return out;
      }
      const ObsInfo o = ctx.obs.at(obs);
      const uint32_t norm = integrate(
          ctx, obs, C(o.lo), C(o.hi),
          [&](const Ctx& c2) {
            bool ct = false;
            return mul(g.add1(Op::Exp, logpdf(pn.as_string(), c2, pn).node), field_value(d.at("eff"), c2, ct));
          },
          false, true);
      out.node = sub(add(inner.node, log(eff)), log(norm));
    } else if (type == "bincounts_extended_dist" || type == "bincounts_density_dist") {
      // Binned Poisson counts with the bin integrals of a continuous shape (SPEC §4.3):
      // extended ν_b = λ ∫_bin m (fields rate, dist) or density ν_b = ∫_bin f (fields x, density);
      // the bin integrals by the composite Gauss–Legendre rule on each bin. Written as an extended
      // pdf with per-bin probability ν_b/ν and ν = Σ ν_b over the axis (the bins are assumed to
      // cover it): −ln L = Σ_b (ν_b − n_b ln ν_b) (no ln n_b!).
      const bool extended = type == "bincounts_extended_dist";  // an `axes` field: the data's binning is used
      std::string obs;
      if (!extended) obs = d.at("x").as_string();
      for (const auto& [name, o] : ctx.obs)
        if (extended && o.ranged) {
          if (!obs.empty()) d.fail(type + " over more than one axis is not supported");
          obs = name;
        }
      auto it = obs.empty() ? ctx.obs.end() : ctx.obs.find(obs);
      if (it == ctx.obs.end() || it->second.edge_lo == UINT32_MAX || !it->second.ranged) {
        need_axis(d, type + " needs binned data with edges and a closed axis (its counts are bin integrals)");
        out.node = C(0);
        return out;
      }
      const ObsInfo o = it->second;
      if (extended) {
        const Node dn = d.at("dist");
        if (!dn.is_string()) dn.fail("expected the name of a distribution");
        Lowered inner = logpdf(dn.as_string(), ctx, dn);
        if (inner.rate) dn.fail("the distribution is already extended: its rate would be counted twice");
        t |= inner.touched;
        const uint32_t pb = integrate(
            ctx, obs, o.edge_lo, o.edge_hi, [&](const Ctx& c2) { return g.add1(Op::Exp, logpdf(dn.as_string(), c2, dn).node); }, false, true);
        out.node = log(pb);
        out.rate = field(d, "rate", ctx, t).node;
      } else {
        auto f = [&](const Ctx& c2) {
          bool ct = false;
          return field_value(d.at("density"), c2, ct);
        };
        const uint32_t nub = integrate(ctx, obs, o.edge_lo, o.edge_hi, f, false, true);
        const uint32_t nu = integrate(ctx, obs, C(o.lo), C(o.hi), f, false, true);
        t = true;
        out.node = sub(log(nub), log(nu));
        out.rate = nu;
      }
    } else if (type == "decay_dist") {
      // RooDecay: the decay exp(−t/τ) (decayType 0, t ≥ 0), exp(−|t|/τ) (1) or exp(t/τ) (2, t ≤ 0),
      // convolved with its resolution model: a Gaussian (gauss_model_function /
      // gauss_resolution_model: mean μ, sigma σ) in closed form,
      //   ½ exp(σ²/(2τ²) ∓ (t−μ)/τ) erfc((σ/τ ∓ (t−μ)/σ)/√2)   (− for the right-going, + for the flipped part),
      // the truth model (truth_model_function / delta_resolution_model: no smearing), or a
      // mixture_model (mixture_resolution_model) of those: the fraction-weighted sum of the
      // convolutions (n − 1 fractions, the last one 1 − Σ, or n coefficients normalized by Σ).
      // Normalized over the t axis in closed form: convolution commutes with integration.
      const uint32_t tt = field(d, "t", ctx, t).node, tau = field(d, "tau", ctx, t).node;
      const int decay = d.get("decayType") ? static_cast<int>(d.at("decayType").as_number()) : 0;
      if (decay < 0 || decay > 2) d.at("decayType").fail("expected decayType 0 (SingleSided), 1 (DoubleSided) or 2 (Flipped)");
      const bool right = decay != 2, left = decay != 0;
      auto ot = direct_obs(d, "t", ctx);
      if (!ot) need_axis(d, "decay_dist needs its t to be a data axis with min and max (to be normalized over)");
      const uint32_t k = C(M_SQRT1_2);
      // One resolution model: its convolved shape at t and (on an axis) its integral over the axis.
      struct Component {
        uint32_t shape, norm;
      };
      auto model = [&](const Node& rn) -> std::vector<std::pair<uint32_t, Component>> {  // (weight, component)
        const std::string rname = rn.as_string();
        const Node* rm = doc_.function(rname);
        if (!rm) rm = doc_.distribution(rname);
        if (!rm) rn.fail("unknown resolution model '" + rname + "'");
        const std::string rtype = rm->at("type").as_string();
        std::vector<const Node*> parts;
        std::vector<uint32_t> weights;
        if (rtype == "mixture_model" || rtype == "mixture_resolution_model") {
          auto ss = rm->at("summands").elements(), cs = rm->at("coefficients").elements();
          if (cs.size() + 1 != ss.size() && cs.size() != ss.size())
            rm->at("coefficients").fail(std::to_string(cs.size()) + " coefficients for " + std::to_string(ss.size()) + " summands (expected n or n-1)");
          uint32_t rest = C(1), total = C(0);
          for (const Node& c : cs) {
            weights.push_back(field_value(c, ctx, t));
            rest = sub(rest, weights.back());
            total = add(total, weights.back());
          }
          if (cs.size() + 1 == ss.size()) weights.push_back(rest);
          else
            for (uint32_t& w : weights) w = div(w, total);
          for (const Node& sn : ss) {
            const Node* sm = doc_.function(sn.as_string());
            if (!sm) sm = doc_.distribution(sn.as_string());
            if (!sm) sn.fail("unknown resolution model '" + sn.as_string() + "'");
            parts.push_back(sm);
          }
        } else {
          parts.push_back(rm);
          weights.push_back(C(1));
        }
        std::vector<std::pair<uint32_t, Component>> out_parts;
        for (size_t p = 0; p < parts.size(); ++p) {
          const Node& m = *parts[p];
          const std::string mt = m.at("type").as_string();
          const bool gauss = mt == "gauss_model_function" || mt == "gauss_resolution_model";
          if (!gauss && mt != "truth_model_function" && mt != "delta_resolution_model")
            m.at("type").fail("resolution model '" + mt + "' is not supported (gauss_model_function, truth_model_function, their new names and mixture_model of them are)");
          Component c{C(0), C(0)};
          if (gauss) {
            const uint32_t mu = field(m, "mean", ctx, t).node, sg = field(m, "sigma", ctx, t).node;
            auto part = [&](uint32_t tv, bool r) {
              const uint32_t sv = div(sub(tv, mu), sg), rr = div(sg, tau);
              const uint32_t base = mul(C(0.5), g.add1(Op::Exp, mul(C(0.5), mul(rr, rr))));
              return r ? mul(mul(base, g.add1(Op::Exp, g.add1(Op::Neg, div(sub(tv, mu), tau)))), g.add1(Op::Erfc, mul(sub(rr, sv), k)))
                       : mul(mul(base, g.add1(Op::Exp, div(sub(tv, mu), tau))), g.add1(Op::Erfc, mul(add(rr, sv), k)));
            };
            if (right) c.shape = add(c.shape, part(tt, true));
            if (left) c.shape = add(c.shape, part(tt, false));
            if (ot) {
              // ∫_{−∞}^T of the right-going part: τ[Φ((T−μ)/σ) − c_r(T)]; of the flipped part: τ[Φ + c_l(T)].
              const uint32_t a = C(ot->lo), b = C(ot->hi);
              const uint32_t dphi = mul(C(0.5), g.add2(Op::ErfDiff, mul(div(sub(a, mu), sg), k), mul(div(sub(b, mu), sg), k)));
              if (right) c.norm = add(c.norm, mul(tau, sub(dphi, sub(part(b, true), part(a, true)))));
              if (left) c.norm = add(c.norm, mul(tau, add(dphi, sub(part(b, false), part(a, false)))));
            }
          } else {
            if (right) c.shape = add(c.shape, sel(g.add2(Op::Ge, tt, C(0)), g.add1(Op::Exp, g.add1(Op::Neg, div(tt, tau))), C(0)));
            if (left) c.shape = add(c.shape, sel(g.add2(Op::Le, tt, C(0)), g.add1(Op::Exp, div(tt, tau)), C(0)));
            if (right && left) c.shape = sub(c.shape, sel(g.add2(Op::EqExact, tt, C(0)), C(1), C(0)));  // t = 0 counted once
            if (ot) {  // ∫ e^{−t/τ} over [max(lo, 0), hi] and ∫ e^{t/τ} over [lo, min(hi, 0)]
              const double lo = ot->lo, hi = ot->hi;
              if (right && hi > 0)
                c.norm = add(c.norm, mul(tau, sub(g.add1(Op::Exp, g.add1(Op::Neg, div(C(std::max(lo, 0.0)), tau))), g.add1(Op::Exp, g.add1(Op::Neg, div(C(hi), tau))))));
              if (left && lo < 0)
                c.norm = add(c.norm, mul(tau, sub(g.add1(Op::Exp, div(C(std::min(hi, 0.0)), tau)), g.add1(Op::Exp, div(C(lo), tau)))));
            }
          }
          out_parts.push_back({weights[p], c});
        }
        return out_parts;
      };
      uint32_t shape = C(0), norm = C(0);
      for (const auto& [w, c] : model(d.at("resolutionModel"))) {
        shape = add(shape, mul(w, c.shape));
        norm = add(norm, mul(w, c.norm));
      }
      out.node = ot ? sub(log(shape), log(norm)) : log(shape);
    } else if (type == "relativistic_breit_wigner_dist") {
      d.at("type").fail("relativistic_breit_wigner_dist is not supported: the standard's formula uses a pole mass m_BW for which it "
                        "defines no field (SPEC §4.1); express the shape as a generic_dist");
    } else if (type == "histfactory_dist") {
      d.at("type").fail("histfactory_dist inside another distribution or together with unbinned distributions is not supported yet");
    } else {
      d.at("type").fail("distribution type '" + type + "' is valid HS3 but not supported by this hs3fit build yet");
    }
    return out;
  }

  // The standard's double-sided Crystal Ball (RooCrystalBall): Gaussian core with widths σ_L
  // (m < m0) and σ_R, power-law tails beyond |α_L|σ_L and |α_R|σ_R; analytic integral over
  // the data axis (each of the four pieces in closed form). Split fields fall back to the
  // combined ones (`sigma`, `alpha`, `n`).
  uint32_t crystalball_double(const Node& d, const Ctx& ctx, bool& t) {
    auto pick = [&](const char* split, const char* combined) {
      if (d.get(split)) return field(d, split, ctx, t).node;
      if (d.get(combined)) return field(d, combined, ctx, t).node;
      d.fail(std::string("missing required field '") + split + "' (or '" + combined + "')");
    };
    const uint32_t m = field(d, "m", ctx, t).node, m0 = field(d, "m0", ctx, t).node;
    const uint32_t sL = pick("sigma_L", "sigma"), sR = pick("sigma_R", "sigma");
    const uint32_t aL = g.add1(Op::Abs, pick("alpha_L", "alpha")), aR = g.add1(Op::Abs, pick("alpha_R", "alpha"));
    const uint32_t nL = pick("n_L", "n"), nR = pick("n_R", "n");
    const uint32_t logAL = sub(mul(nL, log(div(nL, aL))), mul(C(0.5), mul(aL, aL))), BL = sub(div(nL, aL), aL);
    const uint32_t logAR = sub(mul(nR, log(div(nR, aR))), mul(C(0.5), mul(aR, aR))), BR = sub(div(nR, aR), aR);
    const uint32_t dm = sub(m, m0);
    const uint32_t tL = div(dm, sL), tR = div(dm, sR);
    const uint32_t left = sel(g.add2(Op::Lt, tL, g.add1(Op::Neg, aL)), sub(logAL, mul(nL, log(sub(BL, tL)))), mul(C(-0.5), mul(tL, tL)));
    const uint32_t right = sel(g.add2(Op::Gt, tR, aR), sub(logAR, mul(nR, log(add(BR, tR)))), mul(C(-0.5), mul(tR, tR)));
    uint32_t lp = sel(g.add2(Op::Le, dm, C(0)), left, right);
    auto om = direct_obs(d, "m", ctx);
    if (!om) {
      need_axis(d, "crystalball_dist needs its m to be a data axis with min and max (to be normalized over)");
      return lp;
    }
    const uint32_t gauss_k = C(std::sqrt(M_PI / 2)), r2 = C(M_SQRT1_2);
    auto gauss_int = [&](uint32_t a, uint32_t b) {  // ∫_a^b e^{−t²/2} dt, 0 unless a < b
      return sel(g.add2(Op::Lt, a, b), mul(gauss_k, g.add2(Op::ErfDiff, mul(a, r2), mul(b, r2))), C(0));
    };
    // Left: t_L ∈ [ta, tb] with tb = min((hi − m0)/σ_L, 0).
    const uint32_t ta = div(sub(C(om->lo), m0), sL), tb = g.add2(Op::Min, div(sub(C(om->hi), m0), sL), C(0));
    const uint32_t t1 = g.add2(Op::Min, tb, g.add1(Op::Neg, aL));
    const uint32_t omL = sub(C(1), nL);
    const uint32_t tailL = sel(g.add2(Op::Lt, ta, t1), mul(div(g.add1(Op::Exp, logAL), sub(nL, C(1))),
                                                        sub(power(sub(BL, t1), omL), power(sub(BL, ta), omL))), C(0));
    const uint32_t coreL = gauss_int(g.add2(Op::Max, ta, g.add1(Op::Neg, aL)), tb);
    // Right: t_R ∈ [ua, ub] with ua = max((lo − m0)/σ_R, 0).
    const uint32_t ua = g.add2(Op::Max, div(sub(C(om->lo), m0), sR), C(0)), ub = div(sub(C(om->hi), m0), sR);
    const uint32_t u1 = g.add2(Op::Max, ua, aR);
    const uint32_t omR = sub(C(1), nR);
    const uint32_t tailR = sel(g.add2(Op::Lt, u1, ub), mul(div(g.add1(Op::Exp, logAR), sub(nR, C(1))),
                                                        sub(power(add(BR, u1), omR), power(add(BR, ub), omR))), C(0));
    const uint32_t coreR = gauss_int(ua, g.add2(Op::Min, ub, aR));
    const uint32_t norm = add(mul(sL, add(tailL, coreL)), mul(sR, add(tailR, coreR)));
    return sub(lp, log(norm));
  }

  uint32_t field_value(const Node& v, const Ctx& ctx, bool& touched) {
    Lowered l = value(v, ctx);
    touched |= l.touched;
    return l.node;
  }

  // ---- reference cycles -----------------------------------------------------------------------

  void enter(const std::string& name, const Node& where) {
    for (size_t i = 0; i < active_.size(); ++i)
      if (active_[i] == name) {
        std::string chain;
        for (size_t j = i; j < active_.size(); ++j) chain += active_[j] + " -> ";
        where.fail("circular reference: " + chain + name);
      }
    active_.push_back(name);
  }
  void leave() { active_.pop_back(); }

 private:
  const Document& doc_;
  int next_ctx_ = 0;
  std::map<std::string, uint32_t> param_index_;
  // Lowered functions and distributions per (context, JSON object).
  struct MemoKey {
    int ctx;
    const Node* object;
    bool operator==(const MemoKey& o) const { return ctx == o.ctx && object == o.object; }
  };
  struct MemoHash {
    size_t operator()(const MemoKey& k) const { return std::hash<const void*>()(k.object) * 31 + static_cast<size_t>(k.ctx); }
  };
  // Lowered functions and distributions per (context, JSON object), and per (−1 − shape, JSON
  // object) those whose lowering read no observable of its context (ObsMap).
  struct Memo {
    Lowered lowered;
    bool reads_obs = false;
  };
  using MemoMap = std::unordered_map<MemoKey, Memo, MemoHash>;
  const Lowered* memo(const MemoMap& m, const MemoKey& key, const MemoKey& by_shape) {
    if (auto it = m.find(key); it != m.end()) {
      if (it->second.reads_obs) ++obs_reads_;  // the caller depends on the context through it
      return &it->second.lowered;
    }
    if (auto it = m.find(by_shape); it != m.end()) return &it->second.lowered;
    return nullptr;
  }
  void remember(MemoMap& m, const MemoKey& key, const MemoKey& by_shape, const Lowered& l, uint64_t reads_before) {
    const bool reads_obs = obs_reads_ != reads_before;
    m[key] = Memo{l, reads_obs};
    if (!reads_obs) m[by_shape] = Memo{l, false};
  }
  MemoMap fmemo_, dmemo_;
  std::map<std::tuple<uint32_t, uint32_t, bool>, std::vector<std::pair<uint32_t, uint32_t>>> rules_;  // integrate: (lo, hi, cluster) → (x, weight) nodes
  uint64_t obs_reads_ = 0;
  std::map<std::string, int> shapes_;  // observable names (ObsMap::names) → shape
  std::unordered_map<const char*, Parsed> parsed_;
  std::unordered_map<std::string, Resolved> names_;
  std::vector<std::string> active_;
  std::set<std::string> counted_;
  std::map<std::string, std::pair<std::string, std::string>> paired_;  // distribution -> (likelihood, data)
};

// Selected likelihood names from the raw JSON, without reading data (cheap routing check).
std::vector<std::string> raw_selection(const Node& root, const GeneralOptions& o) {
  if (o.likelihoods.size() == 1 && o.likelihoods[0] == "all") {
    std::vector<std::string> all;
    if (auto ls = root.get("likelihoods"); ls && ls->is_array())
      for (const Node& l : ls->elements())
        if (l.is_object() && l.get("name") && l.at("name").is_string()) all.push_back(l.at("name").as_string());
    return all;
  }
  if (!o.likelihoods.empty()) return o.likelihoods;
  if (auto an = root.get("analyses"); an && an->is_array() && an->size() > 0) {
    for (const Node& a : an->elements()) {
      if (!a.is_object() || !a.get("name") || !a.at("name").is_string()) continue;
      if (o.analysis.empty() || a.at("name").as_string() == o.analysis)
        if (auto l = a.get("likelihood"); l && l->is_string()) return {l->as_string()};
      if (o.analysis.empty()) break;
    }
    return {};
  }
  if (auto ls = root.get("likelihoods"); ls && ls->is_array() && ls->size() > 0) {
    Node first = ls->elements()[0];
    if (first.is_object() && first.get("name") && first.at("name").is_string()) return {first.at("name").as_string()};
  }
  return {};
}

}  // namespace

bool needs_general_reader(const Node& root, const GeneralOptions& options, std::string* where) {
  auto dists = root.get("distributions");
  if (!dists || !dists->is_array()) return false;
  auto ls = root.get("likelihoods");
  if (!ls || !ls->is_array()) return false;
  // The selected likelihoods' distribution names, then one pass over the distributions for
  // their types (the first non-histfactory_dist in likelihood order is reported).
  std::vector<std::string_view> names;
  for (const std::string& lname : raw_selection(root, options))
    for (const Node& l : ls->elements()) {
      if (!l.is_object() || !l.get("name") || !l.at("name").is_string() || l.at("name").as_string_view() != lname) continue;
      if (auto ds = l.get("distributions"); ds && ds->is_array())
        for (const Node& d : ds->elements())
          if (d.is_string()) names.push_back(d.as_string_view());
    }
  if (names.empty()) return false;
  size_t first = names.size();  // the earliest listed name that is a general distribution
  std::optional<Node> type_of_first;
  std::vector<char> decided(names.size(), 0);  // by the first distribution of that name
  for (const Node& d : dists->elements()) {
    if (!d.is_object()) continue;
    auto name = d.get("name"), type = d.get("type");
    if (!name || !type || !name->is_string() || !type->is_string()) continue;
    const std::string_view n = name->as_string_view();
    const bool general = type->as_string_view() != "histfactory_dist";
    for (size_t i = 0; i < names.size(); ++i)
      if (!decided[i] && names[i] == n) {
        decided[i] = 1;
        if (general && i < first) {
          first = i;
          type_of_first = *type;
        }
      }
  }
  if (!type_of_first) return false;
  if (where) *where = type_of_first->pointer();
  return true;
}

std::string check_object(const Document& doc, const std::string& name, bool is_function) {
  Lowerer L(doc);
  try {
    if (is_function) {
      const Node* f = doc.function(name);
      if (!f) return "/functions: no function '" + name + "'";
      L.validate = true;
      Ctx ctx = L.context({});
      L.function(name, *f, ctx);
      return "";
    }
    const Node* d = doc.distribution(name);
    if (!d) return "/distributions: no distribution '" + name + "'";
    if (d->at("type").as_string() == "histfactory_dist") return "";  // checked by the HistFactory front end (hs3_histfactory.h)
    // Paired with data by a likelihood: checked against that data's axes, exactly as a fit reads it.
    for (const std::string& lname : doc.likelihood_names()) {
      const Likelihood& lik = *doc.likelihood(lname);
      for (size_t i = 0; i < lik.distributions.size(); ++i) {
        if (lik.distributions[i].as_string() != name) continue;
        if (lik.data[i].is_number()) {
          L.lower_inline(*d, name, lik.data[i]);
          return "";
        }
        if (const Data* data = doc.data(lik.data[i].as_string())) {
          L.lower_pair(*d, name, *data, lik.distributions[i]);
          return "";
        }
      }
    }
    L.validate = true;
    Ctx ctx = L.context({});
    L.logpdf(name, ctx, d->at("name"));
  } catch (const Error& e) {
    return e.where() + ": " + e.message();
  }
  return "";
}

namespace {
// Values of graph nodes 0..upto at the parameters x, with the observables of `source` at `point`
// (other sources' observables NaN). Nodes are in topological order (arguments come first).
void evaluate_nodes(const Graph& g, const std::vector<double>& x, uint32_t upto, uint32_t source, const double* point,
                    std::vector<double>& val, std::vector<double>& argv) {
  for (uint32_t id = 0; id <= upto; ++id) {
    const GraphNode& n = g[id];
    if (n.op == Op::Param) {
      val[id] = x[static_cast<size_t>(n.k0)];
    } else if (n.op == Op::Obs) {
      val[id] = point && static_cast<uint32_t>(n.k0) == source ? point[static_cast<size_t>(n.k1)] : std::numeric_limits<double>::quiet_NaN();
    } else {
      argv.resize(std::max(argv.size(), n.args.size()));
      for (size_t i = 0; i < n.args.size(); ++i) argv[i] = val[n.args[i]];
      val[id] = apply(n, argv.data());
    }
  }
}
}  // namespace

GeneralModel GeneralModel::asimov(const std::vector<double>& x) const {
  if (!asimov_info) throw Error(ErrorKind::Internal, "GeneralModel::asimov", "no Asimov information");
  const AsimovInfo& A = *asimov_info;
  if (!A.unavailable.empty()) throw Error(ErrorKind::Usage, "", "no Asimov dataset for this likelihood: " + A.unavailable);
  if (x.size() != parameters.size()) throw Error(ErrorKind::Internal, "GeneralModel::asimov", "parameter vector size");
  Graph g = A.program->graph();
  std::vector<double> val(g.size()), argv;
  std::vector<EventSource> sources;
  std::vector<std::pair<uint32_t, double>> terms = A.scalar_terms;
  std::vector<double> point;
  for (size_t s = 0; s < A.program->sources().size(); ++s) {
    const EventSource& obs = A.program->sources()[s];
    const AsimovSource& a = A.asimov[s];
    if (a.grid.empty()) {  // point data: kept as observed
      sources.push_back(obs);
      continue;
    }
    double expected = a.n_obs;
    if (a.rate) {
      evaluate_nodes(g, x, *a.rate, UINT32_MAX, nullptr, val, argv);
      expected = val[*a.rate];
    }
    const size_t npoints = a.volume.size();
    std::vector<double> p(npoints);
    double total = 0;
    point.resize(a.grid.size());
    for (size_t c = 0; c < npoints; ++c) {
      for (size_t ax = 0; ax < a.grid.size(); ++ax) point[ax] = a.grid[ax][c];
      evaluate_nodes(g, x, obs.root, static_cast<uint32_t>(s), point.data(), val, argv);
      p[c] = std::exp(val[obs.root]) * a.volume[c];
      if (!std::isfinite(p[c])) p[c] = 0;
      total += p[c];
    }
    if (!(total > 0) || !std::isfinite(expected) || expected < 0)
      throw Error(ErrorKind::Usage, "", "no Asimov dataset at this point: the expected events or the density of source " + std::to_string(s) +
                                            " are not finite and positive");
    EventSource src;
    src.root = obs.root;
    src.coefficient = obs.coefficient;
    src.columns.assign(a.grid.size(), {});
    double n = 0;
    for (size_t c = 0; c < npoints; ++c) {
      const double w = expected * p[c] / total;
      if (!(w > 0)) continue;
      for (size_t ax = 0; ax < a.grid.size(); ++ax) src.columns[ax].push_back(a.grid[ax][c]);
      src.weights.push_back(w);
      n += w;
    }
    sources.push_back(std::move(src));
    if (a.rate) {
      const uint32_t nu = *a.rate;
      terms[a.extended_term].first = g.add2(Op::Sub, nu, g.add2(Op::Mul, g.constant(n), g.add1(Op::Log, nu)));
    }
  }
  GeneralModel out = *this;
  for (const auto& [name, node] : A.global_means) {
    for (model::Parameter& par : out.parameters) {
      if (par.name != name || !par.fixed) continue;
      evaluate_nodes(A.program->graph(), x, node, UINT32_MAX, nullptr, val, argv);
      par.init = val[node];
    }
  }
  out.graph_nodes = g.size();
  out.program = std::make_shared<Program>(std::move(g), std::move(sources), std::move(terms), out.parameters.size());
  out.events = out.program->events();
  out.selection = selection + ", Asimov dataset";
  return out;
}

GeneralModel build_general(const Node& root, const GeneralOptions& options) {
  Document doc(root);
  GeneralModel out;
  out.analyses = doc.analysis_names();
  out.likelihoods = doc.likelihood_names();
  const Analysis* analysis = nullptr;
  std::vector<std::string> chosen = select_likelihoods(doc, options.analysis, options.likelihoods, &analysis, &out.selection);
  Lowerer L(doc);
  for (const std::string& name : chosen) L.lower_likelihood(*doc.likelihood(name));

  // Parameters: bounds from the domains, values and const flags from the point (SPEC §13.15–16);
  // the variates of aux distributions are global observables (fixed).
  const auto bounds = doc.bounds(analysis ? analysis->domains : std::vector<std::string>{});
  const auto point = doc.point(analysis ? analysis->init : std::string());
  for (const std::string& name : L.param_names) {
    model::Parameter p;
    p.name = name;
    if (auto b = bounds.find(name); b != bounds.end()) {
      p.lo = b->second.min;
      p.hi = b->second.max;
    }
    bool have_value = false;
    if (auto v = point.find(name); v != point.end()) {
      p.init = v->second.value;
      p.fixed = v->second.is_const;
      have_value = true;
    }
    if (!have_value) p.init = std::isfinite(p.lo) && std::isfinite(p.hi) ? 0.5 * (p.lo + p.hi) : std::isfinite(p.lo) && p.lo > 0 ? p.lo : std::isfinite(p.hi) && p.hi < 0 ? p.hi : 0.0;
    if (L.global_observables.count(name)) p.fixed = true;
    if (p.init < p.lo || p.init > p.hi) {
      if (p.fixed) {
        p.lo = std::min(p.lo, p.init);
        p.hi = std::max(p.hi, p.init);
      } else {
        throw Error(ErrorKind::Input, "/parameter_points", "initial value " + std::to_string(p.init) + " of '" + name +
                                                              "' is outside its domain [" + std::to_string(p.lo) + ", " + std::to_string(p.hi) + "]");
      }
    }
    const double width = p.hi - p.lo;
    p.step = std::isfinite(width) ? std::max(1e-3 * width, std::min(0.05 * width, std::max(0.1 * std::fabs(p.init), 0.1))) : std::max(0.1 * std::fabs(p.init), 0.1);
    out.parameters.push_back(p);
  }
  if (analysis && !analysis->pois.empty()) {
    const std::string& poi = analysis->pois.front();
    for (uint32_t i = 0; i < out.parameters.size(); ++i)
      if (out.parameters[i].name == poi) out.poi = i;
    if (!out.poi) throw Error(ErrorKind::Input, analysis->node.pointer(), "POI '" + poi + "' is not a parameter of the likelihood");
  } else if (!analysis) {
    // Likelihoods chosen by name (--likelihood): the POI of the analyses built on them, when they
    // name one and agree (the pyhs3 benchmark files: one analysis per channel, all with mu_sig).
    std::string common;
    bool agree = true;
    for (const std::string& aname : doc.analysis_names()) {
      const Analysis* a = doc.analysis(aname);
      if (!a || a->pois.empty() || std::find(chosen.begin(), chosen.end(), a->likelihood) == chosen.end()) continue;
      if (!common.empty() && common != a->pois.front()) agree = false;
      common = a->pois.front();
    }
    for (uint32_t i = 0; agree && !common.empty() && i < out.parameters.size(); ++i)
      if (out.parameters[i].name == common) out.poi = i;
    if (!agree) spdlog::info("the analyses of the chosen likelihoods name different POIs: give one with --poi");
  }
  out.graph_nodes = L.g.size();
  auto info = std::make_shared<AsimovInfo>();
  info->asimov = std::move(L.asimov_sources);
  info->scalar_terms = L.scalar_terms;
  info->global_means = std::move(L.global_means);
  info->unavailable = std::move(L.asimov_unavailable);
  out.program = std::make_shared<Program>(std::move(L.g), std::move(L.sources), std::move(L.scalar_terms), out.parameters.size());
  info->program = out.program;
  out.asimov_info = std::move(info);
  out.events = out.program->events();
  spdlog::debug("{} ({})", out.summary(), out.selection);
  return out;
}

}  // namespace hs3fit::hs3
