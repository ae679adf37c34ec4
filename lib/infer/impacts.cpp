#include "infer/impacts.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <memory>
#include <numeric>

#include <Eigen/Cholesky>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "eval/evaluator.h"
#include "infer/patchset_limits.h"
#include "json/json_reader.h"
#include "json/json_tree.h"
#include "json/json_writer.h"
#include "tape/compiler.h"
#include "tape/interpolation.h"

namespace hs3fit::infer {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// Start points for the fits with one parameter k fixed at a value: Newton steps on the other
// free parameters with the Hessian H of the nominal minimum held fixed (a chord method: one
// gradient per step, no new Hessian), from x̂ with x_k moved. The first step is the conditional
// mean x̂ − H_rr⁻¹ H_rk (at − x̂_k), exact for a quadratic −ln L; the next ones correct for the
// model's curvature. Each step is accepted only if −ln L decreases (halved up to 6 times).
// The minimizer then starts next to the conditional minimum and only has to verify it.
class ConditionalStarter {
 public:
  ConditionalStarter(const model::Model& m, const fit::FitResult& nominal, size_t max_dense)
      : m_(m), nominal_(nominal), tape_(tape::compile(m)), ev_(tape_) {
    objective_ = [this](const double* x, double* g) { return g ? ev_.nll_and_gradient(x, g) : ev_.nll(x); };
    edm_goal_ = nominal.edm_goal > 0 ? nominal.edm_goal : 1e-7;
    // Parameters the nominal fit left on a bound stay there (checked at the end: the gradient
    // must push them outwards); the Newton steps move the others.
    for (uint32_t p : nominal.free) {
      const bool at_bound = std::find(nominal.at_limit.begin(), nominal.at_limit.end(), m.parameters[p].name) != nominal.at_limit.end();
      (at_bound ? held_ : free_).push_back(p);
    }
    if (free_.empty() || free_.size() > max_dense) return;  // dense H too big: plain warm starts
    const Eigen::MatrixXd h = fit::gradient_fd_hessian(objective_, nominal.values, free_, m.parameters, &evaluations_);
    Eigen::LLT<Eigen::MatrixXd> llt(h);
    if (!h.allFinite() || llt.info() != Eigen::Success) return;
    inverse_ = llt.solve(Eigen::MatrixXd::Identity(h.rows(), h.cols()));
    if (!inverse_.allFinite()) inverse_.resize(0, 0);
  }

  struct Start {
    std::vector<double> x;
    double edm = std::numeric_limits<double>::infinity();  // ½ g_rᵀ (H_rr)⁻¹ g_r at x (nominal H)
    int steps = 0;
  };

  Start start(uint32_t k, double at) {
    Start out;
    std::vector<double>& x = out.x;
    x = nominal_.values;
    x[k] = at;
    const auto it = std::find(free_.begin(), free_.end(), k);
    if (it == free_.end() || inverse_.size() == 0) return out;
    const auto col = static_cast<Eigen::Index>(it - free_.begin());
    const auto n = static_cast<Eigen::Index>(free_.size());
    const double ckk = inverse_(col, col);
    if (!(ckk > 0)) return out;
    std::vector<double> g(x.size()), xn(x.size()), gn(x.size());
    double f = objective_(x.data(), g.data());
    ++evaluations_;
    if (!std::isfinite(f)) return out;
    Eigen::VectorXd gr(n), step(n);
    for (int iter = 0; iter < 60; ++iter) {
      // Newton step on the free parameters except k: −(H_rr)⁻¹ g_r, with (H_rr)⁻¹ from the
      // full inverse C = H⁻¹ by the Schur complement: C_rr − C_rk C_kr / C_kk (O(n²) per step).
      for (Eigen::Index a = 0; a < n; ++a) gr[a] = a == col ? 0.0 : g[free_[static_cast<size_t>(a)]];
      const Eigen::VectorXd u = inverse_ * gr;
      step = -(u - inverse_.col(col) * (u[col] / ckk));
      step[col] = 0;
      const double edm = -0.5 * gr.dot(step);
      spdlog::trace("impacts: chord step {} for parameter {}: -ln L {:.12g}, EDM {:.3g}", iter, k, f, edm);
      if (!step.allFinite()) break;
      out.edm = edm;
      out.steps = iter;
      if (!(edm > 1e-6 * edm_goal_)) break;
      bool accepted = false;
      for (double t = 1.0; t > 0.01 && !accepted; t *= 0.5) {
        xn = x;
        for (Eigen::Index a = 0; a < n; ++a) {
          if (a == col) continue;
          const uint32_t p = free_[static_cast<size_t>(a)];
          xn[p] = std::clamp(x[p] + t * step[a], m_.parameters[p].lo, m_.parameters[p].hi);
        }
        const double fn = objective_(xn.data(), gn.data());
        ++evaluations_;
        if (std::isfinite(fn) && fn < f) {
          x.swap(xn);
          g.swap(gn);
          f = fn;
          accepted = true;
        }
      }
      if (!accepted) break;
    }
    // A held parameter that the gradient pulls off its bound: not a conditional minimum.
    for (uint32_t p : held_) {
      const model::Parameter& par = m_.parameters[p];
      const bool at_lo = x[p] - par.lo <= par.hi - x[p];
      if ((at_lo && g[p] < -1e-6) || (!at_lo && g[p] > 1e-6)) out.edm = std::numeric_limits<double>::infinity();
    }
    return out;
  }
  double edm_goal() const { return edm_goal_; }

