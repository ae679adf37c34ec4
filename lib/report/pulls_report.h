// Pulls and constraints of the nuisance parameters after a fit (hs3fit fit --pulls, and the
// "pulls" members of fit --json): a table, JSON members, and the usual pulls plot (gnuplot).
// Conventions in docs/impacts.md.
#pragma once
#include <string>
#include <vector>

#include "infer/impacts.h"

namespace hs3fit::report {

std::string pulls_table(const std::vector<infer::Pull>& pulls);
// A JSON object {"pulls": [...constrained...], "pulls_unconstrained": [...]} for
// plot::splice_json_members into the fit document.
std::string pulls_json_members(const std::vector<infer::Pull>& pulls);
// Points (θ̂−θ0)/Δθ with horizontal bars σ̂/Δθ, ±1/±2 bands, one row per constrained parameter
// in model order; the canvas grows with the number of parameters. .svg/.png/.pdf.
void plot_pulls(const std::vector<infer::Pull>& pulls, const std::string& path, const std::string& option = "--pulls");

// gnuplot datablock string field (double-quoted; quotes in names replaced).
std::string gp_field(const std::string& s);
// a number for a gnuplot datablock ("?" = missing)
std::string gp_number(double v);

}  // namespace hs3fit::report
