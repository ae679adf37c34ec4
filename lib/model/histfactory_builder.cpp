#include "model/histfactory_builder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "pyhf/name_hash.h"

namespace hs3fit::model {

namespace {

using pyhf::ModifierType;

enum class ConstraintType { None, Gaussian, Poisson };

// One pyhf "paramset": the parameters behind a modifier name.
struct ParamSet {
  std::string name;
  ModifierType type = ModifierType::NormFactor;  // first type seen (normsys/histosys may share)
  bool scalar = true;
  size_t n = 1;
  ConstraintType constraint = ConstraintType::None;
  std::vector<double> inits, aux, sigmas, factors;  // factors: Poisson τ
  std::vector<std::pair<double, double>> bounds;
  std::vector<bool> fixed;
  const pyhf::Modifier* first = nullptr;  // the first modifier using the name (its pointer for messages)
  uint32_t first_index = 0;  // index of its first parameter in the Model
  bool placed = false;       // parameter_order: already given its place
};

bool is_per_bin(ModifierType t) {
  return t == ModifierType::ShapeFactor || t == ModifierType::ShapeSys || t == ModifierType::StatError;
}

ModifierKind kind_of(ModifierType t) {
  switch (t) {
    case ModifierType::NormFactor: return ModifierKind::NormFactor;
    case ModifierType::NormSys: return ModifierKind::NormSys;
    case ModifierType::HistoSys: return ModifierKind::HistoSys;
    case ModifierType::ShapeFactor: return ModifierKind::ShapeFactor;
    case ModifierType::ShapeSys: return ModifierKind::ShapeSys;
    case ModifierType::StatError: return ModifierKind::StatError;
    case ModifierType::Lumi: return ModifierKind::Lumi;
  }
  return ModifierKind::NormFactor;
}

class Builder {
 public:
  // `steal`: lower_channel moves names and vectors out of the workspace (the caller gave it up).
  Builder(const pyhf::Workspace& ws, const BuildOptions& opt, bool steal = false)
      : ws_(ws), opt_(opt), meas_(ws.measurement(opt.measurement)), steal_(steal) {}

  Model build() {
    // pyhf orders channels by name; per-bin parameter sets spanning several channels
    // (staterror) concatenate their bins in that order.
    for (const pyhf::Channel& c : ws_.channels) channels_.push_back(&c);
    std::sort(channels_.begin(), channels_.end(), [](auto* a, auto* b) { return a->name < b->name; });

    collect_paramsets();
    apply_measurement_config();
    size_t components = 0;
    for (const auto& [name, ps] : sets_) components += ps.n;
    params_.reserve(components);
    constraints_.reserve(components);
    create_parameters();
    Model m;
    m.parameters = std::move(params_);
    m.channels.reserve(channels_.size());
    for (const pyhf::Channel* c : channels_) m.channels.push_back(lower_channel(*c));
    m.constraints = std::move(constraints_);
    const std::string poi = opt_.poi ? *opt_.poi : meas_.poi;
    if (!poi.empty()) {
      auto idx = sets_.count(poi) ? m.find_parameter(sets_.at(poi).scalar ? poi : poi + "[0]") : std::nullopt;
      if (!idx) {
        if (opt_.poi) throw Error(ErrorKind::Usage, "--poi", "no parameter named '" + poi + "' in the model");
        throw_input_error(meas_.pointer + "/config/poi", "POI '" + poi + "' is not a parameter of the model");
      }
      if (!sets_.at(poi).scalar) {
        const std::string msg = "POI '" + poi + "' must be a scalar parameter, but it has " + std::to_string(sets_.at(poi).n) + " components";
        if (opt_.poi) throw Error(ErrorKind::Usage, "--poi", msg);
        throw_input_error(meas_.pointer + "/config/poi", msg);
      }
      m.poi = *idx;
    }
    return m;
  }

 private:
  // The parameter set of a name, or null (hashed; sets_ keeps the alphabetical order).
  ParamSet* find_set(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }

