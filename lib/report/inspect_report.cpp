#include "report/inspect_report.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <numeric>
#include <set>

#include "json/json_writer.h"

namespace hs3fit::report {

namespace {

using model::ModifierKind;

constexpr ModifierKind kAllKinds[] = {ModifierKind::NormFactor, ModifierKind::NormSys, ModifierKind::HistoSys, ModifierKind::ShapeFactor,
                                      ModifierKind::ShapeSys, ModifierKind::StatError, ModifierKind::Lumi};

struct Summary {
  std::map<ModifierKind, std::set<std::string>> modifier_names;  // distinct modifier names per kind
  size_t bins = 0, samples = 0, free = 0, fixed = 0, constrained = 0;
  double observed = 0;
};

Summary summarize(const model::Model& m) {
  Summary s;
  for (const auto& ch : m.channels) {
    s.bins += ch.nbins();
    s.samples += ch.samples.size();
    s.observed += std::accumulate(ch.observed.begin(), ch.observed.end(), 0.0);
    for (const auto& smp : ch.samples)
      for (const auto& mod : smp.modifiers) s.modifier_names[mod.kind].insert(mod.name);
  }
  for (const auto& p : m.parameters) (p.fixed ? s.fixed : s.free)++;
  s.constrained = m.constraints.size();
  return s;
}

std::string constraint_of(const model::Model& m, uint32_t i) {
  for (const auto& c : m.constraints)
    if (c.param == i)
      return c.kind == model::ConstraintKind::Gaussian ? fmt::format("Gauss(aux={:g}, sigma={:g})", c.aux, c.sigma)
                                                        : fmt::format("Poisson(aux={:g}, tau={:g})", c.aux, c.tau);
  return "";
}

}  // namespace

std::string inspect_table(const LoadedModel& lm) {
  const model::Model& m = lm.model;
  const Summary s = summarize(m);
  std::string out;
  out += fmt::format("workspace     {} ({}, {} bytes)\n", lm.source, lm.format, lm.bytes);
  std::string meas;
  for (const auto& name : lm.measurements) meas += (meas.empty() ? "" : ", ") + name + (name == lm.measurement ? " (used)" : "");
  out += fmt::format("measurements  {}\n", meas);
  out += fmt::format("POI           {}\n", m.poi ? m.parameters[*m.poi].name : "(none)");
  out += fmt::format("channels      {}   bins {}   samples {}   observed events {:g}\n", m.channels.size(), s.bins, s.samples, s.observed);
  out += fmt::format("parameters    {} ({} free, {} fixed, {} constrained)\n", m.parameters.size(), s.free, s.fixed, s.constrained);
  out += "modifiers    ";
  for (ModifierKind k : kAllKinds) out += fmt::format(" {} {}", model::to_string(k), s.modifier_names.count(k) ? s.modifier_names.at(k).size() : 0);
  out += "\n\n";
  size_t w = 7;
  for (const auto& ch : m.channels) w = std::max(w, ch.name.size());
  out += fmt::format("{:<{}}  {:>5}  {:>12}  {}\n", "channel", w, "bins", "observed", "samples (nominal yield)");
  for (const auto& ch : m.channels) {
    std::string samples;
    for (const auto& smp : ch.samples)
      samples += fmt::format("{}{} ({:.4g})", samples.empty() ? "" : ", ", smp.name, std::accumulate(smp.nominal.begin(), smp.nominal.end(), 0.0));
    out += fmt::format("{:<{}}  {:>5}  {:>12g}  {}\n", ch.name, w, ch.nbins(), std::accumulate(ch.observed.begin(), ch.observed.end(), 0.0), samples);
  }
  size_t pw = 9;
  for (const auto& p : m.parameters) pw = std::max(pw, p.name.size());
  out += fmt::format("\n{:<{}}  {:>10}  {:>21}  {:>6}  {}\n", "parameter", pw, "init", "bounds", "fixed", "constraint");
  for (uint32_t i = 0; i < m.parameters.size(); ++i) {
    const auto& p = m.parameters[i];
    out += fmt::format("{:<{}}  {:>10.4g}  {:>21}  {:>6}  {}\n", p.name, pw, p.init, fmt::format("[{:g}, {:g}]", p.lo, p.hi),
                       p.fixed ? "yes" : "", constraint_of(m, i));
  }
  return out;
}

namespace {
void write_model(json::Writer& w, const LoadedModel& lm) {
  const model::Model& m = lm.model;
  const Summary s = summarize(m);
  w.key("workspace").value(lm.source);
  w.key("format").value(lm.format);
  w.key("bytes").value(lm.bytes);
  w.key("measurements").strings(lm.measurements);
  w.key("measurement").value(lm.measurement);
  w.key("poi");
  if (m.poi) w.value(m.parameters[*m.poi].name); else w.null();
  w.key("totals").begin_object();
  w.key("channels").value(m.channels.size());
  w.key("bins").value(s.bins);
  w.key("samples").value(s.samples);
  w.key("parameters").value(m.parameters.size());
  w.key("free_parameters").value(s.free);
  w.key("constraints").value(s.constrained);
  w.key("observed_events").value(s.observed);
  w.end_object();
  w.key("modifiers").begin_object();
  for (ModifierKind k : kAllKinds) {
    std::vector<std::string> names;
    if (s.modifier_names.count(k)) names.assign(s.modifier_names.at(k).begin(), s.modifier_names.at(k).end());
    w.key(model::to_string(k)).strings(names);
  }
  w.end_object();
  w.key("channels").begin_array();
  for (const auto& ch : m.channels) {
    w.begin_object();
    w.key("name").value(ch.name);
    w.key("bins").value(ch.nbins());
    w.key("observed").numbers(ch.observed);
    w.key("samples").begin_array();
    for (const auto& smp : ch.samples) {
      w.begin_object();
      w.key("name").value(smp.name);
      w.key("nominal").numbers(smp.nominal);
      std::vector<std::string> mods;
      for (const auto& mod : smp.modifiers) mods.push_back(std::string(model::to_string(mod.kind)) + ":" + mod.name);
      w.key("modifiers").strings(mods);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("parameters").begin_array();
  for (uint32_t i = 0; i < m.parameters.size(); ++i) {
    const auto& p = m.parameters[i];
    w.begin_object();
    w.key("name").value(p.name);
    w.key("init").value(p.init);
    w.key("bounds").numbers({p.lo, p.hi});
    w.key("fixed").value(p.fixed);
    w.key("constraint").value(constraint_of(m, i));
    w.end_object();
  }
  w.end_array();
}

std::string tag_suffix(const hs3::ObjectSummary& o) {
  std::string t;
  for (const auto& x : o.tags) t += (t.empty() ? "" : ", ") + x;
  return t.empty() ? "" : " (" + t + ")";
}

std::string parameter_table(const model::Model& m) {
  size_t pw = 9;
  for (const auto& p : m.parameters) pw = std::max(pw, p.name.size());
  std::string out = fmt::format("{:<{}}  {:>10}  {:>21}  {:>6}\n", "parameter", pw, "init", "bounds", "fixed");
  for (const auto& p : m.parameters)
    out += fmt::format("{:<{}}  {:>10.4g}  {:>21}  {:>6}\n", p.name, pw, p.init, fmt::format("[{:g}, {:g}]", p.lo, p.hi), p.fixed ? "yes" : "");
  return out;
}
}  // namespace

std::string inspect_json(const LoadedModel& lm) {
  json::Writer w;
  w.begin_object();
  write_model(w, lm);
  w.end_object();
  return w.str();
}

std::string inspect_hs3_table(const Hs3Inspect& in) {
  const hs3::DocumentSummary& d = in.document;
  std::string out;
  std::string producer;
  for (const auto& p : d.packages) producer += (producer.empty() ? "" : ", ") + p;
  out += fmt::format("workspace     {} (hs3 {}, {} bytes{})\n", in.source, d.hs3_version, in.bytes, producer.empty() ? "" : ", written by " + producer);
  auto section = [&](const char* title, const std::vector<hs3::ObjectSummary>& objs, bool typed) {
    out += fmt::format("\n{} {}\n", title, objs.size());
    size_t nw = 4, tw = 4;
    for (const auto& o : objs) {
      nw = std::max(nw, o.name.size());
      tw = std::max(tw, o.type.size());
    }
    for (const auto& o : objs) {
      if (typed) out += fmt::format("  {:<{}}  {:<{}}  {}{}\n", o.name, nw, o.type, tw, o.detail, tag_suffix(o));
      else out += fmt::format("  {:<{}}  {}{}\n", o.name, nw, o.detail, tag_suffix(o));
      if (!o.problem.empty()) out += fmt::format("  {:<{}}  ! {}\n", "", nw, o.problem);
    }
  };
  section("distributions", d.distributions, true);
  section("functions", d.functions, true);
  section("data", d.data, true);
  section("domains", d.domains, false);
  section("parameter_points", d.parameter_points, false);
  section("likelihoods", d.likelihoods, false);
  section("analyses", d.analyses, false);
  out += fmt::format("\nchecked       {} distributions and functions: {}\n", d.checked,
                     d.problems.empty() ? std::string("no problems") : fmt::format("{} problem(s)", d.problems.size()));
  for (const auto& p : d.problems) out += "  " + p + "\n";
  if (!in.load_error.empty()) out += "\nlikelihood    not loaded: " + in.load_error + "\n";
  if (in.model) {
    const LoadedModel& lm = *in.model;
    out += "\n";
    if (lm.general) {
      const model::Model& m = lm.model;
      out += fmt::format("selected      {}\n", lm.measurement);
      out += fmt::format("model         {}\n", lm.general->summary());
      out += fmt::format("POI           {}\n\n", m.poi ? m.parameters[*m.poi].name : "(none)");
      out += parameter_table(m);
    } else {
      out += inspect_table(lm);
    }
  } else if (d.likelihoods.empty()) {
    out += "\nlikelihood    none in the file: nothing to fit or evaluate\n";
  }
  return out;
}

std::string inspect_hs3_json(const Hs3Inspect& in) {
  const hs3::DocumentSummary& d = in.document;
  json::Writer w;
  w.begin_object();
  if (in.model) {
    write_model(w, *in.model);
  } else {
    w.key("workspace").value(in.source);
    w.key("format").value("hs3");
    w.key("bytes").value(in.bytes);
  }
  if (in.model && in.model->general) w.key("model").value(in.model->general->summary());
  w.key("likelihood_loaded").value(in.model != nullptr);
  if (!in.load_error.empty()) w.key("load_error").value(in.load_error);
  w.key("document").begin_object();
  w.key("hs3_version").value(d.hs3_version);
  w.key("packages").strings(d.packages);
  auto section = [&](const char* key, const std::vector<hs3::ObjectSummary>& objs) {
    w.key(key).begin_array();
    for (const auto& o : objs) {
      w.begin_object();
      w.key("name").value(o.name);
      if (!o.type.empty()) w.key("type").value(o.type);
      w.key("detail").value(o.detail);
      w.key("pointer").value(o.pointer);
      if (!o.tags.empty()) w.key("tags").strings(o.tags);
      if (!o.problem.empty()) w.key("problem").value(o.problem);
      w.end_object();
    }
    w.end_array();
  };
  section("distributions", d.distributions);
  section("functions", d.functions);
  section("data", d.data);
  section("domains", d.domains);
  section("parameter_points", d.parameter_points);
  section("likelihoods", d.likelihoods);
  section("analyses", d.analyses);
  w.key("checked").value(d.checked);
  w.key("problems").strings(d.problems);
  w.end_object();
  w.end_object();
  return w.str();
}

}  // namespace hs3fit::report
