// Profile-likelihood scans in one or two parameters: at every grid point a conditional fit
// (the scanned parameters fixed, all others profiled); 2ΔNLL = 2(−ln L(point) − min −ln L).
// Fits run along fixed *chains*: the last axis is cut into blocks of `chain_length` points;
// the first point of a chain starts from the free fit's minimum, the others from the previous
// point of the chain (warm start). Chains depend only on the grid and the chain length, never
// on who computes them, so a scan split into shards (whole chains per shard) equals the
// single-process scan bit for bit. In 1D the 68 % / 95 % CL intervals are where
// 2ΔNLL crosses the χ²₁ thresholds (1, 3.84); in 2D the thresholds are those of χ²₂ (2.30, 5.99).
#pragma once
#include <string>
#include <vector>

#include "infer/likelihood.h"

namespace hs3fit::infer {

struct ScanAxis {
  uint32_t param = 0;
  std::vector<double> values;
};

// n evenly spaced values from lo to hi inclusive (n ≥ 2; n = 1 gives lo).
std::vector<double> linspace(double lo, double hi, int n);

struct ScanPoint {
  std::vector<double> coords;  // one value per axis
  double nll = 0;              // −ln L at the conditional minimum
  double delta_twice_nll = 0;  // 2(nll − nll_min)
  bool converged = false;      // the fit reached its EDM goal
  bool usable = false;         // converged, or close enough (infer::usable)
  std::string status;          // the fit's status
  std::vector<double> values;  // every parameter at the conditional minimum
};

struct ScanInterval {
  double cl = 0;         // confidence level
  double threshold = 0;  // 2ΔNLL at the crossings
  double lo = 0, hi = 0;
  bool lo_found = false, hi_found = false;  // false: no crossing inside the scanned range
};

struct ScanResult {
  std::vector<uint32_t> params;
  std::vector<std::vector<double>> axes;
  std::vector<ScanPoint> points;  // first axis slowest
  fit::FitResult best;            // the free fit
  double nll_min = 0;             // min(free fit, scan points): the 2ΔNLL reference
  int failed_fits = 0;            // points whose fit is not usable
  std::vector<ScanInterval> intervals;  // 1D scans: 68.27 % and 95 % CL
};

inline constexpr int kDefaultChainLength = 8;

// `best` is the free fit of `likelihood` (its minimum is the 2ΔNLL reference).
ScanResult profile_scan(Likelihood& likelihood, const std::vector<ScanAxis>& axes, const fit::FitResult& best,
                        int chain_length = kDefaultChainLength);

// The pieces of profile_scan, for scans computed in shards:
// the coordinates of point k of the grid (first axis slowest),
std::vector<double> grid_point(const std::vector<std::vector<double>>& axes, size_t k);
// the chains (point indices in fit order; chains in order),
std::vector<std::vector<size_t>> scan_chains(const std::vector<std::vector<double>>& axes, int chain_length);
// the conditional fit at one point (the params held at coords), started from `start`,
ScanPoint scan_point(Likelihood& likelihood, const std::vector<uint32_t>& params, const std::vector<double>& coords,
                     const std::vector<double>& start);
// and the summary of s.points (all set) and s.best: nll_min, 2ΔNLL, failed fits, 1D intervals.
void finish_scan(ScanResult& s);

// Crossing points of a 1D scan with the χ²₁ threshold of `cl`: linear interpolation of
// ±√(2ΔNLL) between neighbouring points (exact for a parabolic profile), the free fit's
// minimum included as a point when it lies inside the scanned range.
ScanInterval scan_interval(const ScanResult& scan, double cl);

}  // namespace hs3fit::infer
