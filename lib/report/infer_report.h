// Presenting inference results: human tables, JSON documents with a stable schema (README
// "Inference"), CSV for scans, and plots through gnuplot. Numbers only, no logging here.
#pragma once
#include <string>
#include <vector>

#include "infer/calculator.h"
#include "infer/minos.h"
#include "infer/profile_scan.h"
#include "infer/upper_limit.h"
#include "model/model.h"

namespace hs3fit::report {

// What every inference document says about the run.
struct InferInfo {
  std::string workspace, measurement;
  std::string calctype = "asymptotics";  // or "toybased"
  std::string test_stat = "qtilde";
  int toys = 0;  // toybased: per hypothesis
  unsigned long long seed = 0;
  int threads = 0;
  long long fits = 0;
  double load_s = 0, total_s = 0;
};

// `toy_errors`: binomial errors of the observed p-values (toys), or null.
std::string hypotest_table(const model::Model& m, const infer::HypotestResult& h, const infer::PValues* toy_errors, const InferInfo& info);
std::string hypotest_json(const model::Model& m, const infer::HypotestResult& h, const infer::PValues* toy_errors, const InferInfo& info);

std::string limit_table(const model::Model& m, const infer::UpperLimitResult& r, double cl, double rtol, const InferInfo& info);
std::string limit_json(const model::Model& m, const infer::UpperLimitResult& r, double cl, double rtol, const InferInfo& info);

std::string scan_table(const model::Model& m, const infer::ScanResult& s, const InferInfo& info);
std::string scan_json(const model::Model& m, const infer::ScanResult& s, const InferInfo& info);
std::string scan_csv(const model::Model& m, const infer::ScanResult& s);

// Plots with gnuplot; the format follows the extension (.svg, .png, .pdf). Throws Error(Io)
// when gnuplot is missing or fails.
void plot_scan(const model::Model& m, const infer::ScanResult& s, const std::string& path);
void plot_limit(const model::Model& m, const infer::UpperLimitResult& r, const std::string& path);

// `hs3fit fit --minos/--significance`: text appended to the fit table, and the members
// "minos" / "significance" added to the fit's JSON object (null pointers: left out).
std::string minos_table(const model::Model& m, const std::vector<infer::MinosInterval>& intervals);
std::string significance_table(const model::Model& m, const infer::Significance& s);
std::string add_to_fit_json(const std::string& fit_json, const model::Model& m, const std::vector<infer::MinosInterval>* minos,
                            const infer::Significance* significance);

}  // namespace hs3fit::report
