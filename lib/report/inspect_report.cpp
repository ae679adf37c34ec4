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

std::string inspect_json(const LoadedModel& lm) {
  const model::Model& m = lm.model;
  const Summary s = summarize(m);
  json::Writer w;
  w.begin_object();
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
  w.end_object();
  return w.str();
}

}  // namespace hs3fit::report
