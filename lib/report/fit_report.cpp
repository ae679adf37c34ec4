#include "report/fit_report.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "json/json_writer.h"

namespace hs3fit::report {

namespace {

std::string bound_text(double v) {
  if (std::isinf(v)) return v > 0 ? "+inf" : "-inf";
  return fmt::format("{:g}", v);
}

size_t name_width(const model::Model& m) {
  size_t w = 9;
  for (const auto& p : m.parameters) w = std::max(w, p.name.size());
  return std::min<size_t>(w, 48);
}

std::string poi_name(const model::Model& m) { return m.poi ? m.parameters[*m.poi].name : std::string(); }

}  // namespace

std::string fit_table(const model::Model& m, const fit::FitResult& r, const RunInfo& info) {
  std::string out;
  const size_t w = name_width(m);
  out += fmt::format("workspace   {}\n", info.workspace);
  if (!info.measurement.empty()) out += fmt::format("measurement {}   POI {}\n", info.measurement, poi_name(m).empty() ? "(none)" : poi_name(m));
  out += fmt::format("status      {}{}\n", r.status, r.converged ? "" : "  ** fit did not converge **");
  out += fmt::format("-ln L       {:.10f}   (twice_nll {:.10f})\n", r.nll, 2 * r.nll);
  out += fmt::format("EDM         {:.3g}   (goal {:.3g})   iterations {}   gradient evaluations {}\n", r.edm, r.edm_goal,
                     r.iterations, r.function_evaluations);
  if (!r.at_limit.empty()) {
    std::string names;
    for (const auto& n : r.at_limit) names += (names.empty() ? "" : ", ") + n;
    out += fmt::format("at limit    {}\n", names);
  }
  out += fmt::format("\n{:<{}}  {:>14}  {:>12}  {:>10}  {:>21}\n", "parameter", w, "value", "error", "init", "bounds");
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    const auto& p = m.parameters[i];
    std::string err = p.fixed ? "fixed" : fmt::format("{:.6g}", r.errors[i]);
    std::string mark = (m.poi && *m.poi == i) ? "  (POI)" : "";
    out += fmt::format("{:<{}}  {:>14.8g}  {:>12}  {:>10.4g}  {:>21}{}\n", p.name, w, r.values[i], err, p.init,
                       "[" + bound_text(p.lo) + ", " + bound_text(p.hi) + "]", mark);
  }
  out += fmt::format("\ncovariance  {}\n", r.covariance_valid           ? "accurate"
                                           : r.covariance_forced_posdef ? "forced pos. def. (errors approximate)"
                                                                        : "not available");
  out += fmt::format("time        {:.4f} s total (parse {:.4f}, build {:.4f}, compile {:.4f}, minimize {:.4f}, hessian {:.4f})\n",
                     info.total_s, info.parse_s, info.build_s, info.compile_s, r.time_minimize_s, r.time_hessian_s);
  return out;
}

std::string fit_json(const model::Model& m, const fit::FitResult& r, const RunInfo& info) {
  json::Writer w;
  w.begin_object();
  w.key("workspace").value(info.workspace);
  w.key("measurement").value(info.measurement);
  w.key("poi");
  if (m.poi) w.value(m.parameters[*m.poi].name); else w.null();
  w.key("nll").value(r.nll);
  w.key("twice_nll").value(2 * r.nll);
  w.key("status").value(r.status);
  w.key("converged").value(r.converged);
  w.key("edm").value(r.edm);
  w.key("edm_goal").value(r.edm_goal);
  w.key("covariance_status").value(r.covariance_valid ? "accurate" : r.covariance_forced_posdef ? "forced_posdef" : "unavailable");
  w.key("parameters_at_limit").strings(r.at_limit);
  w.key("iterations").value(r.iterations);
  w.key("gradient_evaluations").value(r.function_evaluations);
  w.key("strategy").value(r.strategy);
  if (m.poi) {
    w.key("poi_hat").value(r.values[*m.poi]);
    w.key("poi_error").value(r.errors[*m.poi]);
  }
  w.key("mle_parameters").begin_object();
  for (size_t i = 0; i < m.parameters.size(); ++i) w.key(m.parameters[i].name).value(r.values[i]);
  w.end_object();
  w.key("parameters").begin_array();
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    const auto& p = m.parameters[i];
    const bool at_limit = std::find(r.at_limit.begin(), r.at_limit.end(), p.name) != r.at_limit.end();
    w.begin_object();
    w.key("name").value(p.name);
    w.key("value").value(r.values[i]);
    w.key("error").value(r.errors[i]);
    w.key("init").value(p.init);
    w.key("bounds").numbers({p.lo, p.hi});
    w.key("fixed").value(p.fixed);
    w.key("at_limit").value(at_limit);
    w.end_object();
  }
  w.end_array();
  w.key("correlation").begin_object();
  std::vector<std::string> names;
  for (uint32_t i : r.free) names.push_back(m.parameters[i].name);
  w.key("names").strings(names);
  w.key("matrix").begin_array();
  const auto n = static_cast<Eigen::Index>(r.free.size());
  if (r.covariance.rows() == n) {
    for (Eigen::Index i = 0; i < n; ++i) {
      std::vector<double> row(static_cast<size_t>(n));
      for (Eigen::Index j = 0; j < n; ++j)
        row[static_cast<size_t>(j)] = r.covariance(i, j) / std::sqrt(r.covariance(i, i) * r.covariance(j, j));
      w.numbers(row);
    }
  }
  w.end_array();
  w.end_object();
  w.key("timing_s").begin_object();
  w.key("parse").value(info.parse_s);
  w.key("build").value(info.build_s);
  w.key("compile").value(info.compile_s);
  w.key("minimize").value(r.time_minimize_s);
  w.key("hessian").value(r.time_hessian_s);
  w.key("total").value(info.total_s);
  w.end_object();
  w.end_object();
  return w.str();
}