 private:
  const model::Model& m_;
  const fit::FitResult& nominal_;
  tape::Tape tape_;
  eval::Evaluator ev_;
  fit::Objective objective_;
  std::vector<uint32_t> free_, held_;  // free parameters moved by the steps / left on their bound
  Eigen::MatrixXd inverse_;  // H⁻¹ at the nominal minimum (free_ × free_); empty: no chord steps
  double edm_goal_ = 1e-7;
  int evaluations_ = 0;
};

}  // namespace

// ------------------------------------------------------------------------------ pulls

std::vector<PrefitWidth> prefit_widths(const model::Model& m) {
  std::vector<PrefitWidth> out(m.parameters.size());
  for (const model::Constraint& c : m.constraints) {
    PrefitWidth& w = out[c.param];
    w.constrained = true;
    w.kind = c.kind;
    if (c.kind == model::ConstraintKind::Gaussian) {
      w.center = c.aux;
      w.width = c.sigma;
    } else {
      w.center = c.aux / c.tau;
      w.width = 1.0 / std::sqrt(c.tau);
    }
  }
  return out;
}

std::vector<Pull> pulls(const model::Model& m, const fit::FitResult& fit) {
  const std::vector<PrefitWidth> widths = prefit_widths(m);
  std::vector<Pull> out;
  for (uint32_t i = 0; i < m.parameters.size(); ++i) {
    if (m.parameters[i].fixed || (m.poi && *m.poi == i)) continue;
    Pull p;
    p.param = i;
    p.name = m.parameters[i].name;
    p.value = fit.values[i];
    // No covariance (fit --no-hesse, or a failed HESSE): no error, rather than a misleading 0.
    const bool have_errors = !fit.errors.empty() && fit.covariance.size() > 0;
    p.error = have_errors ? fit.errors[i] : kNaN;
    p.constrained = widths[i].constrained;
    p.kind = widths[i].kind;
    if (p.constrained) {
      p.center = widths[i].center;
      p.prefit_width = widths[i].width;
      p.pull = (p.value - p.center) / p.prefit_width;
      p.constraint = p.error / p.prefit_width;
    } else {
      p.center = p.prefit_width = p.pull = p.constraint = kNaN;
    }
    out.push_back(std::move(p));
  }
  return out;
}

// ------------------------------------------------------------------------------ impacts

double Impact::rank_key() const {
  if (std::isnan(postfit_up) || std::isnan(postfit_down)) return std::numeric_limits<double>::infinity();
  return std::max(std::abs(postfit_up), std::abs(postfit_down));
}

void rank_impacts(std::vector<Impact>& impacts) {
  std::stable_sort(impacts.begin(), impacts.end(), [](const Impact& a, const Impact& b) {
    const double ka = a.rank_key(), kb = b.rank_key();
    if (ka != kb) return ka > kb;
    return a.pull.param < b.pull.param;
  });
}

