#include "hs3/hs3_inspect.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>

#include "core/error.h"
#include "hs3/hs3_document.h"
#include "hs3/hs3_unbinned.h"
#include "json/json_reader.h"

namespace hs3fit::hs3 {

using json::Node;

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// A compact rendering of a field value: numbers and strings as they are, arrays of scalars as
// [a, b, ...] (at most 6 shown), objects and arrays of objects by their size.
std::string compact(const Node& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_number()) return fmt::format("{:g}", v.as_number());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_null()) return "null";
  if (v.is_object()) return fmt::format("{{{} fields}}", v.size());
  std::vector<std::string> items;
  size_t shown = 0;
  for (const Node& e : v.elements()) {
    if (e.is_object() || e.is_array()) return fmt::format("[{} {}]", v.size(), e.is_object() ? "objects" : "arrays");
    if (shown++ == 6) {
      items.push_back(fmt::format("... {} in all", v.size()));
      break;
    }
    items.push_back(compact(e));
  }
  return "[" + join(items) + "]";
}

std::string fields(const Node& obj) {
  std::vector<std::string> out;
  for (const auto& [k, v] : obj.members())
    if (k != "name" && k != "type") out.push_back(k + "=" + compact(v));
  std::string s = join(out, " ");
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}

std::string name_of(const Node& obj) {
  if (auto n = obj.get("name"); n && n->is_string()) return n->as_string();
  return "(unnamed)";
}
std::string type_of(const Node& obj) {
  if (auto t = obj.get("type"); t && t->is_string()) return t->as_string();
  return "";
}

std::string data_detail(const Node& d) {
  std::vector<std::string> axes;
  if (auto ax = d.get("axes"); ax && ax->is_array())
    for (const Node& a : ax->elements()) {
      if (!a.is_object()) continue;
      std::string s = name_of(a);
      auto lo = a.get("min"), hi = a.get("max");
      if (lo && hi && lo->is_number() && hi->is_number()) s += fmt::format(" [{:g}, {:g}]", lo->as_number(), hi->as_number());
      if (auto nb = a.get("nbins"); nb && nb->is_number()) s += fmt::format(" {:g} bins", nb->as_number());
      if (auto e = a.get("edges"); e && e->is_array()) s += fmt::format(" {} bins", e->size() > 0 ? e->size() - 1 : 0);
      axes.push_back(s);
    }
  std::string s = "axes " + join(axes, "; ");
  const std::string type = type_of(d);
  if (auto e = d.get("entries"); e && e->is_array()) s += fmt::format("; {} entries", e->size());
  if (auto w = d.get("weights"); w && w->is_array()) s += " (weighted)";
  if (auto c = d.get("contents"); c && c->is_array()) {
    double sum = 0;
    for (const Node& x : c->elements())
      if (x.is_number()) sum += x.as_number();
    s += fmt::format("; {} bins, {:g} events", c->size(), sum);
  }
  if (auto v = d.get("value"); v && v->is_number()) s += fmt::format("; value {:g}", v->as_number());
  return s;
}

std::string domain_detail(const Node& d) {
  std::vector<std::string> axes;
  std::optional<Node> list = d.get("axes");
  if (!list) list = d.get("variables");
  if (list && list->is_array())
    for (const Node& a : list->elements()) {
      if (!a.is_object()) continue;
      auto lo = a.get("min"), hi = a.get("max");
      axes.push_back(fmt::format("{} [{}, {}]", name_of(a), lo && lo->is_number() ? fmt::format("{:g}", lo->as_number()) : "-inf",
                                 hi && hi->is_number() ? fmt::format("{:g}", hi->as_number()) : "inf"));
    }
  std::string s = fmt::format("{} axes: {}", axes.size(), join(axes));
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}

std::string point_detail(const Node& p) {
  size_t n = 0, fixed = 0;
  if (auto ps = p.get("parameters"); ps && ps->is_array())
    for (const Node& e : ps->elements()) {
      ++n;
      if (!e.is_object()) continue;
      if (auto c = e.get("const"); c && c->is_bool() && c->as_bool()) ++fixed;
    }
  return fmt::format("{} parameters ({} const)", n, fixed);
}

std::string likelihood_detail(const Node& l) {
  std::vector<std::string> pairs;
  auto ds = l.get("distributions"), xs = l.get("data");
  if (ds && xs && ds->is_array() && xs->is_array()) {
    auto dv = ds->elements(), xv = xs->elements();
    for (size_t i = 0; i < dv.size(); ++i) pairs.push_back(compact(dv[i]) + " <- " + (i < xv.size() ? compact(xv[i]) : "?"));
  }
  std::string s = join(pairs);
  if (auto aux = l.get("aux_distributions"); aux && aux->is_array() && aux->size() > 0) s += "; aux " + compact(*aux);
  return s;
}

std::string analysis_detail(const Node& a) {
  std::vector<std::string> out;
  for (const auto& [k, v] : a.members())
    if (k != "name") out.push_back(k + "=" + compact(v));
  return join(out, " ");
}

}  // namespace

DocumentSummary summarize_document(const Node& root) {
  DocumentSummary s;
  if (auto m = root.get("metadata"); m && m->is_object()) {
    if (auto v = m->get("hs3_version"); v && v->is_string()) s.hs3_version = v->as_string();
    if (auto ps = m->get("packages"); ps && ps->is_array())
      for (const Node& p : ps->elements())
        if (p.is_object()) {
          auto ver = p.get("version");
          s.packages.push_back(name_of(p) + (ver && ver->is_string() ? " " + ver->as_string() : ""));
        }
  }
  // ROOT's per-object tags (misc.ROOT_internal.attributes.NAME.tags).
  std::map<std::string, std::vector<std::string>> tags;
  if (auto misc = root.get("misc"); misc && misc->is_object())
    if (auto ri = misc->get("ROOT_internal"); ri && ri->is_object())
      if (auto at = ri->get("attributes"); at && at->is_object())
        for (const auto& [name, attr] : at->members())
          if (attr.is_object())
            if (auto t = attr.get("tags"); t && t->is_array())
              for (const Node& x : t->elements())
                if (x.is_string()) tags[name].push_back(x.as_string());

  auto list = [&](const char* key, std::vector<ObjectSummary>& out, auto&& detail) {
    auto arr = root.get(key);
    if (!arr || !arr->is_array()) return;
    for (const Node& o : arr->elements()) {
      if (!o.is_object()) continue;
      ObjectSummary os{name_of(o), type_of(o), detail(o), o.pointer(), "", {}};
      if (auto t = tags.find(os.name); t != tags.end()) os.tags = t->second;
      out.push_back(std::move(os));
    }
  };
  list("distributions", s.distributions, fields);
  list("functions", s.functions, fields);
  list("data", s.data, data_detail);
  list("domains", s.domains, domain_detail);
  list("parameter_points", s.parameter_points, point_detail);
  list("likelihoods", s.likelihoods, likelihood_detail);
  list("analyses", s.analyses, analysis_detail);

  std::unique_ptr<Document> doc;
  try {
    doc = std::make_unique<Document>(root);
  } catch (const Error& e) {
    s.problems.push_back(e.where() + ": " + e.message());
    return s;
  }
  auto check = [&](std::vector<ObjectSummary>& objs, bool is_function) {
    for (ObjectSummary& o : objs) {
      o.problem = check_object(*doc, o.name, is_function);
      ++s.checked;
      if (!o.problem.empty()) s.problems.push_back(o.problem);
    }
  };
  check(s.distributions, false);
  check(s.functions, true);
  return s;
}

}  // namespace hs3fit::hs3
