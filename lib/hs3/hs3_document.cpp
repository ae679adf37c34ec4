#include "hs3/hs3_document.h"

#include <cmath>

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace hs3fit::hs3 {

using json::Node;

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

template <class Map>
std::string listing(const Map& m) {
  std::vector<std::string> names;
  for (const auto& kv : m) names.push_back(kv.first);
  return names.empty() ? std::string() : " (available: " + join(names) + ")";
}

// Each element of array `list` with its index, from simdjson directly (a Node only where a
// reader needs one for a message); not an array: the "expected array" error of elements().
template <class Fn>
void for_each_element(const Node& list, Fn&& fn) {
  simdjson::dom::array arr;
  if (list.raw().get_array().get(arr) != simdjson::SUCCESS) list.elements();  // throws
  size_t i = 0;
  for (simdjson::dom::element el : arr) fn(el, i++);
}

// An optional finite number member (absent or null: untouched); false if it is something else.
bool fast_optional_number(const simdjson::dom::object& o, std::string_view key, double& out) {
  simdjson::dom::element v;
  if (o.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return true;
  double d;
  if (v.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)) return false;
  out = d;
  return true;
}

// A domain axis {name, min?, max?} read directly; false when anything needs the checked path
// (which reports the problem at its pointer).
bool fast_domain_axis(simdjson::dom::element el, DomainAxis& a) {
  simdjson::dom::object o;
  std::string_view name;
  if (el.get_object().get(o) != simdjson::SUCCESS || o.at_key("name").get_string().get(name) != simdjson::SUCCESS) return false;
  a = DomainAxis{std::string(name), -INFINITY, INFINITY};
  return fast_optional_number(o, "min", a.min) && fast_optional_number(o, "max", a.max) && !(a.min > a.max);
}

// A parameter point entry {name, value, const?} read directly; false as above.
bool fast_point_entry(simdjson::dom::element el, std::string_view& name, PointEntry& e) {
  simdjson::dom::object o;
  if (el.get_object().get(o) != simdjson::SUCCESS || o.at_key("name").get_string().get(name) != simdjson::SUCCESS) return false;
  simdjson::dom::element v;
  if (o.at_key("value").get(v) != simdjson::SUCCESS || v.get_double().get(e.value) != simdjson::SUCCESS || !std::isfinite(e.value)) return false;
  if (o.at_key("const").get(v) == simdjson::SUCCESS && v.get_bool().get(e.is_const) != simdjson::SUCCESS) return false;
  return true;
}

Axis read_axis(const Node& ax, bool binned) {
  Axis a;
  a.name = ax.at("name").as_string();
  if (auto v = ax.get("min"); v && !v->is_null()) { a.min = v->as_number(); a.has_min = true; }
  if (auto v = ax.get("max"); v && !v->is_null()) { a.max = v->as_number(); a.has_max = true; }
  if (binned) {
    if (auto e = ax.get("edges")) {
      a.edges = e->as_numbers();
      if (a.edges.size() < 2) e->fail("expected at least 2 edges");
      for (size_t i = 1; i < a.edges.size(); ++i)
        if (!(a.edges[i] > a.edges[i - 1])) e->fail("edges must be strictly increasing");
      if (!a.has_min) { a.min = a.edges.front(); a.has_min = true; }
      if (!a.has_max) { a.max = a.edges.back(); a.has_max = true; }
    } else {
      Node nb = ax.at("nbins");
      const double n = nb.as_number();
      if (!(n >= 1) || n != std::floor(n) || n > 1e8) nb.fail("expected a positive integer number of bins");
      if (!a.has_min || !a.has_max) ax.fail("a regular binned axis needs min and max");
      for (size_t i = 0; i <= static_cast<size_t>(n); ++i) a.edges.push_back(a.min + (a.max - a.min) * static_cast<double>(i) / n);
    }
  }
  if (a.min > a.max) ax.fail("min " + std::to_string(a.min) + " > max " + std::to_string(a.max));
  return a;
}

Data read_data(const Node& d) {
  Data out{d.at("name").as_string(), d.at("type").as_string(), {}, {}, {}, d};
  if (out.type == "unbinned") {
    for (const Node& ax : d.at("axes").elements()) out.axes.push_back(read_axis(ax, false));
    const size_t k = out.axes.size();
    if (k == 0) d.at("axes").fail("expected at least one axis");
    out.columns.assign(k, {});
    Node entries = d.at("entries");
    // Read from simdjson's arrays directly (no Node per entry and value); a Node is made only
    // to report a problem at its pointer.
    simdjson::dom::array rows;
    if (entries.raw().get_array().get(rows) != simdjson::SUCCESS) entries.elements();  // throws "expected an array"
    for (size_t i = 0; i < k; ++i) out.columns[i].reserve(rows.size());
    size_t index = 0;
    for (simdjson::dom::element row : rows) {
      simdjson::dom::array xs;
      if (row.get_array().get(xs) != simdjson::SUCCESS || xs.size() != k)
        entries.element_node(row, index).fail("expected an array of " + std::to_string(k) + " coordinate(s), one per axis");
      size_t i = 0;
      for (simdjson::dom::element x : xs) {
        double v;
        if (x.get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v)) v = entries.element_node(row, index).elements()[i].as_number();  // throws
        const Axis& a = out.axes[i];
        if (v < a.min || v > a.max)
          entries.element_node(row, index).elements()[i].fail("entry " + std::to_string(v) + " outside the axis '" + a.name + "' range [" +
                                                              std::to_string(a.min) + ", " + std::to_string(a.max) + "]");
        out.columns[i++].push_back(v);
      }
      ++index;
    }
    if (auto w = d.get("weights")) {
      out.weights = w->as_numbers();
      if (out.weights.size() != out.columns[0].size())
        w->fail(std::to_string(out.weights.size()) + " weights for " + std::to_string(out.columns[0].size()) + " entries");
    }
  } else if (out.type == "binned") {
    for (const Node& ax : d.at("axes").elements()) out.axes.push_back(read_axis(ax, true));
    size_t total = 1;
    for (const Axis& a : out.axes) total *= a.edges.size() - 1;
    Node contents = d.at("contents");
    out.weights = contents.as_numbers();
    if (out.weights.size() != total)
      contents.fail(std::to_string(out.weights.size()) + " contents for " + std::to_string(total) + " bins");
    // Bin centres, C order (first axis slowest).
    out.columns.assign(out.axes.size(), std::vector<double>(total));
    for (size_t b = 0; b < total; ++b) {
      size_t rest = b;
      for (size_t i = out.axes.size(); i-- > 0;) {
        const size_t nb = out.axes[i].edges.size() - 1;
        const size_t j = rest % nb;
        rest /= nb;
        out.columns[i][b] = 0.5 * (out.axes[i].edges[j] + out.axes[i].edges[j + 1]);
      }
    }
  } else if (out.type == "point") {
    const double v = d.at("value").as_number();
    if (auto ax = d.get("axes"); ax && ax->size() > 0) out.axes.push_back(read_axis(ax->elements()[0], false));
    else out.axes.push_back(Axis{out.name, -1e300, 1e300, false, false, {}});
    out.columns = {{v}};
  } else {
    d.at("type").fail("unknown data type '" + out.type + "' (expected point, unbinned or binned)");
  }
  return out;
}

}  // namespace