std::vector<uint32_t> impact_parameters(const model::Model& m, const ImpactOptions& options) {
  if (!m.poi) throw Error(ErrorKind::Usage, "--poi", "the model has no parameter of interest: name one with --poi");
  const uint32_t poi = *m.poi;
  if (m.parameters[poi].fixed)
    throw Error(ErrorKind::Usage, "--poi", "the parameter of interest '" + m.parameters[poi].name + "' is fixed: impacts need it free");
  std::vector<uint32_t> out;
  if (options.only.empty()) {
    for (uint32_t i = 0; i < m.parameters.size(); ++i)
      if (!m.parameters[i].fixed && i != poi) out.push_back(i);  // as pulls(): every free parameter except the POI
    return out;
  }
  for (const std::string& name : options.only) {
    const uint32_t idx = m.parameter_index(name, "--parameters");
    if (m.parameters[idx].fixed || idx == poi)
      throw Error(ErrorKind::Usage, "--parameters", "'" + name + "' is not a free nuisance parameter (fixed, or the POI)");
    out.push_back(idx);
  }
  return out;
}

struct ImpactsRun::State {
  State(const model::Model& mm, const fit::FitOptions& fo, const ImpactOptions& io)
      : m(mm), options(io), params(impact_parameters(mm, io)) {
    base.poi = *m.poi;
    const auto t0 = std::chrono::steady_clock::now();
    fit::FitOptions nominal_options = fo;
    nominal_options.compute_covariance = true;
    {
      Likelihood nominal(m, nominal_options);
      base.nominal = nominal.minimize();
    }
    base.poi_hat = base.nominal.values[base.poi];
    base.poi_error = base.nominal.errors.empty() ? kNaN : base.nominal.errors[base.poi];
    base.converged = usable(base.nominal);
    base.time_nominal_s = seconds_since(t0);
    const std::vector<Pull> all = pulls(m, base.nominal);
    for (uint32_t p : params) {
      auto it = std::find_if(all.begin(), all.end(), [&](const Pull& q) { return q.param == p; });
      selected.push_back(*it);  // impact_parameters() only returns free non-POI parameters: pulls() has each
    }
    fit::FitOptions conditional_options = fo;
    conditional_options.compute_covariance = false;
    likelihood = std::make_unique<Likelihood>(m, conditional_options);
    starter = std::make_unique<ConditionalStarter>(m, base.nominal, fo.max_dense_parameters);
  }
  const model::Model& m;
  ImpactOptions options;
  std::vector<uint32_t> params;
  ImpactsResult base;
  std::vector<Pull> selected;
  std::unique_ptr<Likelihood> likelihood;
  std::unique_ptr<ConditionalStarter> starter;
};

ImpactsRun::ImpactsRun(const model::Model& m, const fit::FitOptions& fit_options, const ImpactOptions& options)
    : s_(std::make_unique<State>(m, fit_options, options)) {}
ImpactsRun::~ImpactsRun() = default;
const ImpactsResult& ImpactsRun::nominal() const { return s_->base; }
const std::vector<Pull>& ImpactsRun::selected() const { return s_->selected; }

