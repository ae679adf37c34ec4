#include "tools/convert_hs3.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "core/error.h"
#include "json/json_writer.h"
#include "model/histfactory_builder.h"

namespace hs3fit::tools {

namespace {

using pyhf::ModifierType;

// ROOT's default HistFactory parameter names (SPEC §7.3), so that ROOT reads the file the way
// it would read its own export.
std::string hs3_parameter(const pyhf::Modifier& m) {
  switch (m.type) {
    case ModifierType::NormSys:
    case ModifierType::HistoSys: return "alpha_" + m.name;
    case ModifierType::Lumi: return "Lumi";
    default: return m.name;
  }
}

std::string bin_parameter(const pyhf::Modifier& m, const std::string& channel, size_t b) {
  if (m.type == ModifierType::StatError) return "gamma_stat_" + channel + "_bin_" + std::to_string(b);
  return "gamma_" + m.name + "_bin_" + std::to_string(b);
}

void write_axes(json::Writer& w, const std::string& channel, size_t nbins) {
  w.key("axes").begin_array().begin_object();
  w.key("name").value("obs_x_" + channel);
  w.key("min").value(0.0);
  w.key("max").value(static_cast<double>(nbins));
  w.key("nbins").value(nbins);
  w.end_object().end_array();
}

const char* interp_struct(model::Interp code, bool* is_add) {
  switch (code) {
    case model::Interp::Code0: *is_add = true; return "poly1";
    case model::Interp::Code1: *is_add = false; return "exp";
    case model::Interp::Code2: *is_add = true; return "poly2";
    case model::Interp::Code4: *is_add = false; return "poly6";
    case model::Interp::Code4p: *is_add = true; return "poly6";
  }
  return "poly6";
}

}  // namespace

std::string convert_pyhf_to_hs3(const pyhf::Workspace& ws, const ConvertOptions& opt) {
  const pyhf::Measurement& meas = ws.measurement(opt.measurement);
  model::BuildOptions bo;
  bo.measurement = meas.name;
  bo.normsys_interp = opt.normsys_interp;
  bo.histosys_interp = opt.histosys_interp;
  // Build the model once: it validates the workspace and gives pyhf's parameter settings.
  const model::Model model = model::build_from_pyhf(ws, bo);

  std::vector<const pyhf::Channel*> channels;
  for (const auto& c : ws.channels) channels.push_back(&c);
  std::sort(channels.begin(), channels.end(), [](auto* a, auto* b) { return a->name < b->name; });

  // pyhf parameter name → HS3 parameter name, for points and domains.
  std::map<std::tuple<std::string, std::string, std::string>, const model::Modifier*> per_bin;
  for (const auto& mc : model.channels)
    for (const auto& smp : mc.samples)
      for (const auto& x : smp.modifiers)
        if (x.per_bin()) per_bin[{mc.name, smp.name, x.name}] = &x;
  std::map<std::string, std::string> rename;
  std::set<std::string> lumi_params;
  for (const pyhf::Channel* ch : channels)
    for (const auto& s : ch->samples)
      for (const auto& m : s.modifiers) {
        if (m.type == ModifierType::ShapeFactor || m.type == ModifierType::ShapeSys || m.type == ModifierType::StatError) {
          // pyhf's staterror components concatenate over channels; map each channel bin.
          const model::Modifier* mm = per_bin.at({ch->name, s.name, m.name});
          for (size_t b = 0; b < ch->nbins(); ++b)
            if (mm->bin_params[b] >= 0) rename[model.parameters[static_cast<size_t>(mm->bin_params[b])].name] = bin_parameter(m, ch->name, b);
        } else {
          rename[m.name] = hs3_parameter(m);
          if (m.type == ModifierType::Lumi) lumi_params.insert(m.name);
        }
      }
  auto hs3_name = [&](const std::string& pyhf_name) {
    auto it = rename.find(pyhf_name);
    return it == rename.end() ? pyhf_name : it->second;
  };

  json::Writer w;
  w.begin_object();
  w.key("metadata").begin_object();
  w.key("hs3_version").value("0.2");
  w.key("packages").begin_array().begin_object().key("name").value("hs3fit").key("version").value("0.1.0").end_object().end_array();
  w.key("description").value("converted by hs3fit from a pyhf workspace, measurement '" + meas.name + "'");
  w.end_object();

  // Channels.
  w.key("distributions").begin_array();
  for (const pyhf::Channel* ch : channels) {
    w.begin_object();
    w.key("name").value("model_" + ch->name);
    w.key("type").value("histfactory_dist");
    write_axes(w, ch->name, ch->nbins());
    w.key("staterror").begin_object().key("constraint_type").value("Gauss").end_object();
    w.key("samples").begin_array();
    for (const auto& s : ch->samples) {
      w.begin_object();
      w.key("name").value(s.name);
      w.key("data").begin_object();
      w.key("contents").numbers(s.data);
      for (const auto& m : s.modifiers)
        if (m.type == ModifierType::StatError) w.key("errors").numbers(m.uncertainties);
      w.end_object();
      w.key("modifiers").begin_array();
      for (const auto& m : s.modifiers) {
        w.begin_object();
        w.key("name").value(m.name);
        switch (m.type) {
          case ModifierType::NormFactor:
          case ModifierType::Lumi:
            w.key("type").value("normfactor");
            w.key("parameter").value(hs3_parameter(m));
            break;
          case ModifierType::NormSys:
          case ModifierType::HistoSys: {
            const bool normsys = m.type == ModifierType::NormSys;
            w.key("type").value(normsys ? "normsys" : "histosys");
            w.key("parameter").value(hs3_parameter(m));
            w.key("constraint").value("Gauss");
            const model::Interp code = normsys ? opt.normsys_interp : opt.histosys_interp;
            if (code != (normsys ? model::Interp::Code4 : model::Interp::Code4p)) {
              bool add = false;
              const char* in = interp_struct(code, &add);
              const char* out = code == model::Interp::Code0 || code == model::Interp::Code2 || code == model::Interp::Code4p ? "poly1" : "exp";
              w.key("interpolation").begin_object().key("type").value(add ? "add" : "mult").key("in").value(in).key("out").value(out).end_object();
            }
            w.key("data").begin_object();
            if (normsys) {
              w.key("hi").value(m.hi);
              w.key("lo").value(m.lo);
            } else {
              w.key("hi").begin_object().key("contents").numbers(m.hi_data).end_object();
              w.key("lo").begin_object().key("contents").numbers(m.lo_data).end_object();
            }
            w.end_object();
            break;
          }
          case ModifierType::ShapeFactor:
          case ModifierType::ShapeSys:
          case ModifierType::StatError: {
            w.key("type").value(m.type == ModifierType::ShapeFactor ? "shapefactor" : m.type == ModifierType::ShapeSys ? "shapesys" : "staterror");
            std::vector<std::string> names;
            for (size_t b = 0; b < ch->nbins(); ++b) names.push_back(bin_parameter(m, ch->name, b));
            w.key("parameters").strings(names);
            if (m.type == ModifierType::StatError) w.key("constraint").value("Gauss");
            if (m.type == ModifierType::ShapeSys) {
              // ROOT's convention: relative uncertainties (0 marks a bin without a constraint).
              std::vector<double> rel(ch->nbins(), 0.0);
              for (size_t b = 0; b < ch->nbins(); ++b)
                if (s.data[b] > 0 && m.uncertainties[b] > 0) rel[b] = m.uncertainties[b] / s.data[b];
              w.key("constraint").value("Poisson");
              w.key("data").begin_object().key("vals").numbers(rel).end_object();
            }
            break;
          }
        }
        w.end_object();
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  // Luminosity: a normfactor with a Gaussian constraint around its global observable.
  for (const std::string& lumi : lumi_params) {
    const model::Constraint* c = nullptr;
    const auto idx = model.find_parameter(lumi);
    for (const auto& cc : model.constraints)
      if (idx && cc.param == *idx) c = &cc;
    if (!c) continue;
    w.begin_object();
    w.key("name").value("lumiConstraint");
    w.key("type").value("gaussian_dist");
    w.key("x").value(hs3_name(lumi));
    w.key("mean").value("nominalLumi");
    w.key("sigma").value(c->sigma);
    w.end_object();
  }
  w.end_array();

  w.key("data").begin_array();
  for (const pyhf::Channel* ch : channels) {
    w.begin_object();
    w.key("name").value("obsData_" + ch->name);
    w.key("type").value("binned");
    write_axes(w, ch->name, ch->nbins());
    w.key("contents").numbers(ws.observation(ch->name)->data);
    w.end_object();
  }
  w.end_array();

  const std::string likelihood = meas.name + "_likelihood";
  w.key("likelihoods").begin_array().begin_object();
  w.key("name").value(likelihood);
  std::vector<std::string> dists, data;
  for (const pyhf::Channel* ch : channels) {
    dists.push_back("model_" + ch->name);
    data.push_back("obsData_" + ch->name);
  }
  w.key("distributions").strings(dists);
  w.key("data").strings(data);
  if (!lumi_params.empty()) w.key("aux_distributions").strings({"lumiConstraint"});
  w.end_object().end_array();

  w.key("domains").begin_array().begin_object();
  w.key("name").value("default_domain");
  w.key("type").value("product_domain");
  w.key("axes").begin_array();
  for (const auto& p : model.parameters) {
    w.begin_object().key("name").value(hs3_name(p.name));
    w.key("min").value(p.lo);
    w.key("max").value(p.hi);
    w.end_object();
  }
  w.end_array();
  w.end_object().end_array();

  w.key("parameter_points").begin_array().begin_object();
  w.key("name").value("default_values");
  w.key("parameters").begin_array();
  for (const auto& p : model.parameters) {
    w.begin_object().key("name").value(hs3_name(p.name)).key("value").value(p.init);
    if (p.fixed) w.key("const").value(true);
    w.end_object();
  }
  for (const std::string& lumi : lumi_params)
    for (const auto& c : model.constraints)
      if (model.parameters[c.param].name == lumi)
        w.begin_object().key("name").value("nominalLumi").key("value").value(c.aux).key("const").value(true).end_object();
  w.end_array();
  w.end_object().end_array();

  w.key("analyses").begin_array().begin_object();
  w.key("name").value(meas.name);
  w.key("likelihood").value(likelihood);
  if (model.poi) w.key("parameters_of_interest").strings({hs3_name(model.parameters[*model.poi].name)});
  w.key("domains").strings({"default_domain"});
  w.key("init").value("default_values");
  w.end_object().end_array();
  w.end_object();
  return w.str();
}

}  // namespace hs3fit::tools
