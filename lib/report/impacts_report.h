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
void plot_impacts(const model::Model& m, const infer::ImpactsResult& r, const std::string& path, const std::string& option = "--plot");

}  // namespace hs3fit::report