// The four conditional fits of one parameter. Each starts from the nominal minimum (never from
// another parameter's fits), so an impact does not depend on which others were computed before
// it: sharded runs equal the single-process run bit for bit.
Impact ImpactsRun::compute(size_t k) {
  const model::Model& m = s_->m;
  const uint32_t poi = s_->base.poi;
  const double poi_hat = s_->base.poi_hat;
  ConditionalStarter& starter = *s_->starter;
  Impact im;
  im.item = k;
  im.pull = s_->selected.at(k);
  const model::Parameter& par = m.parameters[im.pull.param];
  auto shift = [&](double at, double& at_out, const char* label) -> double {
    if (!std::isfinite(at)) {
      at_out = kNaN;
      im.failed.push_back(std::string(label) + " (no width)");
      im.converged = false;
      return kNaN;
    }
    at_out = std::clamp(at, par.lo, par.hi);
    ConditionalStarter::Start st = starter.start(im.pull.param, at_out);
    ++im.fits;
    // Converged on the nominal Hessian (MIGRAD's criterion with the nominal H⁻¹ as its
    // approximate covariance; 1000× below the EDM goal): accepted unless --verify-fits.
    if (!s_->options.verify_fits && st.edm < 1e-3 * starter.edm_goal()) {
      spdlog::debug("impacts: {} {} = {:.6g}: converged by {} Newton steps on the nominal Hessian (EDM {:.2g})", im.pull.name, label,
                    at_out, st.steps, st.edm);
      return st.x[poi] - poi_hat;
    }
    fit::FitResult r = s_->likelihood->minimize({{im.pull.param, at_out}}, st.x);
    ++im.minimizer_fits;
    spdlog::debug("impacts: {} {} = {:.6g}: {} ({} iterations, {} gradients, {}, EDM {:.2g}, {:.1f} ms)", im.pull.name, label, at_out, r.status,
                  r.iterations, r.function_evaluations, r.strategy, r.edm, 1e3 * r.time_minimize_s);
    if (!usable(r)) {
      im.failed.push_back(std::string(label) + ": " + r.status);
      im.converged = false;
      return kNaN;
    }
    return r.values[poi] - poi_hat;
  };
  const double theta = im.pull.value, post = im.pull.error;
  im.postfit_up = shift(theta + post, im.postfit_up_at, "postfit_up");
  im.postfit_down = shift(theta - post, im.postfit_down_at, "postfit_down");
  if (im.pull.constrained) {
    im.prefit_up = shift(theta + im.pull.prefit_width, im.prefit_up_at, "prefit_up");
    im.prefit_down = shift(theta - im.pull.prefit_width, im.prefit_down_at, "prefit_down");
  } else {
    im.prefit_up = im.prefit_down = im.prefit_up_at = im.prefit_down_at = kNaN;
  }
  return im;
}

void finish_impacts(ImpactsResult& r, std::vector<Impact> impacts, size_t top) {
  for (const Impact& im : impacts) {
    r.fits += im.fits;
    r.minimizer_fits += im.minimizer_fits;
    if (!im.converged) r.converged = false;
  }
  r.impacts = std::move(impacts);
  rank_impacts(r.impacts);
  r.ranked = r.impacts.size();
  if (top > 0 && r.impacts.size() > top) r.impacts.resize(top);
}

ImpactsResult impacts(const model::Model& m, const fit::FitOptions& fit_options, const ImpactOptions& options) {
  ImpactsRun run(m, fit_options, options);
  ImpactsResult res = run.nominal();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Impact> all;
  for (size_t k = 0; k < run.selected().size(); ++k) all.push_back(run.compute(k));
  finish_impacts(res, std::move(all), options.top);
  res.time_impacts_s = seconds_since(t0);
  return res;
}

// ------------------------------------------------------------------------------ sharded impacts

