// Presenting results: a human table (stdout by default) and a JSON document with a stable
// schema (--json; documented in README.md). Numbers only, no logging here.
#pragma once
#include <string>
#include <vector>

#include "fit/minimizer.h"
#include "infer/impacts.h"
#include "model/yields.h"
#include "model/model.h"

namespace hs3fit::report {

struct RunInfo {
  std::string workspace;
  std::string measurement;
  double parse_s = 0, build_s = 0, compile_s = 0, total_s = 0;
  std::string tape_summary;
};

std::string fit_table(const model::Model& m, const fit::FitResult& r, const RunInfo& info);
std::string fit_json(const model::Model& m, const fit::FitResult& r, const RunInfo& info);

struct EvalResult {
  std::vector<double> values;    // parameter point
  double nll = 0;
  std::vector<double> gradient;  // empty unless requested
};
std::string eval_table(const model::Model& m, const EvalResult& e, const RunInfo& info);
std::string eval_json(const model::Model& m, const EvalResult& e, const RunInfo& info);

// hs3fit fit --yields: pre- and post-fit expected events per channel and sample with their
// uncertainties (infer::prefit_yield_errors / infer::yield_errors), and the same as the JSON
// member "yields" ({"prefit": [...], "postfit": [...]}, a superset of `hs3fit yields --json`)
// for plot::splice_json_members. `post_err` may be null (no covariance: errors unavailable).
std::string fit_yields_table(const std::vector<model::ChannelYields>& pre, const infer::YieldErrors& pre_err,
                             const std::vector<model::ChannelYields>& post, const infer::YieldErrors* post_err);
std::string fit_yields_json_members(const std::vector<model::ChannelYields>& pre, const infer::YieldErrors& pre_err,
                                    const std::vector<model::ChannelYields>& post, const infer::YieldErrors* post_err);

}  // namespace hs3fit::report
