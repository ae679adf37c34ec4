#include "infer/profile_scan.h"

#include <algorithm>
#include <cmath>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "infer/asymptotics.h"

namespace hs3fit::infer {

std::vector<double> linspace(double lo, double hi, int n) {
  if (n < 1) throw Error(ErrorKind::Usage, "--points", "a scan needs at least one point");
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = n == 1 ? lo : lo + (hi - lo) * i / (n - 1);
  if (n > 1) v.back() = hi;
  return v;
}

std::vector<double> grid_point(const std::vector<std::vector<double>>& axes, size_t k) {
  std::vector<double> coords(axes.size());
  for (size_t a = axes.size(); a-- > 0;) {
    const size_t n = axes[a].size();
    coords[a] = axes[a][k % n];
    k /= n;
  }
  return coords;
}

std::vector<std::vector<size_t>> scan_chains(const std::vector<std::vector<double>>& axes, int chain_length) {
  if (chain_length < 1) throw Error(ErrorKind::Usage, "--chain-length", "the chain length must be at least 1");
  size_t total = 1;
  for (const auto& a : axes) total *= a.size();
  std::vector<std::vector<size_t>> chains;
  if (total == 0) return chains;
  const size_t last = axes.back().size(), len = static_cast<size_t>(chain_length);
  for (size_t row = 0; row < total / last; ++row)
    for (size_t j0 = 0; j0 < last; j0 += len) {
      std::vector<size_t> c;
      for (size_t j = j0; j < std::min(last, j0 + len); ++j) c.push_back(row * last + j);
      chains.push_back(std::move(c));
    }
  return chains;
}

ScanPoint scan_point(Likelihood& l, const std::vector<uint32_t>& params, const std::vector<double>& coords, const std::vector<double>& start) {
  std::vector<FixedValue> fixed;
  for (size_t a = 0; a < params.size(); ++a) fixed.push_back({params[a], coords[a]});
  const fit::FitResult r = l.minimize(fixed, start);
  ScanPoint p;
  p.coords = coords;
  p.nll = r.nll;
  p.converged = r.converged;
  p.usable = usable(r);
  p.status = r.status;
  p.values = r.values;
  return p;
}

ScanResult profile_scan(Likelihood& l, const std::vector<ScanAxis>& axes, const fit::FitResult& best, int chain_length) {
  if (axes.empty() || axes.size() > 2) throw Error(ErrorKind::Usage, "--params", "a scan has one or two parameters");
  ScanResult s;
  s.best = best;
  size_t total = 1;
  for (const ScanAxis& a : axes) {
    if (a.values.empty()) throw Error(ErrorKind::Usage, "--points", "empty scan axis");
    s.params.push_back(a.param);
    s.axes.push_back(a.values);
    total *= a.values.size();
    const model::Parameter& p = l.model().parameters[a.param];
    for (double v : a.values)
      if (v < p.lo || v > p.hi) {
        spdlog::warn("scan values of {} go outside its bounds [{}, {}]", p.name, p.lo, p.hi);
        break;
      }
  }
  if (axes.size() == 2 && axes[0].param == axes[1].param) throw Error(ErrorKind::Usage, "--params", "scan parameters must differ");
  s.points.resize(total);
  for (const std::vector<size_t>& chain : scan_chains(s.axes, chain_length)) {
    const std::vector<double>* start = &best.values;
    for (size_t k : chain) {
      s.points[k] = scan_point(l, s.params, grid_point(s.axes, k), *start);
      if (s.points[k].usable) start = &s.points[k].values;
    }
  }
  finish_scan(s);
  return s;
}

void finish_scan(ScanResult& s) {
  s.nll_min = s.best.nll;
  s.failed_fits = 0;
  for (const ScanPoint& p : s.points) {
    if (!p.usable) {
      ++s.failed_fits;
      spdlog::warn("scan point ({}) did not converge: {}", fmt::join(p.coords, ", "), p.status);
    }
    if (std::isfinite(p.nll) && p.nll < s.nll_min) s.nll_min = p.nll;
  }
  if (s.nll_min < s.best.nll - 1e-6)
    spdlog::warn("the scan found −ln L {:.8f} below the free fit's {:.8f}: 2ΔNLL is relative to the scan's minimum", s.nll_min, s.best.nll);
  for (ScanPoint& p : s.points) p.delta_twice_nll = 2 * (p.nll - s.nll_min);
  s.intervals.clear();
  if (s.axes.size() == 1) {
    s.intervals.push_back(scan_interval(s, 0.6826894921370859));
    s.intervals.push_back(scan_interval(s, 0.95));
  }
}

ScanInterval scan_interval(const ScanResult& s, double cl) {
  if (s.axes.size() != 1) throw Error(ErrorKind::Internal, "scan_interval", "1D scans only");
  ScanInterval out;
  out.cl = cl;
  out.threshold = chi2_threshold(cl, 1);
  struct Node { double x, d; };
  std::vector<Node> nodes;
  for (const ScanPoint& p : s.points)
    if (std::isfinite(p.delta_twice_nll)) nodes.push_back({p.coords[0], std::max(0.0, p.delta_twice_nll)});
  if (nodes.empty()) return out;
  const double x_hat = s.best.values[s.params[0]];
  const double grid_lo = s.axes[0].front() < s.axes[0].back() ? s.axes[0].front() : s.axes[0].back();
  const double grid_hi = s.axes[0].front() < s.axes[0].back() ? s.axes[0].back() : s.axes[0].front();
  if (x_hat > grid_lo && x_hat < grid_hi) nodes.push_back({x_hat, std::max(0.0, 2 * (s.best.nll - s.nll_min))});
  std::sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.x < b.x; });
  const size_t m = static_cast<size_t>(std::min_element(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.d < b.d; }) - nodes.begin());
  const double r = std::sqrt(out.threshold);
  // crossing between an outer node a (d ≥ threshold) and its inner neighbour b (d < threshold)
  auto cross = [r](const Node& a, const Node& b) {
    const double sa = std::sqrt(a.d), sb = std::sqrt(b.d);
    return b.x + (r - sb) / (sa - sb) * (a.x - b.x);
  };
  out.lo = nodes.front().x;
  for (size_t i = m; i-- > 0;) {
    if (nodes[i].d >= out.threshold) {
      out.lo = cross(nodes[i], nodes[i + 1]);
      out.lo_found = true;
      break;
    }
  }
  out.hi = nodes.back().x;
  for (size_t i = m + 1; i < nodes.size(); ++i) {
    if (nodes[i].d >= out.threshold) {
      out.hi = cross(nodes[i], nodes[i - 1]);
      out.hi_found = true;
      break;
    }
  }
  return out;
}

}  // namespace hs3fit::infer
