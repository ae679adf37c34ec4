// hs3fit impacts: the ranked table, JSON (schema in docs/impacts.md) and the ranking plot
// (impacts on the POI as bars on the top axis, pulls on the bottom axis, as Combine's
// plotImpacts and cabinetry's ranking plot).
#pragma once
#include <string>

#include "infer/impacts.h"
#include "report/fit_report.h"

namespace hs3fit::report {

std::string impacts_table(const model::Model& m, const infer::ImpactsResult& r, const RunInfo& info);
std::string impacts_json(const model::Model& m, const infer::ImpactsResult& r, const RunInfo& info);
// The warnings of an impacts run on stderr: the POI on its bound (impacts truncated), a nominal
// fit that is not usable, every conditional fit that failed. Shared by `impacts` and `merge`.
void warn_impacts(const std::string& poi, const infer::ImpactsResult& r, bool nominal_usable);
void plot_impacts(const model::Model& m, const infer::ImpactsResult& r, const std::string& path, const std::string& option = "--plot");

}  // namespace hs3fit::report