namespace {

std::string one_line(const json::Writer& w) {
  std::string s = w.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::string impact_record(const Impact& im) {
  json::Writer w(0);
  w.begin_object();
  w.key("k").value(im.item);
  w.key("param").value(static_cast<long long>(im.pull.param));
  w.key("name").value(im.pull.name);
  w.key("constrained").value(im.pull.constrained);
  w.key("kind").value(im.pull.kind == model::ConstraintKind::Gaussian ? "gaussian" : "poisson");
  const std::pair<const char*, double> numbers[] = {
      {"center", im.pull.center},         {"prefit_width", im.pull.prefit_width}, {"value", im.pull.value},
      {"error", im.pull.error},           {"pull", im.pull.pull},                 {"constraint", im.pull.constraint},
      {"prefit_up", im.prefit_up},        {"prefit_down", im.prefit_down},        {"postfit_up", im.postfit_up},
      {"postfit_down", im.postfit_down},  {"prefit_up_at", im.prefit_up_at},      {"prefit_down_at", im.prefit_down_at},
      {"postfit_up_at", im.postfit_up_at}, {"postfit_down_at", im.postfit_down_at}};
  for (const auto& [key, v] : numbers) {
    w.key(key);
    shards::write_number(w, v);
  }
  w.key("converged").value(im.converged);
  w.key("failed").strings(im.failed);
  w.key("fits").value(im.fits);
  w.key("minimizer_fits").value(im.minimizer_fits);
  w.end_object();
  return one_line(w);
}

size_t read_index(const json::Node& n, double limit) {
  const double v = n.as_number();
  if (v < 0 || v != std::floor(v) || v >= limit) n.fail("expected an index below " + json::format_number(limit));
  return static_cast<size_t>(v);
}

Impact read_impact(const json::Node& n) {
  Impact im;
  im.item = read_index(n.at("k"), 1e15);
  im.pull.param = static_cast<uint32_t>(read_index(n.at("param"), 4294967295.0));
  im.pull.name = n.at("name").as_string();
  im.pull.constrained = n.at("constrained").as_bool();
  const std::string kind = n.at("kind").as_string();
  if (kind != "gaussian" && kind != "poisson") n.at("kind").fail("expected \"gaussian\" or \"poisson\"");
  im.pull.kind = kind == "gaussian" ? model::ConstraintKind::Gaussian : model::ConstraintKind::Poisson;
  const std::pair<const char*, double*> numbers[] = {
      {"center", &im.pull.center},         {"prefit_width", &im.pull.prefit_width}, {"value", &im.pull.value},
      {"error", &im.pull.error},           {"pull", &im.pull.pull},                 {"constraint", &im.pull.constraint},
      {"prefit_up", &im.prefit_up},        {"prefit_down", &im.prefit_down},        {"postfit_up", &im.postfit_up},
      {"postfit_down", &im.postfit_down},  {"prefit_up_at", &im.prefit_up_at},      {"prefit_down_at", &im.prefit_down_at},
      {"postfit_up_at", &im.postfit_up_at}, {"postfit_down_at", &im.postfit_down_at}};
  for (const auto& [key, v] : numbers) *v = shards::read_number(n.at(key));
  im.converged = n.at("converged").as_bool();
  im.failed = n.at("failed").as_strings();
  im.fits = static_cast<int>(read_index(n.at("fits"), 1e6));
  im.minimizer_fits = static_cast<int>(read_index(n.at("minimizer_fits"), 1e6));
  return im;
}

std::string nominal_record(const ImpactsResult& r) {
  json::Writer w(0);
  w.begin_object();
  const std::pair<const char*, double> numbers[] = {
      {"nll", r.nominal.nll}, {"edm", r.nominal.edm}, {"poi_hat", r.poi_hat}, {"poi_error", r.poi_error}};
  for (const auto& [key, v] : numbers) {
    w.key(key);
    shards::write_number(w, v);
  }
  w.key("converged").value(r.nominal.converged);
  w.key("usable").value(usable(r.nominal));
  w.key("status").value(r.nominal.status);
  w.key("covariance_valid").value(r.nominal.covariance_valid);
  w.key("covariance_forced_posdef").value(r.nominal.covariance_forced_posdef);
  w.key("at_limit").strings(r.nominal.at_limit);
  w.end_object();
  return one_line(w);
}

std::string impacts_header(const std::string& manifest_hash, const shards::Shard& shard) {
  return fmt::format("{{\"manifest_hash\": {}, \"shard\": {}}}", json::quote(manifest_hash), json::quote(shard.name()));
}

}  // namespace

ImpactsShardRun run_impacts_shard(const model::Model& m, const fit::FitOptions& fit_options, const ImpactOptions& options,
                                  const std::string& dir, const shards::Shard& shard, const std::string& manifest_hash) {
  ImpactsShardRun run;
  run.path = shards::shard_path(dir, shard);
  const std::vector<uint32_t> params = impact_parameters(m, options);
  const std::vector<size_t> mine = shards::items_of(shard, params.size());
  run.items = mine.size();
  if (shards::shard_complete(run.path, manifest_hash)) {
    run.already_complete = true;
    run.resumed = static_cast<int>(mine.size());
    return run;
  }
  const std::string cpath = shards::checkpoint_path(dir, shard);
  shards::Checkpoint cp(cpath, impacts_header(manifest_hash, shard));
  std::map<size_t, std::string> done;  // item -> record
  for (const std::string& rec : cp.records()) {
    const json::Document d = json::parse(rec, cpath);
    const Impact im = read_impact(d.root());
    if (im.item >= params.size() || !shard.owns(im.item) || im.pull.param != params[im.item])
      throw Error(ErrorKind::Input, cpath, fmt::format("parameter {} does not belong to this shard", im.item));
    done[im.item] = rec;
  }
  run.resumed = static_cast<int>(done.size());
  if (run.resumed > 0) spdlog::info("shard {}: {} of {} parameters already done, resuming", shard.name(), run.resumed, mine.size());
  ImpactsRun ir(m, fit_options, options);  // the nominal fit: repeated by every shard, also on resume
  for (size_t k : mine) {
    if (done.count(k)) continue;
    const Impact im = ir.compute(k);
    for (const std::string& f : im.failed) spdlog::warn("impact of '{}': fit {} did not converge", im.pull.name, f);
    std::string rec = impact_record(im);
    cp.append(rec);
    done[k] = std::move(rec);
    ++run.computed;
  }
  std::string text = "{\n";
  text += fmt::format("  \"manifest_hash\": {},\n  \"shard\": [{}, {}],\n", json::quote(manifest_hash), shard.index, shard.count);
  text += "  \"nominal\": " + nominal_record(ir.nominal()) + ",\n  \"items\": [";
  bool first = true;
  for (const auto& [k, rec] : done) {
    text += (first ? "\n    " : ",\n    ") + rec;
    first = false;
  }
  text += first ? "]\n}\n" : "\n  ]\n}\n";
  shards::write_file_atomic(run.path, text);
  cp.remove();
  return run;
}

MergedImpacts merge_impacts(const std::string& dir) {
  MergedImpacts out;
  const std::string mtext = shards::read_manifest(dir);
  const std::string mpath = shards::manifest_path(dir);
  const json::Document md = json::parse(mtext, mpath);
  const json::Node man = md.root();
  if (man.at("command").as_string() != "impacts")
    throw Error(ErrorKind::Usage, mpath, "this directory holds a sharded '" + man.at("command").as_string() + "' run, not impacts");
  out.workspace = man.at("workspace").as_string();
  out.measurement = man.at("measurement").as_string();
  out.poi = man.at("poi").as_string();
  const std::vector<std::string> names = man.at("items").as_strings();
  const size_t top = read_index(man.at("top"), 1e15);
  const size_t total = names.size();
  ShardFiles sf = find_shard_files(dir, total, "parameters");
  out.shards = sf.count;
  out.problems = sf.problems;
  ImpactsResult& r = out.result;
  r.poi = 0;
  std::vector<Impact> all(total);
  std::vector<int> owner(total, 0);
  bool have_nominal = false;
  int nominal_from = 0;
  for (const auto& [i, path] : sf.files) {
    const json::Document d = json::parse_file(path);
    const json::Node root = d.root();
    const std::vector<double> id = root.at("shard").as_numbers();
    if (id.size() != 2 || id[0] != i || id[1] != sf.count) {
      out.problems.push_back(fmt::format("{}: says it is shard {}", path, json::serialize(json::to_tree(root.at("shard")))));
      continue;
    }
    const json::Node nn = root.at("nominal");
    fit::FitResult nominal;
    nominal.nll = shards::read_number(nn.at("nll"));
    nominal.edm = shards::read_number(nn.at("edm"));
    nominal.converged = nn.at("converged").as_bool();
    nominal.status = nn.at("status").as_string();
    nominal.covariance_valid = nn.at("covariance_valid").as_bool();
    nominal.covariance_forced_posdef = nn.at("covariance_forced_posdef").as_bool();
    nominal.at_limit = nn.at("at_limit").as_strings();
    const double poi_hat = shards::read_number(nn.at("poi_hat")), poi_error = shards::read_number(nn.at("poi_error"));
    if (!have_nominal) {
      r.nominal = nominal;
      r.poi_hat = poi_hat;
      r.poi_error = poi_error;
      out.nominal_usable = nn.at("usable").as_bool();
      have_nominal = true;
      nominal_from = i;
    } else if (!same_bits(nominal.nll, r.nominal.nll) || !same_bits(poi_hat, r.poi_hat) || !same_bits(poi_error, r.poi_error)) {
      spdlog::warn("shard {}'s nominal fit differs from shard {}'s (-ln L {} vs {}): shards ran on different builds or CPUs; using shard {}'s", i,
                   nominal_from, nominal.nll, r.nominal.nll, nominal_from);
    }
    std::vector<size_t> foreign, dup;
    for (const json::Node& n : root.at("items").elements()) {
      Impact im = read_impact(n);
      if (im.item >= total || shards::shard_of(im.item, sf.count) != i) {
        foreign.push_back(im.item);
        continue;
      }
      if (im.pull.name != names[im.item]) {
        out.problems.push_back(fmt::format("{}: parameter {} is '{}', the manifest says '{}'", path, im.item, im.pull.name, names[im.item]));
        continue;
      }
      if (owner[im.item]) {
        dup.push_back(im.item);
        continue;
      }
      owner[im.item] = i;
      all[im.item] = std::move(im);
    }
    if (!foreign.empty())
      out.problems.push_back(fmt::format("{}: parameters {} do not belong to shard {}/{}", path, shards::format_ranges(foreign), i, sf.count));
    if (!dup.empty()) out.problems.push_back(fmt::format("{}: parameters {} are duplicated", path, shards::format_ranges(dup)));
  }
  std::vector<size_t> missing;
  for (size_t k = 0; k < total; ++k)
    if (!owner[k]) missing.push_back(k);
  if (!missing.empty())
    out.problems.push_back(fmt::format("missing parameters ({} of {}, 0-based in the manifest's \"items\" order): {}", missing.size(), total,
                                       shards::format_ranges(missing)));
  if (!have_nominal && out.problems.empty()) out.problems.push_back("no shard holds the nominal fit");
  if (!out.problems.empty()) return out;
  r.converged = out.nominal_usable;
  finish_impacts(r, std::move(all), top);
  return out;
}

// ------------------------------------------------------------------------------ yields

std::vector<std::vector<std::vector<SparseGradient>>> yield_gradients(const model::Model& model, const std::vector<double>& x) {
  std::vector<std::vector<std::vector<SparseGradient>>> out;
  out.reserve(model.channels.size());
  // Forward mode on the same sequence of operations as model::expected_yields: the running
  // yield `value` (histosys in modifier order) and the product `factor` of the other modifiers.
  SparseGradient gv, gf;
  auto scale = [](SparseGradient& g, double s) {
    for (auto& e : g) e.second *= s;
  };
  for (const model::Channel& ch : model.channels) {
    auto& cg = out.emplace_back();
    for (const model::Sample& s : ch.samples) {
      auto& sg = cg.emplace_back(s.nominal.size());
      for (size_t b = 0; b < s.nominal.size(); ++b) {
        double value = s.nominal[b], factor = 1.0;
        gv.clear();
        gf.clear();
        for (const model::Modifier& mod : s.modifiers) {
          switch (mod.kind) {
            case model::ModifierKind::HistoSys: {
              double d = 0;
              const double v = interp::evaluate(mod.interp, x[mod.param], s.nominal[b], mod.hi_data[b], mod.lo_data[b], &d);
              if (model::is_multiplicative(mod.interp)) {
                scale(gv, v);
                gv.emplace_back(mod.param, value * d);
                value *= v;
              } else {
                gv.emplace_back(mod.param, d);
                value += v;
              }
              break;
            }
            case model::ModifierKind::NormSys: {
              double d = 0;
              double v = interp::evaluate(mod.interp, x[mod.param], 1.0, mod.hi, mod.lo, &d);
              if (!model::is_multiplicative(mod.interp)) v += 1.0;
              scale(gf, v);
              gf.emplace_back(mod.param, factor * d);
              factor *= v;
              break;
            }
            case model::ModifierKind::NormFactor:
            case model::ModifierKind::Lumi:
              scale(gf, x[mod.param]);
              gf.emplace_back(mod.param, factor);
              factor *= x[mod.param];
              break;
            case model::ModifierKind::ShapeFactor:
            case model::ModifierKind::ShapeSys:
            case model::ModifierKind::StatError:
              if (mod.bin_params[b] != model::kNoParameter) {
                const auto p = static_cast<uint32_t>(mod.bin_params[b]);
                scale(gf, x[p]);
                gf.emplace_back(p, factor);
                factor *= x[p];
              }
              break;
          }
        }
        // y = value · factor
        SparseGradient& g = sg[b];
        g.clear();
        for (const auto& e : gv) g.emplace_back(e.first, e.second * factor);
        for (const auto& e : gf) g.emplace_back(e.first, e.second * value);
        std::sort(g.begin(), g.end(), [](const auto& a, const auto& c) { return a.first < c.first; });
        size_t w = 0;
        for (size_t r = 0; r < g.size(); ++r) {
          if (w > 0 && g[w - 1].first == g[r].first) g[w - 1].second += g[r].second;
          else g[w++] = g[r];
        }
        g.resize(w);
      }
    }
  }
  return out;
}

namespace {

// σ² = gᵀ C g for a sparse gradient over all parameters; C indexed by free position.
class Propagator {
 public:
  Propagator(size_t nparams, const std::vector<uint32_t>& free, const Eigen::MatrixXd& cov)
      : cov_(cov), row_(nparams, -1), dense_(nparams, 0.0), touched_flag_(nparams, 0) {
    for (size_t k = 0; k < free.size(); ++k) row_[free[k]] = static_cast<long>(k);
  }
  double variance(const SparseGradient& g) const {
    double v = 0;
    for (const auto& [pi, gi] : g) {
      if (row_[pi] < 0) continue;
      for (const auto& [pj, gj] : g)
        if (row_[pj] >= 0) v += gi * cov_(row_[pi], row_[pj]) * gj;
    }
    return v;
  }
  // Accumulate gradients into a sum; take() returns it (sparse) and resets.
  void add(const SparseGradient& g) {
    for (const auto& [p, d] : g) {
      if (!touched_flag_[p]) {
        touched_flag_[p] = 1;
        touched_.push_back(p);
      }
      dense_[p] += d;
    }
  }
  SparseGradient take() {
    SparseGradient out;
    out.reserve(touched_.size());
    for (uint32_t p : touched_) {
      out.emplace_back(p, dense_[p]);
      dense_[p] = 0;
      touched_flag_[p] = 0;
    }
    touched_.clear();
    return out;
  }