  ParamSet& paramset(const pyhf::Modifier& mod, size_t nbins_hint) {
    if (ParamSet* existing = find_set(mod.name)) {
      ParamSet& ps = *existing;
      const bool compatible =
          ps.type == mod.type || ((ps.type == ModifierType::NormSys || ps.type == ModifierType::HistoSys) &&
                                  (mod.type == ModifierType::NormSys || mod.type == ModifierType::HistoSys));
      if (!compatible)
        throw_input_error(mod.pointer(), "modifier '" + mod.name + "' of type " + pyhf::to_string(mod.type) +
                                           " reuses the name of a " + pyhf::to_string(ps.type) + " modifier (" + ps.first->pointer() + ")");
      return ps;
    }
    ParamSet ps;
    ps.name = mod.name;
    ps.type = mod.type;
    ps.first = &mod;
    ps.scalar = !is_per_bin(mod.type);
    ps.n = ps.scalar ? 1 : nbins_hint;
    auto inserted = sets_.emplace(mod.name, std::move(ps)).first;
    index_.emplace(inserted->first, &inserted->second);
    return inserted->second;
  }

  void collect_paramsets() {
    // staterror: per name, the concatenation over channels (in order) of the bins of each
    // channel that uses it; σ_b = sqrt(Σ_s (u_sb/N_b)²) with N_b = Σ_s n_sb, both sums over the
    // samples carrying it (pyhf's exact floating-point path).
    struct StatBins { std::vector<double> nominal_sum; std::vector<const pyhf::Sample*> samples; std::vector<const pyhf::Modifier*> mods; };
    std::map<std::string, std::vector<std::pair<const pyhf::Channel*, StatBins>>> stat;

    size_t total = 0;
    for (const pyhf::Channel* ch : channels_)
      for (const pyhf::Sample& s : ch->samples) total += s.modifiers.size();
    set_of_.reserve(total);
    sample_base_.reserve(ws_.channels.size() * 8);
    for (const pyhf::Channel* ch : channels_) {
      const size_t nb = ch->nbins();
      for (const pyhf::Sample& s : ch->samples) {
        sample_base_.emplace(&s, set_of_.size());
        for (const pyhf::Modifier& mod : s.modifiers) {
          set_of_.push_back(nullptr);  // set below, once the modifier's set exists
          switch (mod.type) {
            case ModifierType::NormFactor: {
              ParamSet& ps = paramset(mod, 1);
              set_of_.back() = &ps;
              if (ps.inits.empty()) set_defaults(ps, 1.0, {0.0, 10.0});
              break;
            }
            case ModifierType::Lumi: {
              ParamSet& ps = paramset(mod, 1);
              set_of_.back() = &ps;
              if (ps.inits.empty()) { set_defaults(ps, 1.0, {0.0, 10.0}); ps.constraint = ConstraintType::Gaussian; }
              break;
            }
            case ModifierType::NormSys:
            case ModifierType::HistoSys: {
              ParamSet& ps = paramset(mod, 1);
              set_of_.back() = &ps;
              if (ps.inits.empty()) {
                set_defaults(ps, 0.0, {-5.0, 5.0});
                ps.constraint = ConstraintType::Gaussian;
                ps.aux = {0.0};
                ps.sigmas = {1.0};
              }
              break;
            }
            case ModifierType::ShapeFactor: {
              ParamSet& ps = paramset(mod, nb);
              set_of_.back() = &ps;
              if (ps.inits.empty()) set_defaults(ps, 1.0, {0.0, 10.0});
              else if (ps.n != nb)
                throw_input_error(mod.pointer(), "shapefactor '" + mod.name + "' is used on channels with " + std::to_string(ps.n) +
                                                   " and " + std::to_string(nb) + " bins (a shared shapefactor needs equal binning)");
              break;
            }
            case ModifierType::ShapeSys: {
              if (const ParamSet* existing = find_set(mod.name))
                throw_input_error(mod.pointer(), "shapesys '" + mod.name + "' is defined more than once (first at " +
                                                     existing->first->pointer() + "); pyhf shapesys parameters cannot be shared");
              // τ_b = n_b²/σ_b² for bins with positive nominal and uncertainty; other bins keep a
              // parameter fixed at 1 with τ = aux = 1, and their constraint term stays (pyhf).
              ParamSet& ps = paramset(mod, nb);
              set_of_.back() = &ps;
              ps.constraint = ConstraintType::Poisson;
              set_defaults(ps, 1.0, {1e-10, 10.0});
              for (size_t b = 0; b < nb; ++b) {
                const double nom = s.data[b], unc = mod.uncertainties[b];
                const bool valid = nom > 0 && unc > 0;
                const double tau = valid ? nom * nom / (unc * unc) : 1.0;
                ps.factors.push_back(tau);
                ps.aux.push_back(tau);
                ps.fixed[b] = !valid;
              }
              break;
            }
            case ModifierType::StatError: {
              ParamSet& ps = paramset(mod, nb);
              set_of_.back() = &ps;
              ps.constraint = ConstraintType::Gaussian;
              auto& per_channel = stat[mod.name];
              auto it = std::find_if(per_channel.begin(), per_channel.end(), [&](auto& p) { return p.first == ch; });
              if (it == per_channel.end()) {
                per_channel.push_back({ch, StatBins{std::vector<double>(nb, 0.0), {}, {}}});
                it = per_channel.end() - 1;
              }
              for (size_t b = 0; b < nb; ++b) it->second.nominal_sum[b] += s.data[b];
              it->second.samples.push_back(&s);
              it->second.mods.push_back(&mod);
              break;
            }
          }
        }
      }
    }
    for (auto& [name, per_channel] : stat) {
      ParamSet& ps = sets_.at(name);
      ps.n = 0;
      ps.sigmas.clear();
      std::vector<bool> fixed;
      // Concatenate in channel order (channels_ is sorted, and per_channel follows it).
      for (auto& [ch, bins] : per_channel) {
        stat_offset_[{ps.name, ch}] = static_cast<int64_t>(ps.n);
        for (size_t b = 0; b < bins.nominal_sum.size(); ++b) {
          const double N = bins.nominal_sum[b];
          double rel2 = 0;
          for (const pyhf::Modifier* m : bins.mods) {
            const double r = N > 0 ? m->uncertainties[b] / N : 0.0;
            rel2 += r * r;
          }
          const double sigma = std::sqrt(rel2);
          // pyhf: a bin with zero relative uncertainty (or N ≤ 0) gets a fixed parameter and
          // σ = 1; its constraint term stays in the NLL as a constant.
          fixed.push_back(sigma == 0.0);
          ps.sigmas.push_back(sigma == 0.0 ? 1.0 : sigma);
          ++ps.n;
        }
      }
      set_defaults(ps, 1.0, {1e-10, 10.0});
      ps.aux.assign(ps.n, 1.0);
      ps.fixed = fixed;
      check_staterror_masks(name, per_channel);
    }
  }

