#include "pyhf/parameter_sets.h"

#include <algorithm>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "json/diagnostics.h"
#include "json/json_reader.h"
#include "pyhf/name_hash.h"

namespace hs3fit::pyhf {

ParameterDefaults parameter_defaults(ModifierType type) {
  ParameterDefaults d;
  switch (type) {
    case ModifierType::NormFactor: break;
    case ModifierType::ShapeFactor: d.per_bin = true; break;
    case ModifierType::NormSys:
    case ModifierType::HistoSys:
      d.init = 0.0;
      d.bounds = {-5.0, 5.0};
      d.constraint = ConstraintType::Gaussian;
      d.accepts_auxdata = true;
      break;
    case ModifierType::Lumi:
      d.constraint = ConstraintType::Gaussian;
      d.accepts_auxdata = d.accepts_sigmas = true;
      break;
    case ModifierType::StatError:
      d.bounds = {1e-10, 10.0};
      d.constraint = ConstraintType::Gaussian;
      d.per_bin = d.accepts_auxdata = d.accepts_sigmas = true;
      break;
    case ModifierType::ShapeSys:
      d.bounds = {1e-10, 10.0};
      d.constraint = ConstraintType::Poisson;
      d.per_bin = d.accepts_auxdata = d.accepts_factors = true;
      break;
  }
  return d;
}

namespace {
bool shares_with(ModifierType a, ModifierType b) {
  auto sys = [](ModifierType t) { return t == ModifierType::NormSys || t == ModifierType::HistoSys; };
  return a == b || (sys(a) && sys(b));
}
}  // namespace

std::map<std::string, ParameterSet> parameter_sets(const Workspace& ws, json::ErrorCollector& problems) {
  std::map<std::string, ParameterSet> sets;
  // staterror: per name, the channels using it (counted once each) and, per channel, the
  // sorted names of the samples carrying it.
  struct StatUse { const Channel* channel; std::vector<std::string> samples; const Modifier* first; };
  std::map<std::string, std::vector<StatUse>> stat;
  struct UseKey {
    std::string_view name;
    const Channel* channel;
    bool operator==(const UseKey& o) const { return channel == o.channel && name == o.name; }
  };
  struct UseKeyHash {
    size_t operator()(const UseKey& k) const { return name_hash(k.name) * 31 + std::hash<const void*>()(k.channel); }
  };
  std::unordered_map<UseKey, size_t, UseKeyHash> stat_use_index;  // (name, channel) → index in stat[name]
  // Hashed lookup by name (the map's nodes and keys never move).
  std::unordered_map<std::string_view, ParameterSet*, NameHash> index;

  for (const Channel& ch : ws.channels) {
    for (const Sample& s : ch.samples) {
      for (const Modifier& mod : s.modifiers) {
        auto it = index.find(mod.name);
        if (it != index.end()) {
          const ParameterSet& ps = *it->second;
          if (!shares_with(ps.type, mod.type)) {
            problems.add(mod.pointer(), "modifier " + json::safe_quote(mod.name) + " of type " + to_string(mod.type) +
                                          " reuses the name of a " + to_string(ps.type) + " modifier (" + ps.first_pointer() +
                                          "); pyhf needs one parameter type per name");
            continue;
          }
          if (mod.type == ModifierType::ShapeSys) {
            problems.add(mod.pointer(), "shapesys " + json::safe_quote(mod.name) + " is used more than once (first at " +
                                          ps.first_pointer() + "); a pyhf shapesys name belongs to one sample of one channel");
            continue;
          }
          if (mod.type == ModifierType::ShapeFactor && ps.n != ch.nbins()) {
            problems.add(mod.pointer(), "shapefactor " + json::safe_quote(mod.name) + " is used on channels with " + std::to_string(ps.n) +
                                          " bins (" + ps.first_pointer() + ") and " + std::to_string(ch.nbins()) +
                                          " bins; a shared shapefactor needs equal binning");
            continue;
          }
        } else {
          ParameterSet ps;
          ps.name = mod.name;
          ps.type = mod.type;
          ps.n = parameter_defaults(mod.type).per_bin ? ch.nbins() : 1;
          ps.first = &mod;
          auto inserted = sets.emplace(mod.name, std::move(ps)).first;
          index.emplace(inserted->first, &inserted->second);
        }
        if (mod.type == ModifierType::StatError) {
          auto& uses = stat[mod.name];
          auto [idx, fresh] = stat_use_index.emplace(UseKey{mod.name, &ch}, uses.size());
          if (fresh) uses.push_back({&ch, {}, &mod});
          uses[idx->second].samples.push_back(s.name);
        }
      }
    }
  }
  for (auto& [name, uses] : stat) {
    ParameterSet& ps = sets.at(name);
    ps.n = 0;
    for (StatUse& u : uses) {
      ps.n += u.channel->nbins();
      std::sort(u.samples.begin(), u.samples.end());
    }
    // pyhf asserts that every sample carrying a staterror name carries it in every channel
    // where the name is used.
    for (const StatUse& u : uses)
      if (u.samples != uses.front().samples) {
        std::string a, b;
        for (const auto& n : uses.front().samples) a += (a.empty() ? "" : ", ") + json::safe_quote(n, 40);
        for (const auto& n : u.samples) b += (b.empty() ? "" : ", ") + json::safe_quote(n, 40);
        problems.add(u.first->pointer(), "staterror " + json::safe_quote(name) + " is carried by samples " + b + " in channel " +
                                           json::safe_quote(u.channel->name) + " but by " + a + " in channel " +
                                           json::safe_quote(uses.front().channel->name) +
                                           " (pyhf needs the same samples in every channel using it)");
        break;
      }
  }
  return sets;
}

}  // namespace hs3fit::pyhf
