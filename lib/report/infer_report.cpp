#include "report/infer_report.h"

#include "report/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <sys/wait.h>

#include "core/error.h"
#include "infer/asymptotics.h"
#include "json/json_writer.h"

namespace hs3fit::report {

namespace {

const char* kBandLabels[5] = {"expected -2σ", "expected -1σ", "expected median", "expected +1σ", "expected +2σ"};

std::string poi_name(const model::Model& m) { return m.poi ? m.parameters[*m.poi].name : std::string("(none)"); }

std::string header(const model::Model& m, const InferInfo& info) {
  std::string out = fmt::format("workspace   {}\n", info.workspace);
  out += fmt::format("measurement {}   POI {}\n", info.measurement, poi_name(m));
  if (info.calctype == "toybased")
    out += fmt::format("method      {} test statistic, toys: {} per hypothesis, seed {}, {} threads\n", info.test_stat, info.toys, info.seed,
                       info.threads);
  else
    out += fmt::format("method      {} test statistic, asymptotic formulae (arXiv:1007.1727)\n", info.test_stat);
  return out;
}

std::string footer(const InferInfo& info) {
  return fmt::format("fits        {}   time {:.3f} s (load {:.3f} s)\n", info.fits, info.total_s, info.load_s);
}

void write_info(json::Writer& w, const model::Model& m, const InferInfo& info) {
  w.key("workspace").value(info.workspace);
  w.key("measurement").value(info.measurement);
  w.key("poi");
  if (m.poi) w.value(m.parameters[*m.poi].name); else w.null();
  w.key("calctype").value(info.calctype);
  w.key("test_stat").value(info.test_stat);
  if (info.calctype == "toybased") {
    w.key("toys").begin_object();
    w.key("ntoys").value(info.toys);
    w.key("seed").value(static_cast<long long>(info.seed));
    w.key("threads").value(info.threads);
    w.end_object();
  }
}

void write_timing(json::Writer& w, const InferInfo& info) {
  w.key("fits").value(info.fits);
  w.key("timing_s").begin_object();
  w.key("load").value(info.load_s);
  w.key("total").value(info.total_s);
  w.end_object();
}

std::vector<std::string> band_names() { return {infer::kBandNames.begin(), infer::kBandNames.end()}; }

std::string number_or_dash(double v, const char* fmtstr = "{:.6g}") {
  return std::isfinite(v) ? fmt::format(fmt::runtime(fmtstr), v) : std::string("-");
}

// Plots of scans and limits: the gnuplot plumbing is report/plot.h's.
std::string gp_quote(const std::string& s) { return plot::quote(s); }
std::string gp_terminal(const std::string& path) { return plot::terminal(path, 1000, 720, "--plot"); }
void run_gnuplot(const std::string& script, const std::string& path) { plot::run_gnuplot(script, path, "--plot"); }

}  // namespace

// ------------------------------------------------------------------------------ hypotest

std::string hypotest_table(const model::Model& m, const infer::HypotestResult& h, const infer::PValues* err, const InferInfo& info) {
  std::string out = header(m, info);
  out += fmt::format("POI value   {} = {:g}\n", poi_name(m), h.poi);
  if (std::isfinite(h.q_asimov))
    out += fmt::format("test stat.  {} = {:.6g} on the data, {:.6g} on the Asimov data\n", info.test_stat, h.q_obs, h.q_asimov);
  else
    out += fmt::format("test stat.  {} = {:.6g} on the data\n", info.test_stat, h.q_obs);
  out += fmt::format("\n{:<17}  {:>12}  {:>12}  {:>12}\n", "", "CLs", "CLsb", "CLb");
  if (err)
    out += fmt::format("{:<17}  {:>12}  {:>12}  {:>12}\n{:<17}  {:>12}  {:>12}  {:>12}\n", "observed", fmt::format("{:.6f}", h.obs.cls),
                       fmt::format("{:.6f}", h.obs.clsb), fmt::format("{:.6f}", h.obs.clb), "  ± (toys)", fmt::format("{:.6f}", err->cls),
                       fmt::format("{:.6f}", err->clsb), fmt::format("{:.6f}", err->clb));
  else
    out += fmt::format("{:<17}  {:>12.6f}  {:>12.6f}  {:>12.6f}\n", "observed", h.obs.cls, h.obs.clsb, h.obs.clb);
  for (size_t k = 0; k < 5; ++k)
    out += fmt::format("{:<19}{:>12.6f}  {:>12.6f}  {:>12.6f}\n", kBandLabels[k], h.exp[k].cls, h.exp[k].clsb, h.exp[k].clb);
  out += fmt::format("\n{}", h.converged ? "" : "** some fits did not converge **\n");
  out += footer(info);
  return out;
}

std::string hypotest_json(const model::Model& m, const infer::HypotestResult& h, const infer::PValues* err, const InferInfo& info) {
  json::Writer w;
  w.begin_object();
  write_info(w, m, info);
  w.key("poi_test").value(h.poi);
  w.key("CLs_obs").value(h.obs.cls);
  w.key("CLsb_obs").value(h.obs.clsb);
  w.key("CLb_obs").value(h.obs.clb);
  std::vector<double> cls, clsb, clb;
  for (const auto& p : h.exp) {
    cls.push_back(p.cls);
    clsb.push_back(p.clsb);
    clb.push_back(p.clb);
  }
  w.key("CLs_exp").numbers(cls);
  w.key("CLsb_exp").numbers(clsb);
  w.key("CLb_exp").numbers(clb);
  w.key("exp_order").strings(band_names());
  if (err) {
    w.key("CLs_obs_error").value(err->cls);
    w.key("CLsb_obs_error").value(err->clsb);
    w.key("CLb_obs_error").value(err->clb);
  }
  w.key("test_statistic_obs").value(h.q_obs);
  w.key("test_statistic_asimov").value(h.q_asimov);
  w.key("converged").value(h.converged);
  write_timing(w, info);
  w.end_object();
  return w.str();
}

// ------------------------------------------------------------------------------ limits

std::string limit_table(const model::Model& m, const infer::UpperLimitResult& r, double cl, double rtol, const InferInfo& info) {
  std::string out = header(m, info);
  out += fmt::format("\n{:g} % CL upper limits on {} (CLs = {:g}):\n", 100 * cl, poi_name(m), r.level);
  out += fmt::format("  {:<17}  {:>12}\n", "observed", number_or_dash(r.obs));
  for (size_t k = 0; k < 5; ++k) out += fmt::format("  {:<19}{:>12}\n", kBandLabels[k], number_or_dash(r.exp[k]));
  for (const std::string& warning : r.warnings) out += fmt::format("  note: {}\n", warning);
  out += fmt::format("\nhypotests   {} POI values, root finding to rtol {:g}{}\n", r.tested.size(), rtol,
                     r.converged ? "" : "  ** not converged **");
  out += footer(info);
  return out;
}

std::string limit_json(const model::Model& m, const infer::UpperLimitResult& r, double cl, double rtol, const InferInfo& info) {
  json::Writer w;
  w.begin_object();
  write_info(w, m, info);
  w.key("cl").value(cl);
  w.key("level").value(r.level);
  w.key("obs_limit").value(r.obs);
  w.key("exp_limits").numbers({r.exp.begin(), r.exp.end()});
  w.key("exp_order").strings(band_names());
  w.key("converged").value(r.converged);
  w.key("warnings").strings(r.warnings);
  w.key("rtol").value(rtol);
  w.key("hypotests").value(r.tested.size());
  w.key("points").begin_array();
  for (const auto& [mu, v] : r.tested) {
    w.begin_object();
    w.key("poi").value(mu);
    w.key("CLs_obs").value(v[0]);
    w.key("CLs_exp").numbers({v.begin() + 1, v.end()});
    w.end_object();
  }
  w.end_array();
  write_timing(w, info);
  w.end_object();
  return w.str();
}

void plot_limit(const model::Model& m, const infer::UpperLimitResult& r, const std::string& path) {
  std::string data = "$cls << EOD\n";
  for (const auto& [mu, v] : r.tested) {
    data += fmt::format("{}", mu);
    for (double x : v) data += fmt::format(" {}", std::isfinite(x) ? x : 0.0);
    data += '\n';
  }
  data += "EOD\n";
  std::string s = gp_terminal(path);
  s += "set output " + gp_quote(path) + "\n" + data;
  s += "set xlabel " + gp_quote(poi_name(m)) + "\nset ylabel 'CLs'\nset grid\nset key top right\nset yrange [0:1.05]\n";
  s += fmt::format("set arrow from graph 0, first {0} to graph 1, first {0} nohead dt 2 lc rgb 'red'\n", r.level);
  s += "plot $cls using 1:3:7 with filledcurves lc rgb '#ffe680' title 'expected ±2σ', "
       "$cls using 1:4:6 with filledcurves lc rgb '#66cc66' title 'expected ±1σ', "
       "$cls using 1:5 with lines dt 2 lw 2 lc rgb 'black' title 'expected', "
       "$cls using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb 'black' title 'observed'\n";
  run_gnuplot(s, path);
}

// ------------------------------------------------------------------------------ scans

std::string scan_table(const model::Model& m, const infer::ScanResult& s, const InferInfo& info) {
  std::string out = fmt::format("workspace   {}\nmeasurement {}   POI {}\n", info.workspace, info.measurement, poi_name(m));
  out += "best fit   ";
  for (uint32_t p : s.params) out += fmt::format(" {} = {:.6g}", m.parameters[p].name, s.best.values[p]);
  out += fmt::format("   -ln L = {:.8f} (twice_nll {:.8f})\n\n", s.best.nll, 2 * s.best.nll);
  for (uint32_t p : s.params) out += fmt::format("{:>14}", m.parameters[p].name);
  out += fmt::format("  {:>16}  {:>12}  {}\n", "twice_nll", "2ΔNLL", "status");
  for (const infer::ScanPoint& pt : s.points) {
    for (double c : pt.coords) out += fmt::format("{:>14.6g}", c);
    out += fmt::format("  {:>16.8f}  {:>12.6f}  {}\n", 2 * pt.nll, pt.delta_twice_nll, pt.status);
  }
  out += '\n';
  bool edge = false;
  for (const infer::ScanInterval& iv : s.intervals) {
    out += fmt::format("{:5.1f} % CL interval (2ΔNLL < {:.4g}): [{:.6g}{}, {:.6g}{}]\n", 100 * iv.cl, iv.threshold, iv.lo, iv.lo_found ? "" : "*",
                       iv.hi, iv.hi_found ? "" : "*");
    edge = edge || !iv.lo_found || !iv.hi_found;
  }
  if (edge) out += "  * no crossing inside the scanned range: the interval reaches at least this end of the scan\n";
  if (s.params.size() == 2)
    out += fmt::format("contours: 2ΔNLL = {:.4g} (68.3 % CL), {:.4g} (95 % CL) for two parameters\n",
                       infer::chi2_threshold(0.6826894921370859, 2), infer::chi2_threshold(0.95, 2));
  if (s.failed_fits) out += fmt::format("** {} scan points did not converge **\n", s.failed_fits);
  out += footer(info);
  return out;
}

std::string scan_json(const model::Model& m, const infer::ScanResult& s, const InferInfo& info) {
  json::Writer w;
  w.begin_object();
  w.key("workspace").value(info.workspace);
  w.key("measurement").value(info.measurement);
  w.key("poi");
  if (m.poi) w.value(m.parameters[*m.poi].name); else w.null();
  std::vector<std::string> names;
  for (uint32_t p : s.params) names.push_back(m.parameters[p].name);
  w.key("parameters").strings(names);
  w.key("best_fit").begin_object();
  w.key("nll").value(s.best.nll);
  w.key("twice_nll").value(2 * s.best.nll);
  w.key("converged").value(s.best.converged);
  w.key("values").begin_object();
  for (uint32_t p : s.params) w.key(m.parameters[p].name).value(s.best.values[p]);
  w.end_object();
  w.end_object();
  w.key("nll_min").value(s.nll_min);
  w.key("grid").begin_object();
  for (size_t a = 0; a < s.params.size(); ++a) w.key(names[a]).numbers(s.axes[a]);
  w.end_object();
  std::vector<double> twice, delta;
  for (const infer::ScanPoint& pt : s.points) {
    twice.push_back(2 * pt.nll);
    delta.push_back(pt.delta_twice_nll);
  }
  w.key("twice_nll").numbers(twice);
  w.key("delta_twice_nll").numbers(delta);
  w.key("points").begin_array();
  for (const infer::ScanPoint& pt : s.points) {
    w.begin_object();
    w.key("values").begin_object();
    for (size_t a = 0; a < names.size(); ++a) w.key(names[a]).value(pt.coords[a]);
    w.end_object();
    w.key("twice_nll").value(2 * pt.nll);
    w.key("delta_twice_nll").value(pt.delta_twice_nll);
    w.key("converged").value(pt.converged);
    w.key("status").value(pt.status);
    w.end_object();
  }
  w.end_array();
  w.key("intervals").begin_array();
  for (const infer::ScanInterval& iv : s.intervals) {
    w.begin_object();
    w.key("cl").value(iv.cl);
    w.key("threshold").value(iv.threshold);
    w.key("lo");
    if (iv.lo_found) w.value(iv.lo); else w.null();
    w.key("hi");
    if (iv.hi_found) w.value(iv.hi); else w.null();
    w.end_object();
  }
  w.end_array();
  if (s.params.size() == 2) {
    w.key("contour_levels").begin_array();
    for (double cl : {0.6826894921370859, 0.95}) {
      w.begin_object();
      w.key("cl").value(cl);
      w.key("threshold").value(infer::chi2_threshold(cl, 2));
      w.end_object();
    }
    w.end_array();
  }
  w.key("failed_fits").value(s.failed_fits);
  write_timing(w, info);
  w.end_object();
  return w.str();
}

std::string scan_csv(const model::Model& m, const infer::ScanResult& s) {
  std::string out;
  for (uint32_t p : s.params) out += m.parameters[p].name + ",";
  out += "twice_nll,delta_twice_nll,converged,status\n";
  for (const infer::ScanPoint& pt : s.points) {
    for (double c : pt.coords) out += json::format_number(c) + ",";
    out += fmt::format("{},{},{},{}\n", json::format_number(2 * pt.nll), json::format_number(pt.delta_twice_nll), pt.converged ? 1 : 0,
                       json::quote(pt.status));
  }
  return out;
}

void plot_scan(const model::Model& m, const infer::ScanResult& s, const std::string& path) {
  std::string script = gp_terminal(path) + "set output " + gp_quote(path) + "\nset grid\n";
  const std::string xname = m.parameters[s.params[0]].name;
  if (s.params.size() == 1) {
    std::string data = "$scan << EOD\n";
    double ymax = 0;
    for (const infer::ScanPoint& pt : s.points) {
      if (!std::isfinite(pt.delta_twice_nll)) continue;
      data += fmt::format("{} {}\n", pt.coords[0], pt.delta_twice_nll);
      ymax = std::max(ymax, pt.delta_twice_nll);
    }
    data += "EOD\n";
    script += data;
    script += "set xlabel " + gp_quote(xname) + "\nset ylabel '-2 Δln L'\nset key top center\n";
    script += fmt::format("set yrange [0:{}]\n", std::max(1.2 * ymax, 4.5));
    script += "plot $scan using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb 'black' title 'profile likelihood', "
              "1 with lines dt 2 lc rgb '#2060c0' title '68.3 % CL', 3.841458820694124 with lines dt 2 lc rgb '#c02020' title '95 % CL'\n";
  } else {
    const std::string yname = m.parameters[s.params[1]].name;
    const size_t n1 = s.axes[1].size();
    std::string data = "$grid << EOD\n";
    for (size_t i = 0; i < s.axes[0].size(); ++i) {
      for (size_t j = 0; j < n1; ++j) {
        const infer::ScanPoint& pt = s.points[i * n1 + j];
        data += fmt::format("{} {} {}\n", pt.coords[0], pt.coords[1], std::isfinite(pt.delta_twice_nll) ? pt.delta_twice_nll : 1e3);
      }
      data += '\n';
    }
    data += "EOD\n";
    script += data;
    script += fmt::format("$best << EOD\n{} {}\nEOD\n", s.best.values[s.params[0]], s.best.values[s.params[1]]);
    script += fmt::format(
        "set table $contours\nunset surface\nset contour base\nset cntrparam levels discrete {}, {}\n"
        "splot $grid using 1:2:3 with lines\nunset table\nunset contour\nset surface\n",
        infer::chi2_threshold(0.6826894921370859, 2), infer::chi2_threshold(0.95, 2));
    script += "set xlabel " + gp_quote(xname) + "\nset ylabel " + gp_quote(yname) + "\nset cblabel '-2 Δln L'\n";
    script += "set cbrange [0:12]\nset palette rgb 33,13,10\nset key top right opaque\n";
    script += "plot $grid using 1:2:3 with image notitle, $contours using 1:2 with lines lw 2 lc rgb 'black' title '68.3 %, 95 % CL', "
              "$best using 1:2 with points pt 3 ps 2 lw 2 lc rgb 'black' title 'best fit'\n";
  }
  run_gnuplot(script, path);
}

// ------------------------------------------------------------------------------ fit extras

std::string minos_table(const model::Model& m, const std::vector<infer::MinosInterval>& intervals) {
  if (intervals.empty()) return "";
  size_t w = 9;
  for (const auto& iv : intervals) w = std::max(w, m.parameters[iv.param].name.size());
  std::string out = fmt::format("\nMINOS intervals (2ΔNLL = {:g}):\n{:<{}}  {:>14}  {:>12}  {:>12}  {}\n", intervals[0].threshold, "parameter",
                                w, "value", "lower", "upper", "notes");
  for (const auto& iv : intervals) {
    std::string notes;
    if (iv.lower_at_limit) notes += "lower at limit; ";
    else if (!iv.lower_valid) notes += "lower not found; ";
    if (iv.upper_at_limit) notes += "upper at limit; ";
    else if (!iv.upper_valid) notes += "upper not found; ";
    if (!iv.fits_converged) notes += "some fits failed; ";
    if (!notes.empty()) notes.resize(notes.size() - 2);
    out += fmt::format("{:<{}}  {:>14.8g}  {:>12.6g}  {:>+12.6g}  {}\n", m.parameters[iv.param].name, w, iv.value, iv.lower, iv.upper, notes);
  }
  return out;
}

std::string significance_table(const model::Model& m, const infer::Significance& s) {
  std::string out = fmt::format("\nDiscovery significance (q0, asymptotic; {} = 0 vs. the best fit {:.6g}):\n", poi_name(m), s.poi_hat);
  out += fmt::format("  observed   q0 = {:.6g}   p0 = {:.6g}   Z0 = {:.4f} σ\n", s.q0, s.p0, s.z0);
  if (s.has_expected)
    out += fmt::format("  expected   q0 = {:.6g}   p0 = {:.6g}   Z0 = {:.4f} σ   (Asimov data at {} = 1)\n", s.q0_asimov, s.p0_exp, s.z0_exp,
                       poi_name(m));
  else
    out += "  expected   n/a (no Asimov dataset for this likelihood)\n";
  if (!s.converged) out += "  ** some fits did not converge **\n";
  return out;
}

std::string add_to_fit_json(const std::string& fit_json, const model::Model& m, const std::vector<infer::MinosInterval>* minos,
                            const infer::Significance* sig) {
  if (!minos && !sig) return fit_json;
  json::Writer w;
  w.begin_object();
  if (minos) {
    w.key("minos").begin_object();
    for (const auto& iv : *minos) {
      w.key(m.parameters[iv.param].name).begin_object();
      w.key("value").value(iv.value);
      w.key("lower").value(iv.lower);
      w.key("upper").value(iv.upper);
      w.key("interval").numbers({iv.value + iv.lower, iv.value + iv.upper});
      w.key("lower_valid").value(iv.lower_valid);
      w.key("upper_valid").value(iv.upper_valid);
      w.key("lower_at_limit").value(iv.lower_at_limit);
      w.key("upper_at_limit").value(iv.upper_at_limit);
      w.key("threshold").value(iv.threshold);
      w.key("fits").value(iv.fits);
      w.end_object();
    }
    w.end_object();
  }
  if (sig) {
    w.key("significance").begin_object();
    w.key("test_stat").value("q0");
    w.key("q0").value(sig->q0);
    w.key("p0").value(sig->p0);
    w.key("Z0").value(sig->z0);
    if (sig->has_expected) {
      w.key("q0_asimov").value(sig->q0_asimov);
      w.key("p0_exp").value(sig->p0_exp);
      w.key("Z0_exp").value(sig->z0_exp);
      w.key("p0_exp_band").numbers({sig->p0_exp_band.begin(), sig->p0_exp_band.end()});
    } else {  // no Asimov dataset (unbinned HS3)
      for (const char* k : {"q0_asimov", "p0_exp", "Z0_exp", "p0_exp_band"}) w.key(k).null();
    }
    w.key("exp_order").strings(band_names());
    w.key("converged").value(sig->converged);
    w.end_object();
  }
  w.end_object();
  // Splice the members into the fit document: both writers indent the top level alike.
  const std::string& extra = w.str();
  const size_t open = extra.find('{'), close = extra.rfind('}');
  const size_t end = fit_json.rfind('}');
  if (open == std::string::npos || close == std::string::npos || end == std::string::npos)
    throw Error(ErrorKind::Internal, "add_to_fit_json", "unexpected JSON layout");
  std::string head = fit_json.substr(0, end);
  while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
  std::string members = extra.substr(open + 1, close - open - 1);
  while (!members.empty() && (members.back() == '\n' || members.back() == ' ')) members.pop_back();
  return head + "," + members + "\n}\n";
}

}  // namespace hs3fit::report
