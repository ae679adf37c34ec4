#include "model/overrides.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace hs3fit::model {

namespace {

// Split on commas that are not inside [...] (parameter names like gamma[3] stay whole).
std::vector<std::string> split_top_level(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == sep && depth == 0) {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

double parse_number(const std::string& s, const std::string& option, const std::string& item) {
  const char* begin = s.c_str();
  char* end = nullptr;
  double v = std::strtod(begin, &end);
  if (s.empty() || end != begin + s.size() || !std::isfinite(v))
    throw Error(ErrorKind::Usage, option, "'" + item + "': '" + s + "' is not a finite number");
  return v;
}

}  // namespace

std::vector<std::string> parse_name_list(const std::string& text) { return split_top_level(text, ','); }

std::vector<std::pair<std::string, double>> parse_assignments(const std::string& text, const std::string& option) {
  std::vector<std::pair<std::string, double>> out;
  for (const std::string& item : split_top_level(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorKind::Usage, option, "expected NAME=VALUE, got '" + item + "'");
    out.emplace_back(item.substr(0, eq), parse_number(item.substr(eq + 1), option, item));
  }
  return out;
}

std::vector<std::pair<std::string, std::optional<double>>> parse_fix_list(const std::string& text, const std::string& option) {
  std::vector<std::pair<std::string, std::optional<double>>> out;
  for (const std::string& item : split_top_level(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) out.emplace_back(item, std::nullopt);
    else if (eq == 0) throw Error(ErrorKind::Usage, option, "expected NAME or NAME=VALUE, got '" + item + "'");
    else out.emplace_back(item.substr(0, eq), parse_number(item.substr(eq + 1), option, item));
  }
  return out;
}

std::vector<ParameterOverrides::Range> parse_ranges(const std::string& text, const std::string& option) {
  // Accept "a=0:20,b=-1:1" and Combine's "a=0,20:b=-1,1".
  std::vector<ParameterOverrides::Range> out;
  std::vector<std::string> items;
  // Combine style when, after the first '=', a ',' comes before any ':' ("a=0,20" or "a=0,20:b=-1,1").
  const size_t first_eq = text.find('=');
  const size_t comma_after = first_eq == std::string::npos ? std::string::npos : text.find(',', first_eq);
  const size_t colon_after = first_eq == std::string::npos ? std::string::npos : text.find(':', first_eq);
  if (comma_after != std::string::npos && (colon_after == std::string::npos || comma_after < colon_after)) {
    items = split_top_level(text, ':');  // Combine style
    for (std::string& it : items) {
      size_t comma = it.find(',', it.find('='));
      if (comma != std::string::npos) it[comma] = ':';
    }
  } else {
    items = split_top_level(text, ',');
  }
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    size_t colon = item.find(':', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || eq == 0 || colon == std::string::npos)
      throw Error(ErrorKind::Usage, option, "expected NAME=LO:HI, got '" + item + "'");
    ParameterOverrides::Range r;
    r.name = item.substr(0, eq);
    r.lo = parse_number(item.substr(eq + 1, colon - eq - 1), option, item);
    r.hi = parse_number(item.substr(colon + 1), option, item);
    if (!(r.lo < r.hi)) throw Error(ErrorKind::Usage, option, "'" + item + "': lower bound must be below upper bound");
    out.push_back(r);
  }
  return out;
}

void apply_overrides(Model& model, const ParameterOverrides& ov) {
  auto check_inside = [](const Parameter& p, double v, const std::string& option) {
    if (v < p.lo || v > p.hi)
      throw Error(ErrorKind::Usage, option,
                  "value " + std::to_string(v) + " of '" + p.name + "' is outside its bounds [" + std::to_string(p.lo) + ", " +
                      std::to_string(p.hi) + "] (change them with --bounds)");
  };
  for (const auto& r : ov.bounds) {
    Parameter& p = model.parameters[model.parameter_index(r.name, "--bounds")];
    p.lo = r.lo;
    p.hi = r.hi;
    if (p.init < p.lo || p.init > p.hi) p.init = std::clamp(p.init, p.lo, p.hi);
  }
  for (const auto& name : ov.release) model.parameters[model.parameter_index(name, "--float")].fixed = false;
  for (const auto& [name, value] : ov.set) {
    Parameter& p = model.parameters[model.parameter_index(name, "--set")];
    check_inside(p, value, "--set");
    p.init = value;
  }
  for (const auto& [name, value] : ov.fix) {
    Parameter& p = model.parameters[model.parameter_index(name, "--fix")];
    if (value) {
      check_inside(p, *value, "--fix");
      p.init = *value;
    }
    p.fixed = true;
  }
}

}  // namespace hs3fit::model
