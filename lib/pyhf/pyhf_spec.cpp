#include "pyhf/pyhf_spec.h"

#include <cmath>
#include <set>

#include "core/error.h"
#include "json/json_reader.h"

namespace hs3fit::pyhf {

const char* to_string(ModifierType t) {
  switch (t) {
    case ModifierType::NormFactor: return "normfactor";
    case ModifierType::NormSys: return "normsys";
    case ModifierType::HistoSys: return "histosys";
    case ModifierType::ShapeSys: return "shapesys";
    case ModifierType::ShapeFactor: return "shapefactor";
    case ModifierType::StatError: return "staterror";
    case ModifierType::Lumi: return "lumi";
  }
  return "?";
}

namespace {

ModifierType parse_modifier_type(const json::Node& node) {
  const std::string t = node.as_string();
  if (t == "normfactor") return ModifierType::NormFactor;
  if (t == "normsys") return ModifierType::NormSys;
  if (t == "histosys") return ModifierType::HistoSys;
  if (t == "shapesys") return ModifierType::ShapeSys;
  if (t == "shapefactor") return ModifierType::ShapeFactor;
  if (t == "staterror") return ModifierType::StatError;
  if (t == "lumi") return ModifierType::Lumi;
  node.fail("unknown modifier type '" + t +
            "' (expected normfactor, normsys, histosys, shapesys, shapefactor, staterror or lumi)");
}

std::string nonempty_name(const json::Node& obj) {
  json::Node n = obj.at("name");
  std::string s = n.as_string();
  if (s.empty()) n.fail("expected a non-empty name");
  return s;
}

std::vector<double> bin_values(const json::Node& node, size_t nbins, const char* what, bool nonnegative) {
  std::vector<double> v = node.as_numbers();
  if (v.size() != nbins)
    node.fail(std::string(what) + ": " + std::to_string(v.size()) + " values, " + std::to_string(nbins) +
              " bins expected");
  if (nonnegative)
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] < 0) node.fail(std::string(what) + " must be >= 0 (bin " + std::to_string(i) + " is " + std::to_string(v[i]) + ")");
  return v;
}

Modifier read_modifier(const json::Node& node, size_t nbins) {
  Modifier m;
  m.pointer = node.pointer();
  m.name = nonempty_name(node);
  m.type = parse_modifier_type(node.at("type"));
  json::Node data = node.at("data");
  switch (m.type) {
    case ModifierType::NormFactor:
    case ModifierType::ShapeFactor:
    case ModifierType::Lumi:
      if (!data.is_null()) data.fail(std::string("expected null data for a ") + to_string(m.type) + " modifier");
      break;
    case ModifierType::NormSys:
      m.hi = data.at("hi").as_number();
      m.lo = data.at("lo").as_number();
      break;
    case ModifierType::HistoSys:
      m.hi_data = bin_values(data.at("hi_data"), nbins, "hi_data", false);
      m.lo_data = bin_values(data.at("lo_data"), nbins, "lo_data", false);
      break;
    case ModifierType::ShapeSys:
    case ModifierType::StatError:
      m.uncertainties = bin_values(data, nbins, "uncertainties", true);
      break;
  }
  return m;
}

Sample read_sample(const json::Node& node, std::optional<size_t> nbins) {
  Sample s;
  s.pointer = node.pointer();
  s.name = nonempty_name(node);
  json::Node data = node.at("data");
  if (nbins) s.data = bin_values(data, *nbins, "sample data", false);
  else s.data = data.as_numbers();
  if (s.data.empty()) data.fail("at least 1 bin expected");
  json::Node mods = node.at("modifiers");
  std::set<std::pair<std::string, ModifierType>> seen;
  for (const json::Node& mnode : mods.elements()) {
    Modifier m = read_modifier(mnode, s.data.size());
    if (!seen.insert({m.name, m.type}).second)
      mnode.fail("duplicate " + std::string(to_string(m.type)) + " modifier '" + m.name + "' on sample '" + s.name + "'");
    s.modifiers.push_back(std::move(m));
  }
  return s;
}

ParameterConfig read_parameter_config(const json::Node& node) {
  ParameterConfig p;
  p.pointer = node.pointer();
  p.name = nonempty_name(node);
  if (auto v = node.get("inits")) p.inits = v->as_numbers();
  if (auto v = node.get("bounds")) {
    std::vector<std::pair<double, double>> bounds;
    for (const json::Node& b : v->elements()) {
      if (!b.is_array() || b.size() != 2) b.fail("expected [lo, hi] array");
      std::vector<double> lohi = b.as_numbers();
      if (!(lohi[0] <= lohi[1])) b.fail("lower bound " + std::to_string(lohi[0]) + " > upper bound " + std::to_string(lohi[1]));
      bounds.emplace_back(lohi[0], lohi[1]);
    }
    p.bounds = bounds;
  }
  if (auto v = node.get("fixed")) p.fixed = v->as_bool();
  if (auto v = node.get("auxdata")) p.auxdata = v->as_numbers();
  if (auto v = node.get("sigmas")) {
    p.sigmas = v->as_numbers();
    for (size_t i = 0; i < p.sigmas->size(); ++i)
      if (!((*p.sigmas)[i] > 0)) v->fail("sigmas must be > 0 (entry " + std::to_string(i) + ")");
  }
  if (auto v = node.get("factors")) p.factors = v->as_numbers();
  return p;
}

}  // namespace