Document::Document(const Node& root) : root_(root) {
  if (auto d = root.get("distributions"); d && d->is_object())
    d->fail("legacy HS3 layout (distributions as an object, written by ROOT < 6.30): not supported; re-export it with ROOT >= 6.30");
  Node meta = root.at("metadata");
  const std::string version = meta.at("hs3_version").as_string();
  if (version.empty() || version[0] != '0')
    spdlog::warn("{}/hs3_version: '{}' is not an HS3 0.x version; reading it as 0.2", meta.pointer(), version);
  if (auto packages = meta.get("packages"); packages && packages->is_array())
    for (const Node& p : packages->elements())
      if (p.is_object() && p.get("name") && p.at("name").is_string() && p.at("name").as_string() == "ROOT") root_producer_ = true;

  auto each = [&](const char* key, auto&& fn) {
    auto arr = root.get(key);
    if (!arr) return;
    if (!arr->is_array()) arr->fail(std::string("expected an array of named objects in '") + key + "'");
    for (const Node& item : arr->elements()) {
      if (!item.is_object()) item.fail("expected an object");
      fn(item, item.at("name").as_string());
    }
  };
  auto dup = [](const Node& item, const std::string& name, const char* key) {
    item.at("name").fail("duplicate name '" + name + "' in " + key);
  };
  each("distributions", [&](const Node& n, const std::string& name) {
    n.at("type").as_string();
    if (!distributions_.emplace(name, n).second) dup(n, name, "distributions");
  });
  each("functions", [&](const Node& n, const std::string& name) {
    n.at("type").as_string();
    if (!functions_.emplace(name, n).second) dup(n, name, "functions");
  });
  each("data", [&](const Node& n, const std::string& name) {
    if (!data_.emplace(name, read_data(n)).second) dup(n, name, "data");
  });
  each("likelihoods", [&](const Node& n, const std::string& name) {
    Likelihood l{name, {}, {}, {}, n};
    l.distributions = n.at("distributions").elements();
    l.data = n.at("data").elements();
    if (l.data.size() != l.distributions.size())
      n.at("data").fail(std::to_string(l.data.size()) + " data entries for " + std::to_string(l.distributions.size()) + " distributions (one each expected)");
    for (const Node& d : l.distributions) d.as_string();
    for (const Node& d : l.data)
      if (!d.is_string() && !d.is_number()) d.fail("expected a data name or a number, found " + d.type_name());
    if (auto aux = n.get("aux_distributions")) {
      l.aux = aux->elements();
      for (const Node& a : l.aux) a.as_string();
    }
    if (!likelihoods_.emplace(name, std::move(l)).second) dup(n, name, "likelihoods");
    likelihood_order_.push_back(name);
  });
  each("domains", [&](const Node& n, const std::string& name) {
    std::vector<DomainAxis> axes;
    Node list = n.get("axes") ? n.at("axes") : n.at("variables");
    for_each_element(list, [&](simdjson::dom::element el, size_t i) {
      DomainAxis a;
      if (!fast_domain_axis(el, a)) {
        const Node ax = list.element_node(el, i);
        a = DomainAxis{ax.at("name").as_string(), -INFINITY, INFINITY};
        if (auto v = ax.get("min"); v && !v->is_null()) a.min = v->as_number();
        if (auto v = ax.get("max"); v && !v->is_null()) a.max = v->as_number();
        if (a.min > a.max) ax.fail("min " + std::to_string(a.min) + " > max " + std::to_string(a.max));
      }
      axes.push_back(std::move(a));
    });
    if (!domains_.emplace(name, std::move(axes)).second) dup(n, name, "domains");
    domain_order_.push_back(name);
  });
  each("parameter_points", [&](const Node& n, const std::string& name) {
    std::map<std::string, PointEntry> pt;
    const Node params = n.at("parameters");
    for_each_element(params, [&](simdjson::dom::element el, size_t i) {
      std::string_view pname;
      PointEntry e;
      if (fast_point_entry(el, pname, e)) {
        pt[std::string(pname)] = e;
        return;
      }
      const Node p = params.element_node(el, i);
      e.value = p.at("value").as_number();
      if (auto c = p.get("const")) e.is_const = c->as_bool();
      pt[p.at("name").as_string()] = e;
    });
    if (!points_.emplace(name, std::move(pt)).second) dup(n, name, "parameter_points");
    point_order_.push_back(name);
  });
  each("analyses", [&](const Node& n, const std::string& name) {
    Analysis a{name, n.at("likelihood").as_string(), {}, {}, "", n};
    if (!likelihoods_.count(a.likelihood)) n.at("likelihood").fail("unknown likelihood '" + a.likelihood + "'" + listing(likelihoods_));
    for (const char* key : {"parameters_of_interest", "parameter_of_interest", "pois"})
      if (auto p = n.get(key)) {
        if (p->is_string()) a.pois.push_back(p->as_string());
        else a.pois = p->as_strings();
      }
    if (auto d = n.get("domains")) {
      for (const Node& x : d->elements()) a.domains.push_back(x.as_string());
    }
    if (auto d = n.get("domain")) a.domains.push_back(d->as_string());
    for (size_t i = 0; i < a.domains.size(); ++i)
      if (!domains_.count(a.domains[i])) {
        Node where = n.get("domains") ? n.at("domains") : n.at("domain");
        where.fail("unknown domain '" + a.domains[i] + "'" + listing(domains_));
      }
    if (auto i = n.get("init")) {
      a.init = i->as_string();
      if (!points_.count(a.init)) i->fail("unknown parameter point '" + a.init + "'" + listing(points_));
    }
    if (!analyses_.emplace(name, std::move(a)).second) dup(n, name, "analyses");
    analysis_order_.push_back(name);
  });
}

