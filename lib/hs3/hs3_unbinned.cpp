#include "hs3/hs3_unbinned.h"

#include <cmath>
#include <map>
#include <set>

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

struct ObsInfo {
  uint32_t node;
  bool ranged;
  double lo, hi;
};

struct Ctx {
  int id = 0;
  std::map<std::string, ObsInfo> obs;
};

struct Lowered {
  uint32_t node = 0;
  bool touched = false;              // depends on an observable of the context
  std::optional<uint32_t> rate;      // expected number of events (extended distributions)
};

// Variate field of a distribution evaluated without data (aux distributions, inline data).
const char* variate_field(const std::string& type) {
  if (type == "argus_dist" || type == "ARGUS_dist") return "mass";
  if (type == "crystalball_dist") return "m";
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
  bool validate = false;  // structural check only (check_object)

  Ctx context(std::map<std::string, ObsInfo> obs) {
    Ctx c;
    c.id = next_ctx_++;
    c.obs = std::move(obs);
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
      if (v && v->is_string()) {
        const std::string name = v->as_string();
        double num;
        if (!doc_.function(name) && !doc_.distribution(name) && !parses_as_number(name, &num)) global_observables.insert(name);
      }
    }
  }

  void lower_pair(const Node& dist, const std::string& dname, const Data& data, const Node& where) {
    if (dist.at("type").as_string() == "histfactory_dist")
      dist.at("type").fail("histfactory_dist in a likelihood together with other distribution types (or paired with non-binned data) is not supported yet");
    const uint32_t s = static_cast<uint32_t>(sources.size());
    std::map<std::string, ObsInfo> obs;
    for (size_t k = 0; k < data.axes.size(); ++k) {
      const Axis& a = data.axes[k];
      obs[a.name] = ObsInfo{g.obs(s, static_cast<uint32_t>(k)), a.has_min && a.has_max, a.min, a.max};
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
      src.columns.assign(data.columns.size(), {});
      for (size_t b = 0; b < data.weights.size(); ++b) {
        if (data.weights[b] == 0) continue;
        for (size_t k = 0; k < data.columns.size(); ++k) src.columns[k].push_back(data.columns[k][b]);
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
    if (rates.size() == 1) {
      const uint32_t nu = rates[0];
      scalar_terms.emplace_back(g.add2(Op::Sub, nu, g.add2(Op::Mul, g.constant(n_eff), g.add1(Op::Log, nu))), 1.0);
    }
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
      return;
    }
    event_terms.push_back(l.node);
    if (l.rate) rates.push_back(*l.rate);
  }

  // ---- values ---------------------------------------------------------------------------------

  uint32_t param(const std::string& name) {
    auto it = param_index_.find(name);
    if (it != param_index_.end()) return g.param(it->second);
    const uint32_t idx = static_cast<uint32_t>(param_names.size());
    param_names.push_back(name);
    param_index_[name] = idx;
    return g.param(idx);
  }

  Lowered value(const Node& v, const Ctx& ctx) {
    if (v.is_number()) return {g.constant(v.as_number()), false, {}};
    if (!v.is_string()) v.fail("expected a number or a name, found " + v.type_name());
    return value_name(v.as_string(), ctx, v);
  }

  Lowered value_name(const std::string& name, const Ctx& ctx, const Node& where) {
    double num;
    if (parses_as_number(name, &num)) return {g.constant(num), false, {}};
    if (auto it = ctx.obs.find(name); it != ctx.obs.end()) return {it->second.node, true, {}};
    if (const Node* f = doc_.function(name)) return function(name, *f, ctx);
    if (doc_.distribution(name)) {
      Lowered l = logpdf(name, ctx, where);
      return {g.add1(Op::Exp, l.node), l.touched, {}};
    }
    if (doc_.data(name)) where.fail("'" + name + "' is a data set, not a value");
    return {param(name), false, {}};
  }

  Lowered function(const std::string& name, const Node& f, const Ctx& ctx) {
    auto key = std::make_pair(ctx.id, name);
    if (auto it = fmemo_.find(key); it != fmemo_.end()) return it->second;
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
    } else if (type == "CMS::process_normalization") {
      out.node = process_normalization(f, ctx, out.touched);
    } else {
      f.at("type").fail("function type '" + type + "' is valid HS3 but not supported by this hs3fit build yet");
    }
    leave();
    fmemo_[key] = out;
    return out;
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

  Lowered expression(const Node& text, const Ctx& ctx) {
    auto it = parsed_.find(text.pointer());
    if (it == parsed_.end()) it = parsed_.emplace(text.pointer(), expr::parse(text.as_string(), text.pointer())).first;
    bool touched = false;
    const uint32_t n = lower_expr(it->second, ctx, text, touched);
    return {n, touched, {}};
  }

  uint32_t lower_expr(const expr::Expr& e, const Ctx& ctx, const Node& where, bool& touched) {
    using expr::Kind;
    switch (e.kind) {
      case Kind::Number: return g.constant(e.value);
      case Kind::Symbol: {
        Lowered l = value_name(e.name, ctx, where);
        touched |= l.touched;
        return l.node;
      }
      case Kind::Unary: {
        const uint32_t a = lower_expr(e.args[0], ctx, where, touched);
        if (e.name == "-") return g.add1(Op::Neg, a);
        if (e.name == "!") return g.add1(Op::Not, a);
        return a;
      }
      case Kind::Binary: {
        const uint32_t a = lower_expr(e.args[0], ctx, where, touched);
        const uint32_t b = lower_expr(e.args[1], ctx, where, touched);
        static const std::map<std::string, Op> ops = {
            {"+", Op::Add}, {"-", Op::Sub}, {"*", Op::Mul}, {"/", Op::Div}, {"^", Op::Pow},
            {"<", Op::Lt}, {"<=", Op::Le}, {">", Op::Gt}, {">=", Op::Ge}, {"==", Op::Eq},
            {"!=", Op::Ne}, {"===", Op::EqExact}, {"!==", Op::NeExact}, {"&&", Op::And}, {"||", Op::Or}};
        const Op op = ops.at(e.name);
        if (op == Op::Pow) return power(a, b);
        return g.add2(op, a, b);
      }
      case Kind::Ternary: {
        const uint32_t c = lower_expr(e.args[0], ctx, where, touched);
        const uint32_t a = lower_expr(e.args[1], ctx, where, touched);
        const uint32_t b = lower_expr(e.args[2], ctx, where, touched);
        return g.add(Op::Select, {c, a, b});
      }
      case Kind::Call: {
        std::vector<uint32_t> a;
        for (const auto& x : e.args) a.push_back(lower_expr(x, ctx, where, touched));
        static const std::map<std::string, Op> unary = {
            {"exp", Op::Exp}, {"log", Op::Log}, {"sqrt", Op::Sqrt}, {"abs", Op::Abs}, {"sin", Op::Sin},
            {"cos", Op::Cos}, {"tan", Op::Tan}, {"asin", Op::Asin}, {"acos", Op::Acos}, {"atan", Op::Atan},
            {"sinh", Op::Sinh}, {"cosh", Op::Cosh}, {"tanh", Op::Tanh}, {"erf", Op::Erf}, {"erfc", Op::Erfc},
            {"floor", Op::Floor}, {"ceil", Op::Ceil}, {"lgamma", Op::LGamma}};
        if (auto u = unary.find(e.name); u != unary.end()) return g.add1(u->second, a[0]);
        if (e.name == "pow") return power(a[0], a[1]);
        if (e.name == "min") return g.add2(Op::Min, a[0], a[1]);
        if (e.name == "max") return g.add2(Op::Max, a[0], a[1]);
        if (e.name == "atan2") return g.add2(Op::Atan2, a[0], a[1]);
        if (e.name == "log10") return g.add2(Op::Div, g.add1(Op::Log, a[0]), g.constant(M_LN10));
        if (e.name == "exp2") return power(g.constant(2), a[0]);
        if (e.name == "ifelse") return g.add(Op::Select, {a[0], a[1], a[2]});
        where.fail("function '" + e.name + "' has no lowering");
      }
    }
    return g.constant(0);
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
    auto key = std::make_pair(ctx.id, name);
    if (auto it = dmemo_.find(key); it != dmemo_.end()) return it->second;
    const Node* dist = doc_.distribution(name);
    if (!dist) where.fail("unknown distribution '" + name + "'");
    enter(name, *dist);
    Lowered out = lower_dist(*dist, ctx);
    leave();
    dmemo_[key] = out;
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
  uint32_t integrate(const Ctx& ctx, const std::string& obs, uint32_t lo, uint32_t hi, const std::function<uint32_t(const Ctx&)>& density,
                     bool cluster_hi = false) {
    const auto& rule = gauss_legendre();
    const uint32_t width = sub(hi, lo);
    std::vector<uint32_t> terms;
    for (int p = 0; p < kQuadPanels; ++p)
      for (const auto& [t, wt] : rule) {
        const double tau = (p + 0.5 * (t + 1)) / kQuadPanels;
        const double frac = cluster_hi ? 1 - (1 - tau) * (1 - tau) : tau;
        const double w = cluster_hi ? wt * 2 * (1 - tau) : wt;  // dx/dτ
        const uint32_t x = add(lo, mul(width, C(frac)));
        std::map<std::string, ObsInfo> o = ctx.obs;
        o[obs] = ObsInfo{x, false, 0, 0};
        Ctx sub_ctx = context(std::move(o));
        terms.push_back(mul(C(0.5 * w / kQuadPanels), density(sub_ctx)));
      }
    return mul(width, g.add(Op::Sum, terms));
  }

  Lowered lower_dist(const Node& d, const Ctx& ctx) {
    const std::string type = d.at("type").as_string();
    Lowered out;
    bool& t = out.touched;
    if (type == "gaussian_dist" || type == "normal_dist") {
      const uint32_t x = field(d, "x", ctx, t).node, mu = field(d, "mean", ctx, t).node, s = field(d, "sigma", ctx, t).node;
      // ln PDF = −w² − K with w = (x − μ)/(σ√2), K = ln σ + ln √(2π) [+ ln M]: two passes per event.
      const uint32_t inv = div(C(M_SQRT1_2), s);
      const uint32_t w = mul(sub(x, mu), inv);
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
      out.node = sub(g.add1(Op::Neg, K), mul(w, w));
    } else if (type == "exponential_dist") {
      const uint32_t x = field(d, "x", ctx, t).node, c = field(d, "c", ctx, t).node;
      const uint32_t cx = mul(c, x);
      if (auto ox = direct_obs(d, "x", ctx)) out.node = sub(mul(x, g.add1(Op::Neg, c)), g.add(Op::LogExpNorm, {c}, ox->lo, ox->hi));
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
    } else if (type == "crystalball_dist") {
      for (const char* k : {"alpha_L", "alpha_R", "n_L", "n_R", "sigma_L", "sigma_R"})
        if (d.get(k)) d.at(k).fail("the double-sided crystalball_dist (split _L/_R parameters) is not supported yet");
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
      auto it = parsed_.find(text.pointer());
      std::vector<std::string> obs;
      for (const std::string& sym : expr::symbols(it->second))
        if (auto o = ctx.obs.find(sym); o != ctx.obs.end() && o->second.ranged) obs.push_back(sym);
      if (obs.size() > 1) d.fail("generic_dist over more than one observable is not supported yet");
      if (obs.empty()) {
        need_axis(d, "generic_dist needs one of its symbols to be a data axis with min and max (to be normalized over)");
        out.node = log(f.node);
        return out;
      }
      const ObsInfo& o = ctx.obs.at(obs[0]);
      const uint32_t norm = integrate(ctx, obs[0], C(o.lo), C(o.hi), [&](const Ctx& c2) { return expression(text, c2).node; });
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
    } else if (type == "histfactory_dist") {
      d.at("type").fail("histfactory_dist inside another distribution or together with unbinned distributions is not supported yet");
    } else {
      d.at("type").fail("distribution type '" + type + "' is valid HS3 but not supported by this hs3fit build yet");
    }
    return out;
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
  std::map<std::pair<int, std::string>, Lowered> fmemo_, dmemo_;
  std::map<std::string, expr::Expr> parsed_;
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
  if (auto d = root.get("distributions"); !d || !d->is_array()) return false;
  auto ls = root.get("likelihoods");
  if (!ls || !ls->is_array()) return false;
  std::map<std::string, std::pair<std::string, std::string>> types;  // name → (type, pointer of type)
  for (const Node& d : root.at("distributions").elements())
    if (d.is_object() && d.get("name") && d.get("type") && d.at("name").is_string() && d.at("type").is_string())
      types.emplace(d.at("name").as_string(), std::make_pair(d.at("type").as_string(), d.at("type").pointer()));
  for (const std::string& lname : raw_selection(root, options))
    for (const Node& l : ls->elements()) {
      if (!l.is_object() || !l.get("name") || !l.at("name").is_string() || l.at("name").as_string() != lname) continue;
      if (auto ds = l.get("distributions"); ds && ds->is_array())
        for (const Node& d : ds->elements())
          if (d.is_string() && types.count(d.as_string()) && types.at(d.as_string()).first != "histfactory_dist") {
            if (where) *where = types.at(d.as_string()).second;
            return true;
          }
    }
  return false;
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
  }
  out.graph_nodes = L.g.size();
  out.program = std::make_shared<Program>(std::move(L.g), std::move(L.sources), std::move(L.scalar_terms), out.parameters.size());
  out.events = out.program->events();
  spdlog::debug("{} ({})", out.summary(), out.selection);
  return out;
}

}  // namespace hs3fit::hs3