bool looks_like_pyhf(const json::Node& root) { return root.is_object() && root.get("channels").has_value(); }

Workspace read_workspace(const json::Node& root) {
  Workspace ws;
  if (!root.is_object()) root.fail("expected a pyhf workspace object, found " + root.type_name());
  json::Node channels = root.at("channels");
  std::set<std::string> channel_names;
  for (const json::Node& cnode : channels.elements()) {
    Channel c;
    c.pointer = cnode.pointer();
    c.name = nonempty_name(cnode);
    if (!channel_names.insert(c.name).second) cnode.at("name").fail("duplicate channel '" + c.name + "'");
    json::Node samples = cnode.at("samples");
    std::set<std::string> sample_names;
    for (const json::Node& snode : samples.elements()) {
      std::optional<size_t> nbins;
      if (!c.samples.empty()) nbins = c.samples.front().data.size();
      Sample s = read_sample(snode, nbins);
      if (!sample_names.insert(s.name).second)
        snode.at("name").fail("duplicate sample '" + s.name + "' in channel '" + c.name + "'");
      c.samples.push_back(std::move(s));
    }
    if (c.samples.empty()) samples.fail("channel '" + c.name + "' has no samples (at least 1 expected)");
    ws.channels.push_back(std::move(c));
  }
  if (ws.channels.empty()) channels.fail("at least 1 channel expected");

  json::Node observations = root.at("observations");
  std::set<std::string> obs_names;
  for (const json::Node& onode : observations.elements()) {
    Observation o;
    o.pointer = onode.pointer();
    o.name = nonempty_name(onode);
    if (!obs_names.insert(o.name).second) onode.at("name").fail("duplicate observation '" + o.name + "'");
    json::Node data = onode.at("data");
    o.data = data.as_numbers();
    for (size_t i = 0; i < o.data.size(); ++i)
      if (o.data[i] < 0)
        throw_input_error(data.pointer() + "/" + std::to_string(i), "observed counts must be >= 0, found " + std::to_string(o.data[i]));
    ws.observations.push_back(std::move(o));
  }
  for (const Channel& c : ws.channels) {
    const Observation* o = ws.observation(c.name);
    if (!o) observations.fail("no observation for channel '" + c.name + "'");
    if (o->data.size() != c.nbins())
      throw_input_error(o->pointer + "/data", std::to_string(o->data.size()) + " values, " + std::to_string(c.nbins()) +
                                                  " bins expected (channel '" + c.name + "')");
  }

  json::Node measurements = root.at("measurements");
  std::set<std::string> meas_names;
  for (const json::Node& mnode : measurements.elements()) {
    Measurement m;
    m.pointer = mnode.pointer();
    m.name = nonempty_name(mnode);
    if (!meas_names.insert(m.name).second) mnode.at("name").fail("duplicate measurement '" + m.name + "'");
    json::Node config = mnode.at("config");
    m.poi = config.at("poi").as_string();
    if (auto params = config.get("parameters")) {
      std::set<std::string> pnames;
      for (const json::Node& pnode : params->elements()) {
        ParameterConfig p = read_parameter_config(pnode);
        if (!pnames.insert(p.name).second) pnode.at("name").fail("duplicate parameter configuration '" + p.name + "'");
        m.parameters.push_back(std::move(p));
      }
    }
    ws.measurements.push_back(std::move(m));
  }
  if (ws.measurements.empty()) measurements.fail("at least 1 measurement expected");
  if (auto v = root.get("version")) ws.version = v->as_string();
  return ws;
}

const Measurement& Workspace::measurement(const std::string& name) const {
  if (name.empty()) return measurements.front();
  for (const Measurement& m : measurements)
    if (m.name == name) return m;
  std::string known;
  for (const Measurement& m : measurements) known += (known.empty() ? "" : ", ") + m.name;
  throw Error(ErrorKind::Usage, "--measurement", "no measurement named '" + name + "' (available: " + known + ")");
}

const Observation* Workspace::observation(const std::string& channel) const {
  for (const Observation& o : observations)
    if (o.name == channel) return &o;
  return nullptr;
}

}  // namespace hs3fit::pyhf
