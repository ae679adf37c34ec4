#include "report/impacts_report.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "json/json_writer.h"
#include "report/plot.h"
#include "report/pulls_report.h"

namespace hs3fit::report {

namespace {
std::string num(double v, const char* f) { return std::isfinite(v) ? fmt::format(fmt::runtime(f), v) : std::string("-"); }
const char* kind_name(const infer::Pull& p) {
  if (!p.constrained) return "none";
  return p.kind == model::ConstraintKind::Gaussian ? "gaussian" : "poisson";
}
}  // namespace

std::string impacts_table(const model::Model& m, const infer::ImpactsResult& r, const RunInfo& info) {
  const std::string poi = m.parameters[r.poi].name;
  std::string out = fmt::format("workspace   {}\nmeasurement {}   POI {}\n", info.workspace, info.measurement, poi);
  out += fmt::format("best fit    {} = {:.6g} ± {:.4g}   -ln L = {:.8f}   {}\n", poi, r.poi_hat, r.poi_error, r.nominal.nll,
                     r.nominal.status);
  out += fmt::format("\nImpacts on {} (Δ{} when the parameter is fixed at θ̂ ± σ̂ post-fit, θ̂ ± Δθ pre-fit), ranked by post-fit impact:\n",
                     poi, poi);
  size_t w = 9;
  for (const auto& im : r.impacts) w = std::max(w, im.pull.name.size());
  out += fmt::format("{:>4}  {:<{}}  {:>7}  {:>10}  {:>11}  {:>11}  {:>11}  {:>11}  {}\n", "rank", "parameter", w, "pull", "constraint",
                     "post +σ̂", "post −σ̂", "pre +Δθ", "pre −Δθ", "notes");
  for (size_t k = 0; k < r.impacts.size(); ++k) {
    const infer::Impact& im = r.impacts[k];
    std::string notes = im.pull.constrained ? "" : "unconstrained";
    for (const std::string& f : im.failed) notes += (notes.empty() ? "" : "; ") + std::string("failed ") + f;
    out += fmt::format("{:>4}  {:<{}}  {:>7}  {:>10}  {:>11}  {:>11}  {:>11}  {:>11}  {}\n", k + 1, im.pull.name, w,
                       num(im.pull.pull, "{:+.3f}"), num(im.pull.constraint, "{:.3f}"), num(im.postfit_up, "{:+.4g}"),
                       num(im.postfit_down, "{:+.4g}"), num(im.prefit_up, "{:+.4g}"), num(im.prefit_down, "{:+.4g}"), notes);
  }
  if (r.impacts.size() < r.ranked) out += fmt::format("({} more not shown: --top)\n", r.ranked - r.impacts.size());
  out += fmt::format("\nfits        1 nominal + {} conditional ({} finished by the minimizer){}   time {:.3f} s (nominal {:.3f} s, impacts {:.3f} s, load {:.3f} s)\n", r.fits, r.minimizer_fits,
                     r.converged ? "" : "   ** some fits did not converge **", info.total_s, r.time_nominal_s, r.time_impacts_s,
                     info.parse_s + info.build_s);
  return out;
}

std::string impacts_json(const model::Model& m, const infer::ImpactsResult& r, const RunInfo& info) {
  json::Writer w;
  w.begin_object();
  w.key("workspace").value(info.workspace);
  w.key("measurement").value(info.measurement);
  w.key("poi").value(m.parameters[r.poi].name);
  w.key("poi_hat").value(r.poi_hat);
  w.key("poi_error").value(r.poi_error);
  w.key("nominal").begin_object();
  w.key("nll").value(r.nominal.nll);
  w.key("status").value(r.nominal.status);
  w.key("converged").value(r.nominal.converged);
  w.key("covariance_status").value(r.nominal.covariance_forced_posdef ? "forced_posdef" : r.nominal.covariance_valid ? "accurate" : "unavailable");
  w.end_object();
  w.key("sorted").value(true);
  w.key("sorted_by").value("max(|impact_postfit_up|, |impact_postfit_down|), largest first");
  w.key("impacts").begin_array();
  for (const infer::Impact& im : r.impacts) {
    w.begin_object();
    w.key("parameter").value(im.pull.name);
    w.key("constraint_type").value(kind_name(im.pull));
    w.key("value").value(im.pull.value);
    w.key("error").value(im.pull.error);
    w.key("center").value(im.pull.center);
    w.key("prefit_width").value(im.pull.prefit_width);
    w.key("pull").value(im.pull.pull);
    w.key("constraint").value(im.pull.constraint);
    w.key("impact_prefit_up").value(im.prefit_up);
    w.key("impact_prefit_down").value(im.prefit_down);
    w.key("impact_postfit_up").value(im.postfit_up);
    w.key("impact_postfit_down").value(im.postfit_down);
    w.key("fixed_at").begin_object();
    w.key("prefit_up").value(im.prefit_up_at);
    w.key("prefit_down").value(im.prefit_down_at);
    w.key("postfit_up").value(im.postfit_up_at);
    w.key("postfit_down").value(im.postfit_down_at);
    w.end_object();
    w.key("converged").value(im.converged);
    w.key("failed").strings(im.failed);
    w.end_object();
  }
  w.end_array();
  w.key("ranked").value(r.ranked);
  w.key("fits").value(r.fits + 1);
  w.key("minimizer_fits").value(r.minimizer_fits);
  w.key("converged").value(r.converged);
  w.key("timing_s").begin_object();
  w.key("load").value(info.parse_s + info.build_s);
  w.key("nominal").value(r.time_nominal_s);
  w.key("impacts").value(r.time_impacts_s);
  w.key("total").value(info.total_s);
  w.end_object();
  w.end_object();
  return w.str();
}

void warn_impacts(const std::string& poi, const infer::ImpactsResult& r, bool nominal_usable) {
  if (std::find(r.nominal.at_limit.begin(), r.nominal.at_limit.end(), poi) != r.nominal.at_limit.end())
    spdlog::warn("the POI '{}' is at its bound ({:g}): shifts towards the bound cannot move it, so impacts are truncated; "
                 "consider widening it (--bounds {}=LO:HI)", poi, r.poi_hat, poi);
  if (!nominal_usable) spdlog::warn("nominal fit did not converge: {} (EDM {:.3g})", r.nominal.status, r.nominal.edm);
  for (const infer::Impact& im : r.impacts)
    for (const std::string& f : im.failed) spdlog::warn("impact of '{}': fit {} did not converge", im.pull.name, f);
}

void plot_impacts(const model::Model& m, const infer::ImpactsResult& r, const std::string& path, const std::string& option) {
  const int n = static_cast<int>(r.impacts.size());
  const std::string poi = m.parameters[r.poi].name;
  double imax = 0, pmax = 2.0;
  size_t longest = 10;
  for (const infer::Impact& im : r.impacts) {
    for (double v : {im.prefit_up, im.prefit_down, im.postfit_up, im.postfit_down})
      if (std::isfinite(v)) imax = std::max(imax, std::abs(v));
    const double reach = std::abs(im.pull.pull) + (std::isfinite(im.pull.constraint) ? im.pull.constraint : 0.0);
    if (std::isfinite(reach)) pmax = std::max(pmax, std::min(reach + 0.2, 10.0));
    longest = std::max(longest, im.pull.name.size() + (im.pull.constrained ? 0 : 7));
  }
  if (imax <= 0) imax = 1;
  imax *= 1.1 * pmax / std::ceil(pmax);  // impact axis spans the same fraction as the pull axis
  const double pull_range = std::ceil(pmax);
  const int height = 170 + 22 * std::max(n, 4);
  const int width = 700 + static_cast<int>(9.0 * static_cast<double>(longest));
  std::string s = plot::terminal(path, width, height, option);
  s += "set output " + plot::quote(path) + "\n";
  // rows: y, pull, constraint, prefit up, prefit down, postfit up, postfit down, label
  s += "$impacts << EOD\n";
  for (int k = 0; k < n; ++k) {
    const infer::Impact& im = r.impacts[static_cast<size_t>(k)];
    const std::string label = im.pull.constrained ? im.pull.name : im.pull.name + " (free)";
    s += fmt::format("{} {} {} {} {} {} {} {}\n", n - k, gp_number(im.pull.pull), gp_number(im.pull.constraint), gp_number(im.prefit_up),
                     gp_number(im.prefit_down), gp_number(im.postfit_up), gp_number(im.postfit_down), gp_field(label));
  }
  s += "EOD\n";
  const double half = 0.36;
  s += fmt::format("set yrange [0.3:{}]\nset xrange [{}:{}]\nset x2range [{}:{}]\n", n + 0.7, -pull_range, pull_range, -imax, imax);
  s += "set xtics 1 out nomirror\nset x2tics out nomirror\nset mxtics 2\n";
  // Names as explicit tic labels, so rows without a pull point (unconstrained) keep theirs.
  std::string tics;
  for (int k = 0; k < n; ++k) {
    const infer::Impact& im = r.impacts[static_cast<size_t>(k)];
    tics += fmt::format("{}{} {}", k ? ", " : "", plot::quote(im.pull.constrained ? im.pull.name : im.pull.name + " (free)"), n - k);
  }
  s += "set ytics scale 0 nomirror (" + tics + ")\n";
  s += "set grid x2tics lc rgb '#cccccc' dt 3\n";
  s += "set xlabel 'pull (θ − θ0)/Δθ,  bars: post-fit σ/Δθ'\n";
  s += "set x2label " + plot::quote(fmt::format("impact on {} of fixing the parameter at +-1 sigma   ({} = {:.4g} +- {:.3g})", poi, poi, r.poi_hat, r.poi_error)) + "\n";
  s += "set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#555555' front\n";
  s += "set arrow 2 from -1, graph 0 to -1, graph 1 nohead dt 3 lc rgb '#999999' back\n";
  s += "set arrow 3 from 1, graph 0 to 1, graph 1 nohead dt 3 lc rgb '#999999' back\n";
  s += "set lmargin at screen " + fmt::format("{:.3f}", std::min(0.6, (30.0 + 9.0 * static_cast<double>(longest)) / width)) + "\n";
  s += "set rmargin 4\n";
  s += "set key bmargin center horizontal samplen 2 width 1\n";
  if (n == 0) {
    s += "set label 'no nuisance parameters' at graph 0.5, graph 0.5 center\nset ytics ()\nplot 1/0 notitle\n";
  } else {
    auto box = [&](int col, const char* colour, const char* fill, const char* title) {
      return fmt::format("$impacts using (${0}/2):1:(0):(${0}):($1-{1}):($1+{1}) axes x2y1 with boxxyerror lc rgb '{3}' lw 1.5 fs {2} title '{4}'",
                         col, half, fill, colour, title);
    };
    s += "plot " + box(4, "#1f5fbf", "empty", "pre-fit +1σ") + ", \\\n  " +
         box(5, "#2ca02c", "empty", "pre-fit -1σ") + ", \\\n  " +
         box(6, "#1f5fbf", "transparent solid 0.45", "post-fit +1σ") + ", \\\n  " +
         box(7, "#2ca02c", "transparent solid 0.45", "post-fit -1σ") + ", \\\n  " +
         "$impacts using 2:1:3 axes x1y1 with xerrorbars pt 7 ps 0.8 lw 1.5 lc rgb 'black' title 'pull'\n";
  }
  plot::run_gnuplot(s, path, option);
}

}  // namespace hs3fit::report