 private:
  const Eigen::MatrixXd& cov_;
  std::vector<long> row_;
  std::vector<double> dense_;
  std::vector<char> touched_flag_;
  std::vector<uint32_t> touched_;
};

double sqrt0(double v) { return std::sqrt(std::max(v, 0.0)); }

}  // namespace

YieldErrors yield_errors(const model::Model& m, const std::vector<double>& x, const std::vector<uint32_t>& free,
                         const Eigen::MatrixXd& covariance) {
  if (covariance.rows() != static_cast<Eigen::Index>(free.size()) || covariance.cols() != covariance.rows())
    throw Error(ErrorKind::Internal, "yield_errors", "covariance does not match the free parameters");
  const auto grads = yield_gradients(m, x);
  Propagator prop(m.parameters.size(), free, covariance);
  YieldErrors out;
  for (size_t c = 0; c < m.channels.size(); ++c) {
    const size_t nb = m.channels[c].nbins();
    YieldErrors::Channel ce;
    std::vector<SparseGradient> channel_bins(nb);
    for (size_t s = 0; s < grads[c].size(); ++s) {
      YieldErrors::Sample se;
      for (size_t b = 0; b < grads[c][s].size(); ++b) se.bins.push_back(sqrt0(prop.variance(grads[c][s][b])));
      for (size_t b = 0; b < grads[c][s].size(); ++b) prop.add(grads[c][s][b]);
      se.total = sqrt0(prop.variance(prop.take()));
      ce.samples.push_back(std::move(se));
    }
    for (size_t b = 0; b < nb; ++b) {
      for (size_t s = 0; s < grads[c].size(); ++s) prop.add(grads[c][s][b]);
      ce.expected.push_back(sqrt0(prop.variance(prop.take())));
    }
    for (size_t s = 0; s < grads[c].size(); ++s)
      for (size_t b = 0; b < nb; ++b) prop.add(grads[c][s][b]);
    ce.expected_total = sqrt0(prop.variance(prop.take()));
    out.channels.push_back(std::move(ce));
  }
  return out;
}

YieldErrors prefit_yield_errors(const model::Model& m) {
  const std::vector<PrefitWidth> widths = prefit_widths(m);
  std::vector<uint32_t> free;
  for (uint32_t i = 0; i < m.parameters.size(); ++i)
    if (!m.parameters[i].fixed && widths[i].constrained) free.push_back(i);
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(free.size()), static_cast<Eigen::Index>(free.size()));
  for (size_t k = 0; k < free.size(); ++k) cov(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k)) = widths[free[k]].width * widths[free[k]].width;
  return yield_errors(m, m.initial_values(), free, cov);
}

}  // namespace hs3fit::infer