const Node* Document::distribution(const std::string& name) const {
  auto it = distributions_.find(name);
  return it == distributions_.end() ? nullptr : &it->second;
}
const Node* Document::function(const std::string& name) const {
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}
const Data* Document::data(const std::string& name) const {
  auto it = data_.find(name);
  return it == data_.end() ? nullptr : &it->second;
}
const Likelihood* Document::likelihood(const std::string& name) const {
  auto it = likelihoods_.find(name);
  return it == likelihoods_.end() ? nullptr : &it->second;
}
const Analysis* Document::analysis(const std::string& name) const {
  auto it = analyses_.find(name);
  return it == analyses_.end() ? nullptr : &it->second;
}

std::map<std::string, DomainAxis> Document::bounds(const std::vector<std::string>& domains) const {
  std::vector<std::string> use = domains;
  if (use.empty() && domains_.count("default_domain")) use.push_back("default_domain");
  if (use.empty()) use = domain_order_;
  std::map<std::string, DomainAxis> out;
  for (const std::string& d : use)
    for (const DomainAxis& a : domains_.at(d)) out[a.name] = a;
  return out;
}

std::map<std::string, PointEntry> Document::point(const std::string& init) const {
  if (!init.empty()) return points_.at(init);
  if (points_.count("default_values")) return points_.at("default_values");
  if (!point_order_.empty()) return points_.at(point_order_.front());
  return {};
}