  // pyhf requires every sample carrying a staterror name to carry it in every channel where
  // the name is used (otherwise its internal mask check fails).
  template <class PerChannel>
  void check_staterror_masks(const std::string& name, const PerChannel& per_channel) {
    std::vector<std::string> reference;
    for (const auto& [ch, bins] : per_channel) {
      std::vector<std::string> names;
      for (const pyhf::Sample* smp : bins.samples) names.push_back(smp->name);
      std::sort(names.begin(), names.end());
      if (reference.empty()) reference = names;
      else if (names != reference)
        throw_input_error(bins.mods.front()->pointer(), "staterror '" + name + "' is carried by different samples in different channels (pyhf requires the same samples in every channel)");
    }
  }

  static void set_defaults(ParamSet& ps, double init, std::pair<double, double> bounds) {
    ps.inits.assign(ps.n, init);
    ps.bounds.assign(ps.n, bounds);
    ps.fixed.assign(ps.n, false);
  }

  void apply_measurement_config() {
    for (const pyhf::ParameterConfig& pc : meas_.parameters) {
      auto it = sets_.find(pc.name);
      if (it == sets_.end()) {
        spdlog::warn("{}: measurement configures parameter '{}', which no modifier uses; ignored", pc.pointer, pc.name);
        continue;
      }
      ParamSet& ps = it->second;
      auto check_len = [&](size_t len, const char* field) {
        if (len != ps.n)
          throw_input_error(pc.pointer + "/" + field, std::to_string(len) + " values given, parameter '" + pc.name + "' has " +
                                                           std::to_string(ps.n) + (ps.n == 1 ? " component" : " components"));
      };
      if (pc.inits) { check_len(pc.inits->size(), "inits"); ps.inits = *pc.inits; lumi_init_given_.insert(pc.name); }
      if (pc.bounds) { check_len(pc.bounds->size(), "bounds"); ps.bounds = *pc.bounds; }
      if (pc.fixed) ps.fixed.assign(ps.n, *pc.fixed);
      if (pc.auxdata) {
        if (ps.constraint == ConstraintType::None)
          throw_input_error(pc.pointer + "/auxdata", "parameter '" + pc.name + "' is not constrained; auxdata makes no sense for it");
        check_len(pc.auxdata->size(), "auxdata");
        ps.aux = *pc.auxdata;
      }
      if (pc.sigmas) {
        if (ps.constraint != ConstraintType::Gaussian)
          throw_input_error(pc.pointer + "/sigmas", "parameter '" + pc.name + "' has no Gaussian constraint; sigmas make no sense for it");
        check_len(pc.sigmas->size(), "sigmas");
        ps.sigmas = *pc.sigmas;
      }
      if (pc.factors) {
        if (ps.constraint != ConstraintType::Poisson)
          throw_input_error(pc.pointer + "/factors", "parameter '" + pc.name + "' has no Poisson constraint; factors make no sense for it");
        check_len(pc.factors->size(), "factors");
        ps.factors = *pc.factors;
      }
    }
    for (auto& [name, ps] : sets_) {
      if (ps.type == ModifierType::Lumi && (ps.aux.empty() || ps.sigmas.empty()))
        throw_input_error(meas_.pointer + "/config/parameters",
                          "lumi modifier '" + name + "' needs a parameter configuration with 'auxdata' and 'sigmas' in measurement '" +
                              meas_.name + "'");
      if (ps.type == ModifierType::Lumi && !lumi_init_given_.count(name)) ps.inits = ps.aux;  // start at the nominal lumi
      for (size_t i = 0; i < ps.n; ++i) {
        const auto& [lo, hi] = ps.bounds[i];
        if (!(ps.inits[i] >= lo && ps.inits[i] <= hi))
          throw_input_error(meas_.pointer + "/config/parameters", "initial value " + std::to_string(ps.inits[i]) + " of '" +
                                                                      component_name(ps, i) + "' is outside its bounds [" +
                                                                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
      }
    }
  }

  static std::string component_name(const ParamSet& ps, size_t i) {
    return ps.scalar ? ps.name : ps.name + "[" + std::to_string(i) + "]";
  }

  // pyhf's par_order: groups by modifier type in the order histosys, lumi, normfactor, normsys,
  // shapefactor, shapesys, staterror; within a group, first encounter walking sorted channels,
  // sorted samples and sorted (name, type) modifiers; staterror names alphabetically. A name
  // shared by histosys and normsys sits in the histosys group.
  std::vector<ParamSet*> parameter_order() {
    const ModifierType groups[] = {ModifierType::HistoSys, ModifierType::Lumi, ModifierType::NormFactor, ModifierType::NormSys,
                                   ModifierType::ShapeFactor, ModifierType::ShapeSys};
    // Every sample's modifiers sorted by (name, type name) once, walking sorted channels and
    // sorted samples; each group then takes its own type from these lists, in order.
    // Each entry carries its parameter set (recorded by collect_paramsets): no name lookups.
    std::vector<std::pair<const pyhf::Modifier*, ParamSet*>> sorted;
    sorted.reserve(set_of_.size());
    std::vector<const pyhf::Sample*> samples;
    for (const pyhf::Channel* ch : channels_) {
      samples.clear();
      for (const pyhf::Sample& smp : ch->samples) samples.push_back(&smp);
      std::sort(samples.begin(), samples.end(), [](auto* a, auto* b) { return a->name < b->name; });
      for (const pyhf::Sample* smp : samples) {
        const size_t first = sorted.size();
        ParamSet* const* sets = set_of_.data() + sample_base_.at(smp);
        for (size_t i = 0; i < smp->modifiers.size(); ++i) sorted.emplace_back(&smp->modifiers[i], sets[i]);
        std::sort(sorted.begin() + static_cast<std::ptrdiff_t>(first), sorted.end(), [](const auto& a, const auto& b) {
          if (const int c = a.first->name.compare(b.first->name)) return c < 0;  // one comparison of the names, not two
          return std::strcmp(pyhf::to_string(a.first->type), pyhf::to_string(b.first->type)) < 0;
        });
      }
    }
    std::vector<ParamSet*> order;
    order.reserve(sets_.size());
    for (ModifierType group : groups)
      for (const auto& [m, ps] : sorted)
        if (m->type == group && !ps->placed) {
          ps->placed = true;
          order.push_back(ps);
        }
    for (auto& [name, ps] : sets_)
      if (!ps.placed) {  // staterror, alphabetical
        ps.placed = true;
        order.push_back(&ps);
      }
    return order;
  }

  void create_parameters() {
    for (ParamSet* set : parameter_order()) {
      ParamSet& ps = *set;
      ps.first_index = static_cast<uint32_t>(params_.size());
      for (size_t i = 0; i < ps.n; ++i) {
        Parameter p;
        p.name = component_name(ps, i);
        p.init = ps.inits[i];
        p.lo = ps.bounds[i].first;
        p.hi = ps.bounds[i].second;
        p.fixed = ps.fixed[i];
        // A-priori scale: the constraint width, else a tenth of the range (capped).
        if (ps.constraint == ConstraintType::Gaussian) p.step = ps.sigmas[i];
        else if (ps.constraint == ConstraintType::Poisson) p.step = 1.0 / std::sqrt(ps.factors[i]);
        else p.step = std::min(0.1 * (p.hi - p.lo), std::max(0.1, 0.1 * std::fabs(p.init)));
        if (!(p.step > 0) || !std::isfinite(p.step)) p.step = 0.1;
        params_.push_back(p);
        const uint32_t idx = static_cast<uint32_t>(params_.size() - 1);
        if (ps.constraint == ConstraintType::Gaussian) {
          Constraint c;
          c.kind = ConstraintKind::Gaussian;
          c.param = idx;
          c.aux = ps.aux[i];
          c.sigma = ps.sigmas[i];
          constraints_.push_back(c);
        } else if (ps.constraint == ConstraintType::Poisson) {
          Constraint c;
          c.kind = ConstraintKind::Poisson;
          c.param = idx;
          c.aux = ps.aux[i];
          c.tau = ps.factors[i];
          constraints_.push_back(c);
        }
      }
    }
  }

  // Copy `from` into `to`, or move it when the workspace was handed over (build_from_pyhf(&&)).
  template <class T>
  void take(T& to, const T& from) const {
    if (steal_) to = std::move(const_cast<T&>(from));
    else to = from;
  }

  Channel lower_channel(const pyhf::Channel& ch) {
    Channel out;
    out.name = ch.name;  // still read by later lookups (observations, staterror offsets): copied
    take(out.observed, ws_.observation(ch.name)->data);
    const size_t nb = ch.nbins();
    std::vector<const pyhf::Sample*> samples;
    samples.reserve(ch.samples.size());
    for (const pyhf::Sample& smp : ch.samples) samples.push_back(&smp);
    std::sort(samples.begin(), samples.end(), [](auto* a, auto* b) { return a->name < b->name; });  // pyhf sums in this order
    out.samples.reserve(samples.size());
    for (const pyhf::Sample* sp : samples) {
      const pyhf::Sample& s = *sp;
      Sample ms;
      take(ms.name, s.name);
      take(ms.nominal, s.data);
      ms.modifiers.reserve(s.modifiers.size());
      ParamSet* const* sets = set_of_.data() + sample_base_.at(&s);
      for (const pyhf::Modifier& mod : s.modifiers) {
        const ParamSet& ps = *sets[&mod - s.modifiers.data()];
        Modifier m;
        m.kind = kind_of(mod.type);
        m.param = ps.first_index;
        m.hi = mod.hi;
        m.lo = mod.lo;
        take(m.hi_data, mod.hi_data);
        take(m.lo_data, mod.lo_data);
        if (mod.type == ModifierType::NormSys) m.interp = opt_.normsys_interp;
        if (mod.type == ModifierType::HistoSys) m.interp = opt_.histosys_interp;
        if (is_per_bin(mod.type)) {
          m.bin_params.assign(nb, kNoParameter);
          if (mod.type == ModifierType::ShapeFactor) {
            for (size_t b = 0; b < nb; ++b) m.bin_params[b] = ps.first_index + static_cast<int64_t>(b);
          } else if (mod.type == ModifierType::StatError) {
            const int64_t offset = stat_offset_.at({mod.name, &ch});
            for (size_t b = 0; b < nb; ++b) m.bin_params[b] = ps.first_index + offset + static_cast<int64_t>(b);
          } else {  // shapesys: one parameter per bin of its single sample
            for (size_t b = 0; b < nb; ++b) m.bin_params[b] = ps.first_index + static_cast<int64_t>(b);
          }
        }
        // Last use of the spec's name (stat_offset_ keys are views of sets_' own keys).
        take(m.name, mod.name);
        ms.modifiers.push_back(std::move(m));
      }
      out.samples.push_back(std::move(ms));
    }
    return out;
  }

  const pyhf::Workspace& ws_;
  const BuildOptions& opt_;
  const pyhf::Measurement& meas_;
  const bool steal_ = false;
  std::vector<const pyhf::Channel*> channels_;
  std::map<std::string, ParamSet> sets_;
  std::unordered_map<std::string_view, ParamSet*, pyhf::NameHash> index_;  // into sets_ (nodes never move)
  // The parameter set of every modifier, sample by sample (collect_paramsets' walk), and the
  // position of each sample's first modifier in it: later passes look nothing up by name.
  std::vector<ParamSet*> set_of_;
  std::unordered_map<const pyhf::Sample*, size_t> sample_base_;
  std::set<std::string> lumi_init_given_;
  struct StatKey {
    std::string_view name;  // a key of sets_
    const pyhf::Channel* channel;
    bool operator==(const StatKey& o) const { return channel == o.channel && name == o.name; }
  };
  struct StatKeyHash {
    size_t operator()(const StatKey& k) const { return pyhf::name_hash(k.name) * 31 + std::hash<const void*>()(k.channel); }
  };
  std::unordered_map<StatKey, int64_t, StatKeyHash> stat_offset_;
  std::vector<Parameter> params_;
  std::vector<Constraint> constraints_;
};

}  // namespace

Model build_from_pyhf(const pyhf::Workspace& ws, const BuildOptions& options) { return Builder(ws, options).build(); }

Model build_from_pyhf(pyhf::Workspace&& ws, const BuildOptions& options) { return Builder(ws, options, true).build(); }

}  // namespace hs3fit::model
