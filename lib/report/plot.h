// gnuplot plumbing for the pulls and impacts plots: terminal by file extension with a canvas
// sized by the caller, quoting, running gnuplot, and splicing extra members into a JSON object.
// Used by the pulls, impacts, scan and limit plots.
#pragma once
#include <string>

namespace hs3fit::report::plot {

// gnuplot single-quoted string literal.
std::string quote(const std::string& s);

// "set terminal ..." for .svg/.png/.pdf with the canvas size in pixels (PDF: at 100 px/inch).
// Throws Error(Usage) naming `option` for another extension.
std::string terminal(const std::string& path, int width_px, int height_px, const std::string& option);

// Feed `script` to gnuplot. Throws Error(Io) naming `option` when gnuplot is missing or fails.
void run_gnuplot(const std::string& script, const std::string& path, const std::string& option);

// Insert the members of the JSON object `members` (written by json::Writer) at the end of the
// JSON object `document` (also written by json::Writer).
std::string splice_json_members(const std::string& document, const std::string& members);

}  // namespace hs3fit::report::plot