std::string eval_table(const model::Model& m, const EvalResult& e, const RunInfo& info) {
  std::string out;
  out += fmt::format("workspace   {}\n", info.workspace);
  out += fmt::format("-ln L       {:.12f}\ntwice_nll   {:.12f}\n", e.nll, 2 * e.nll);
  const size_t w = name_width(m);
  out += fmt::format("\n{:<{}}  {:>16}{}\n", "parameter", w, "value", e.gradient.empty() ? "" : "   d(-ln L)/dθ");
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    out += fmt::format("{:<{}}  {:>16.10g}", m.parameters[i].name, w, e.values[i]);
    if (!e.gradient.empty()) out += fmt::format("   {:>14.8g}", e.gradient[i]);
    out += '\n';
  }
  return out;
}

std::string eval_json(const model::Model& m, const EvalResult& e, const RunInfo& info) {
  json::Writer w;
  w.begin_object();
  w.key("workspace").value(info.workspace);
  w.key("nll").value(e.nll);
  w.key("twice_nll").value(2 * e.nll);
  w.key("parameters").begin_object();
  for (size_t i = 0; i < m.parameters.size(); ++i) w.key(m.parameters[i].name).value(e.values[i]);
  w.end_object();
  if (!e.gradient.empty()) {
    w.key("gradient").begin_object();
    for (size_t i = 0; i < m.parameters.size(); ++i) w.key(m.parameters[i].name).value(e.gradient[i]);
    w.end_object();
  }
  w.end_object();
  return w.str();
}

// ------------------------------------------------------------------------------ fit --yields

namespace {
std::string value_pm(double v, double e, bool with_error) {
  if (!with_error) return fmt::format("{:.6g}", v);
  return std::isfinite(e) ? fmt::format("{:.6g} ± {:.3g}", v, e) : fmt::format("{:.6g} ± ?", v);
}
}  // namespace

std::string fit_yields_table(const std::vector<model::ChannelYields>& pre, const infer::YieldErrors& pre_err,
                             const std::vector<model::ChannelYields>& post, const infer::YieldErrors* post_err) {
  std::string out = "\nYields per channel and sample (pre-fit: constraint widths, post-fit: fit covariance; linear propagation)\n";
  size_t w = 10;
  for (const auto& c : pre)
    for (const auto& s : c.samples) w = std::max(w, s.name.size());
  const bool have_post = !post.empty();
  for (size_t i = 0; i < pre.size(); ++i) {
    const auto& c = pre[i];
    out += fmt::format("channel {} ({} bins)\n", c.name, c.expected.size());
    out += fmt::format("  {:<{}}  {:>24}{}\n", "sample", w, "pre-fit", have_post ? fmt::format("  {:>24}", "post-fit") : "");
    for (size_t j = 0; j < c.samples.size(); ++j) {
      out += fmt::format("  {:<{}}  {:>24}", c.samples[j].name, w, value_pm(c.samples[j].total, pre_err.channels[i].samples[j].total, true));
      if (have_post)
        out += fmt::format("  {:>24}", value_pm(post[i].samples[j].total, post_err ? post_err->channels[i].samples[j].total : 0.0, post_err));
      out += '\n';
    }
    out += fmt::format("  {:<{}}  {:>24}", "total", w, value_pm(c.expected_total, pre_err.channels[i].expected_total, true));
    if (have_post) out += fmt::format("  {:>24}", value_pm(post[i].expected_total, post_err ? post_err->channels[i].expected_total : 0.0, post_err));
    out += fmt::format("\n  {:<{}}  {:>24}\n", "observed", w, fmt::format("{:.6g}", c.observed_total));
  }
  return out;
}

namespace {
void write_yield_channels(json::Writer& w, const std::vector<model::ChannelYields>& cs, const infer::YieldErrors* err) {
  w.begin_array();
  for (size_t i = 0; i < cs.size(); ++i) {
    const auto& c = cs[i];
    w.begin_object();
    w.key("name").value(c.name);
    w.key("samples").begin_array();
    for (size_t j = 0; j < c.samples.size(); ++j) {
      const auto& s = c.samples[j];
      w.begin_object().key("name").value(s.name).key("total").value(s.total);
      w.key("total_error");
      if (err) w.value(err->channels[i].samples[j].total); else w.null();
      w.key("bins").numbers(s.bins);
      if (err) w.key("bins_error").numbers(err->channels[i].samples[j].bins);
      w.end_object();
    }
    w.end_array();
    w.key("expected").numbers(c.expected);
    if (err) w.key("expected_error").numbers(err->channels[i].expected);
    w.key("expected_total").value(c.expected_total);
    w.key("expected_total_error");
    if (err) w.value(err->channels[i].expected_total); else w.null();
    w.key("observed").numbers(c.observed);
    w.key("observed_total").value(c.observed_total);
    w.end_object();
  }
  w.end_array();
}
}  // namespace

std::string fit_yields_json_members(const std::vector<model::ChannelYields>& pre, const infer::YieldErrors& pre_err,
                                    const std::vector<model::ChannelYields>& post, const infer::YieldErrors* post_err) {
  json::Writer w;
  w.begin_object();
  w.key("yields").begin_object();
  w.key("prefit");
  write_yield_channels(w, pre, &pre_err);
  w.key("postfit");
  write_yield_channels(w, post, post_err);
  w.end_object();
  w.end_object();
  return w.str();
}

}  // namespace hs3fit::report