std::string nothing_to_fit(const Node& root) {
  std::vector<std::string> parts;
  for (const char* key : {"distributions", "functions", "data", "domains", "parameter_points", "analyses"}) {
    auto arr = root.get(key);
    if (!arr || !arr->is_array() || arr->size() == 0) continue;
    std::vector<std::string> names;
    for (const Node& o : arr->elements()) {
      if (names.size() == 4) {
        names.push_back("...");
        break;
      }
      if (o.is_object() && o.get("name") && o.at("name").is_string()) names.push_back(o.at("name").as_string());
    }
    parts.push_back(std::to_string(arr->size()) + " " + key + " (" + join(names) + ")");
  }
  std::string holds;
  for (const auto& p : parts) holds += (holds.empty() ? "" : ", ") + p;
  return "no likelihoods: nothing to fit. The file holds " + (holds.empty() ? std::string("no HS3 components") : holds) +
         " but no `likelihoods` entry pairing distributions with data; `hs3fit inspect` lists and checks its contents";
}

std::vector<std::string> select_likelihoods(const Document& doc, const std::string& analysis_option,
                                            const std::vector<std::string>& likelihood_option, const Analysis** analysis,
                                            std::string* selection) {
  *analysis = nullptr;
  auto all = [&] {
    std::string s;
    for (const auto& n : doc.likelihood_names()) s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? std::string() : " (available: " + s + ")";
  };
  if (likelihood_option.size() == 1 && likelihood_option[0] == "all" && !doc.likelihood("all")) {
    *selection = "likelihoods " + join(doc.likelihood_names());
    return doc.likelihood_names();
  }
  if (!likelihood_option.empty()) {
    for (const std::string& l : likelihood_option)
      if (!doc.likelihood(l)) throw Error(ErrorKind::Usage, "--likelihood", "no likelihood named '" + l + "'" + all());
    *selection = "likelihoods " + join(likelihood_option);
    return likelihood_option;
  }
  if (!analysis_option.empty() || !doc.analysis_names().empty()) {
    const std::string name = analysis_option.empty() ? doc.analysis_names().front() : analysis_option;
    const Analysis* a = doc.analysis(name);
    if (!a) {
      std::string s;
      for (const auto& n : doc.analysis_names()) s += (s.empty() ? "" : ", ") + n;
      throw Error(ErrorKind::Usage, "--analysis", "no analysis named '" + name + "'" + (s.empty() ? "" : " (available: " + s + ")"));
    }
    *analysis = a;
    *selection = "analysis " + a->name + " (likelihood " + a->likelihood + ")";
    return {a->likelihood};
  }
  if (doc.likelihood_names().empty()) doc.root().fail(nothing_to_fit(doc.root()));
  *selection = "likelihood " + doc.likelihood_names().front();
  return {doc.likelihood_names().front()};
}

}  // namespace hs3fit::hs3
