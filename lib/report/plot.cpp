#include "report/plot.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fmt/format.h>
#include <sys/wait.h>

#include "core/error.h"

namespace hs3fit::report::plot {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out + "'";
}

std::string terminal(const std::string& path, int width_px, int height_px, const std::string& option) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto ends_with = [&](const std::string& e) { return lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0; };
  if (ends_with(".svg"))
    return fmt::format("set terminal svg size {},{} dynamic noenhanced font 'Helvetica,12' background rgb 'white'\n", width_px, height_px);
  if (ends_with(".png")) return fmt::format("set terminal pngcairo size {},{} noenhanced font 'Helvetica,11'\n", width_px, height_px);
  if (ends_with(".pdf"))
    return fmt::format("set terminal pdfcairo size {:.2f}in,{:.2f}in noenhanced font 'Helvetica,9'\n", width_px / 100.0, height_px / 100.0);
  throw Error(ErrorKind::Usage, option, "plot file '" + path + "' must end in .svg, .png or .pdf");
}

void run_gnuplot(const std::string& script, const std::string& path, const std::string& option) {
  FILE* p = popen("gnuplot 2>&1", "w");
  if (!p) throw Error(ErrorKind::Io, option, "cannot start gnuplot");
  std::fwrite(script.data(), 1, script.size(), p);
  const int status = pclose(p);
  const int rc = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  if (rc == 127) throw Error(ErrorKind::Io, option, "gnuplot not found (Debian package gnuplot-nox)");
  if (rc != 0) throw Error(ErrorKind::Io, option, fmt::format("gnuplot failed (exit code {}) writing {}", rc, path));
}

std::string splice_json_members(const std::string& document, const std::string& members_object) {
  const size_t open = members_object.find('{'), close = members_object.rfind('}');
  const size_t end = document.rfind('}');
  if (open == std::string::npos || close == std::string::npos || end == std::string::npos)
    throw Error(ErrorKind::Internal, "splice_json_members", "unexpected JSON layout");
  std::string members = members_object.substr(open + 1, close - open - 1);
  while (!members.empty() && (members.back() == '\n' || members.back() == ' ')) members.pop_back();
  if (members.find_first_not_of(" \n") == std::string::npos) return document;
  std::string head = document.substr(0, end);
  while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
  const bool empty_document = !head.empty() && head.back() == '{';
  return head + (empty_document ? "" : ",") + members + "\n}\n";
}

}  // namespace hs3fit::report::plot
