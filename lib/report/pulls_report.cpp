#include "report/pulls_report.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "json/json_writer.h"
#include "report/plot.h"

namespace hs3fit::report {

namespace {
const char* kind_name(model::ConstraintKind k) { return k == model::ConstraintKind::Gaussian ? "gaussian" : "poisson"; }
std::string num(double v, const char* f = "{:.4f}") { return std::isfinite(v) ? fmt::format(fmt::runtime(f), v) : std::string("-"); }
}  // namespace

std::string gp_field(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += (c == '"' || c == '\n') ? '\'' : c;
  return out + "\"";
}

std::string gp_number(double v) { return std::isfinite(v) ? fmt::format("{:.10g}", v) : std::string("?"); }

std::string pulls_table(const std::vector<infer::Pull>& pulls) {
  size_t w = 9;
  for (const auto& p : pulls) w = std::max(w, p.name.size());
  std::string out = "\nPulls of the constrained nuisance parameters: pull = (value - center)/width, constraint = error/width\n";
  out += fmt::format("{:<{}}  {:>8}  {:>9}  {:>9}  {:>12}  {:>10}  {:>8}  {:>10}\n", "parameter", w, "term", "center", "width", "value",
                     "error", "pull", "constraint");
  size_t unconstrained = 0;
  for (const auto& p : pulls) {
    if (!p.constrained) {
      ++unconstrained;
      continue;
    }
    out += fmt::format("{:<{}}  {:>8}  {:>9.4g}  {:>9.4g}  {:>12.6g}  {:>10}  {:>+8.3f}  {:>10}\n", p.name, w, kind_name(p.kind), p.center,
                       p.prefit_width, p.value, num(p.error, "{:.4g}"), p.pull, num(p.constraint, "{:.3f}"));
  }
  if (unconstrained > 0) {
    out += "Unconstrained parameters (no pull):\n";
    for (const auto& p : pulls)
      if (!p.constrained) out += fmt::format("{:<{}}  {:>8}  {:>9}  {:>9}  {:>12.6g}  {:>10}\n", p.name, w, "free", "", "", p.value, num(p.error, "{:.4g}"));
  }
  return out;
}

std::string pulls_json_members(const std::vector<infer::Pull>& pulls) {
  json::Writer w;
  w.begin_object();
  w.key("pulls").begin_array();
  for (const auto& p : pulls) {
    if (!p.constrained) continue;
    w.begin_object();
    w.key("parameter").value(p.name);
    w.key("constraint_type").value(kind_name(p.kind));
    w.key("center").value(p.center);
    w.key("prefit_width").value(p.prefit_width);
    w.key("value").value(p.value);
    w.key("error").value(p.error);
    w.key("pull").value(p.pull);
    w.key("constraint").value(p.constraint);
    w.end_object();
  }
  w.end_array();
  w.key("pulls_unconstrained").begin_array();
  for (const auto& p : pulls) {
    if (p.constrained) continue;
    w.begin_object().key("parameter").value(p.name).key("value").value(p.value).key("error").value(p.error).end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

void plot_pulls(const std::vector<infer::Pull>& pulls, const std::string& path, const std::string& option) {
  std::vector<const infer::Pull*> rows;
  for (const auto& p : pulls)
    if (p.constrained) rows.push_back(&p);
  const int n = static_cast<int>(rows.size());
  double xmax = 2.5;
  for (const auto* p : rows) {
    const double reach = std::abs(p->pull) + (std::isfinite(p->constraint) ? p->constraint : 0.0);
    if (std::isfinite(reach)) xmax = std::max(xmax, std::min(reach + 0.3, 10.0));
  }
  size_t longest = 10;
  for (const auto* p : rows) longest = std::max(longest, p->name.size());
  const int height = 130 + 17 * std::max(n, 4);
  const int width = 560 + static_cast<int>(9.0 * static_cast<double>(longest));
  std::string s = plot::terminal(path, width, height, option);
  s += "set output " + plot::quote(path) + "\n";
  s += "$pulls << EOD\n";
  for (int i = 0; i < n; ++i) {
    const auto* p = rows[static_cast<size_t>(i)];
    s += fmt::format("{} {} {} {}\n", n - i, gp_number(p->pull), gp_number(p->constraint), gp_field(p->name));
  }
  s += "EOD\n";
  s += fmt::format("set xrange [{}:{}]\nset yrange [0.3:{}]\n", -xmax, xmax, n + 0.7);
  s += "set object 1 rect from -2, graph 0 to 2, graph 1 behind fc rgb '#fff3b0' fs solid 1.0 noborder\n";
  s += "set object 2 rect from -1, graph 0 to 1, graph 1 behind fc rgb '#c6ebc0' fs solid 1.0 noborder\n";
  s += "set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#555555' front\n";
  s += "set xlabel 'pull (θ − θ0)/Δθ,  bars: post-fit σ/Δθ'\nset title 'Pulls of the constrained nuisance parameters'\n";
  s += "set xtics 1 out nomirror\nset mxtics 2\nset ytics scale 0 nomirror\nset grid xtics front lc rgb '#aaaaaa' dt 3\n";
  s += "set key off\nset lmargin at screen " + fmt::format("{:.3f}", std::min(0.6, (30.0 + 9.0 * static_cast<double>(longest)) / width)) + "\n";
  s += "set rmargin 3\n";
  if (n == 0) s += "set label 'no constrained nuisance parameters' at graph 0.5, graph 0.5 center\nset ytics ()\nplot 1/0 notitle\n";
  else s += "plot $pulls using 2:1:3:ytic(4) with xerrorbars pt 7 ps 0.8 lw 1.5 lc rgb 'black' notitle\n";
  plot::run_gnuplot(s, path, option);
}

}  // namespace hs3fit::report
