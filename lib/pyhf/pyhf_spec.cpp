#include "pyhf/pyhf_spec.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <string_view>

#include "core/error.h"
#include "json/diagnostics.h"
#include "json/json_reader.h"
#include "json/json_writer.h"
#include "pyhf/name_hash.h"
#include "pyhf/parameter_sets.h"

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

using json::ErrorCollector;
using json::Node;
using json::safe_quote;

std::string num(double v) { return json::format_number(v); }

ModifierType parse_modifier_type(const Node& node) {
  const std::string_view t = node.as_string_view();
  if (t == "normfactor") return ModifierType::NormFactor;
  if (t == "normsys") return ModifierType::NormSys;
  if (t == "histosys") return ModifierType::HistoSys;
  if (t == "shapesys") return ModifierType::ShapeSys;
  if (t == "shapefactor") return ModifierType::ShapeFactor;
  if (t == "staterror") return ModifierType::StatError;
  if (t == "lumi") return ModifierType::Lumi;
  node.fail("unknown modifier type " + safe_quote(t) +
            " (expected normfactor, normsys, histosys, shapesys, shapefactor, staterror or lumi)");
}

// Names end up in messages, tables and JSON output: no control characters (C0, DEL, C1).
bool has_control_character(std::string_view s) {
  // Eight bytes at a time: names without a byte < 0x20, 0x7F or 0xC2 (the usual case) need no
  // byte-by-byte look (bit tricks from "Bit Twiddling Hacks": haszero / hasless).
  size_t i = 0;
  constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    const uint64_t less20 = (x - ones * 0x20) & ~x & highs;
    const uint64_t y7f = x ^ (ones * 0x7F), yc2 = x ^ (ones * 0xC2);
    const uint64_t is7f = (y7f - ones) & ~y7f & highs, isc2 = (yc2 - ones) & ~yc2 & highs;
    if (less20 | is7f | isc2) break;
  }
  // From the first word with a candidate byte (earlier words hold no 0xC2 that could pair
  // with it), or the last < 8 bytes, byte by byte.
  for (; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) return true;
  }
  return false;
}

std::string name_string(const Node& n) {
  std::string s = n.as_string();
  if (has_control_character(s)) n.fail("name " + safe_quote(s) + " contains control characters");
  return s;
}

// The "name" member's value: a non-empty name without control characters.
std::string nonempty_name(const Node& n) {
  std::string s = name_string(n);
  if (s.empty()) n.fail("expected a non-empty name");
  return s;
}

// The object's required member, or a recorded problem.
std::optional<Node> required(const Node& obj, const char* key, ErrorCollector& problems) {
  std::optional<Node> out;
  problems.check([&] { out = obj.at(key); });
  return out;
}

// The members named `keys` of an object in one pass (found[i] for keys[i]); any other member
// is reported by check_keys as an unknown key of `what`.
void pick_fields(const Node& node, std::initializer_list<std::string_view> keys, std::optional<Node>* found, const char* what,
                 ErrorCollector& problems) {
  if (!node.pick(keys, found)) node.check_keys(keys, what, problems);
}

// A member found by pick_fields, or a recorded "missing required field" problem.
std::optional<Node> required(const Node& obj, const std::optional<Node>& found, const char* key, ErrorCollector& problems) {
  std::optional<Node> out;
  problems.check([&] { out = obj.required(found, key); });
  return out;
}

void expect_object(const Node& node, const char* what) {
  if (!node.is_object()) node.fail(std::string("expected ") + what + " (an object), found " + node.type_name());
}

// An array of numbers with one value per bin. Every value outside the allowed range is
// reported (at its own pointer); a wrong length throws.
std::vector<double> bin_values(const Node& node, size_t nbins, const char* kind, const char* field, ErrorCollector& problems,
                               bool nonnegative = false) {
  std::vector<double> v = node.as_numbers();
  const auto what = [&] { return std::string(kind) + " " + field; };  // for messages only
  if (v.size() != nbins)
    node.fail(what() + ": " + std::to_string(v.size()) + (v.size() == 1 ? " value" : " values") + ", but the sample has " +
              std::to_string(nbins) + (nbins == 1 ? " bin" : " bins"));
  if (nonnegative)
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] < 0) problems.add(node.pointer() + "/" + std::to_string(i), what() + " must be >= 0, found " + num(v[i]));
  return v;
}

// The (name, type) pairs of a sample's modifiers kept so far: open addressing over their
// indices in the sample's vector, so that no allocation is made per modifier.
class ModifierSet {
 public:
  ModifierSet(const std::vector<Modifier>& mods, size_t n) : mods_(mods) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, kEmpty);
  }
  // The slot hash of (name, type): computed once per modifier, for contains and insert.
  size_t hash(std::string_view name, ModifierType type) const {
    return (name_hash(name) * 31 + static_cast<size_t>(type)) & (slots_.size() - 1);
  }
  bool contains(std::string_view name, ModifierType type) const { return contains(name, type, hash(name, type)); }
  bool contains(std::string_view name, ModifierType type, size_t h) const {
    for (size_t i = h;; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == kEmpty) return false;
      const Modifier& m = mods_[slots_[i]];
      if (m.type == type && m.name == name) return true;
    }
  }
  void insert(size_t index) { insert(index, hash(mods_[index].name, mods_[index].type)); }
  void insert(size_t index, size_t h) {  // mods_[index] must not be contained yet; h = its hash
    size_t i = h;
    while (slots_[i] != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = index;
  }

 private:
  static constexpr size_t kEmpty = ~size_t(0);
  const std::vector<Modifier>& mods_;
  std::vector<size_t> slots_;
};

std::optional<Modifier> read_modifier(const Node& node, size_t nbins, ErrorCollector& problems) {
  const size_t before = problems.count();
  Modifier m;
  expect_object(node, "a modifier");
  std::optional<Node> field[3];
  pick_fields(node, {"name", "type", "data"}, field, "a modifier", problems);
  problems.check([&] { m.name = nonempty_name(node.required(field[0], "name")); });
  if (!problems.check([&] { m.type = parse_modifier_type(node.required(field[1], "type")); })) return std::nullopt;
  std::optional<Node> data = required(node, field[2], "data", problems);
  if (!data) return std::nullopt;
  const char* const kind = to_string(m.type);
  problems.check([&] {
    switch (m.type) {
      case ModifierType::NormFactor:
      case ModifierType::ShapeFactor:
      case ModifierType::Lumi:
        if (!data->is_null()) data->fail(std::string("expected null data for a ") + kind + " modifier, found " + data->type_name());
        break;
      case ModifierType::NormSys: {
        expect_object(*data, "normsys data {\"hi\": factor, \"lo\": factor}");
        std::optional<Node> hilo[2];
        pick_fields(*data, {"hi", "lo"}, hilo, "normsys data", problems);
        // The interpolation (codes 1 and 4) takes log(hi) and log(lo): factors must be > 0.
        problems.check([&] {
          Node hi = data->required(hilo[0], "hi");
          m.hi = hi.as_number();
          if (!(m.hi > 0)) hi.fail("normsys factor hi must be > 0 (it is a yield ratio), found " + num(m.hi));
        });
        problems.check([&] {
          Node lo = data->required(hilo[1], "lo");
          m.lo = lo.as_number();
          if (!(m.lo > 0)) lo.fail("normsys factor lo must be > 0 (it is a yield ratio), found " + num(m.lo));
        });
        break;
      }
      case ModifierType::HistoSys: {
        expect_object(*data, "histosys data {\"hi_data\": [...], \"lo_data\": [...]}");
        std::optional<Node> hilo[2];
        pick_fields(*data, {"hi_data", "lo_data"}, hilo, "histosys data", problems);
        problems.check([&] { m.hi_data = bin_values(data->required(hilo[0], "hi_data"), nbins, "histosys", "hi_data", problems); });
        problems.check([&] { m.lo_data = bin_values(data->required(hilo[1], "lo_data"), nbins, "histosys", "lo_data", problems); });
        break;
      }
      case ModifierType::ShapeSys:
      case ModifierType::StatError:
        m.uncertainties = bin_values(*data, nbins, kind, "uncertainties", problems, true);
        break;
    }
  });
  if (problems.count() != before) return std::nullopt;
  return m;
}

// The common case of read_modifier without JSON Nodes: a modifier that read_modifier would
// accept without any problem is read straight from simdjson's DOM into `m` (same values: the
// same simdjson conversions). Anything else (a wrong type, key, length or value) returns false,
// and the caller reads the modifier again with read_modifier, which reports the problem exactly
// as before. Duplicate keys were refused by json::parse.
bool fast_numbers(simdjson::dom::element el, size_t nbins, bool nonnegative, std::vector<double>& out) {
  simdjson::dom::array arr;
  if (el.get_array().get(arr) != simdjson::SUCCESS || arr.size() != nbins) return false;
  out.reserve(nbins);
  for (simdjson::dom::element x : arr) {
    double v;
    if (x.get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v) || (nonnegative && v < 0)) return false;
    out.push_back(v);
  }
  return true;
}

// key == literal, with the length compared first and a fixed-size memcmp the compiler inlines.
template <size_t N>
bool is(std::string_view key, const char (&literal)[N]) {
  return key.size() == N - 1 && std::memcmp(key.data(), literal, N - 1) == 0;
}

bool fast_number(simdjson::dom::element el, double& v) {
  return el.is_number() && el.get_double().get(v) == simdjson::SUCCESS && std::isfinite(v);
}

bool fast_modifier(simdjson::dom::element el, size_t nbins, Modifier& m) {
  simdjson::dom::object obj;
  if (el.get_object().get(obj) != simdjson::SUCCESS) return false;
  simdjson::dom::element fields[3];
  bool have[3] = {false, false, false};
  for (auto field : obj) {
    const std::string_view k = field.key;
    int i;
    if (is(k, "name")) i = 0;
    else if (is(k, "type")) i = 1;
    else if (is(k, "data")) i = 2;
    else return false;
    fields[i] = field.value;
    have[i] = true;
  }
  if (!have[0] || !have[1] || !have[2]) return false;
  std::string_view name, type;
  if (fields[0].get_string().get(name) != simdjson::SUCCESS || name.empty() || has_control_character(name)) return false;
  if (fields[1].get_string().get(type) != simdjson::SUCCESS) return false;
  const simdjson::dom::element data = fields[2];
  if (is(type, "normsys")) {
    simdjson::dom::object hilo;
    if (data.get_object().get(hilo) != simdjson::SUCCESS) return false;
    bool hi = false, lo = false;
    for (auto field : hilo) {
      const std::string_view k = field.key;
      double* target;
      if (is(k, "hi")) { target = &m.hi; hi = true; }
      else if (is(k, "lo")) { target = &m.lo; lo = true; }
      else return false;
      if (!fast_number(field.value, *target) || !(*target > 0)) return false;
    }
    if (!hi || !lo) return false;
    m.type = ModifierType::NormSys;
  } else if (is(type, "histosys")) {
    simdjson::dom::object hilo;
    if (data.get_object().get(hilo) != simdjson::SUCCESS) return false;
    bool hi = false, lo = false;
    for (auto field : hilo) {
      const std::string_view k = field.key;
      if (is(k, "hi_data")) { if (!fast_numbers(field.value, nbins, false, m.hi_data)) return false; hi = true; }
      else if (is(k, "lo_data")) { if (!fast_numbers(field.value, nbins, false, m.lo_data)) return false; lo = true; }
      else return false;
    }
    if (!hi || !lo) return false;
    m.type = ModifierType::HistoSys;
  } else if ((is(type, "staterror") || is(type, "shapesys"))) {
    if (!fast_numbers(data, nbins, true, m.uncertainties)) return false;
    m.type = type.size() == 9 ? ModifierType::StatError : ModifierType::ShapeSys;
  } else {
    if (is(type, "normfactor")) m.type = ModifierType::NormFactor;
    else if (is(type, "shapefactor")) m.type = ModifierType::ShapeFactor;
    else if (is(type, "lumi")) m.type = ModifierType::Lumi;
    else return false;
    if (!data.is_null()) return false;
  }
  m.name.assign(name.data(), name.size());
  return true;
}

// Reads a sample; `nbins` is the channel's bin count when known (from its first sample).
std::optional<Sample> read_sample(const Node& node, std::optional<size_t> nbins, const std::string& channel,
                                  ErrorCollector& problems) {
  const size_t before = problems.count();
  Sample s;
  s.pointer = node.pointer();
  expect_object(node, "a sample");
  std::optional<Node> field[3];
  pick_fields(node, {"name", "data", "modifiers"}, field, "a sample", problems);
  problems.check([&] { s.name = nonempty_name(node.required(field[0], "name")); });
  const bool data_ok = problems.check([&] {
    Node data = node.required(field[1], "data");
    s.data = data.as_numbers();
    if (s.data.empty()) data.fail("sample data: at least 1 bin expected, found an empty array");
    if (nbins && s.data.size() != *nbins)
      data.fail("sample data: " + std::to_string(s.data.size()) + " bins, but channel " + safe_quote(channel) + " has " +
                std::to_string(*nbins) + " (the bin count of its first sample)");
  });
  std::optional<Node> mods = required(node, field[2], "modifiers", problems);
  if (mods && data_ok) {
    problems.check([&] {
      simdjson::dom::array array;
      if (mods->raw().get_array().get(array) != simdjson::SUCCESS) mods->elements();  // throws "expected array"
      const size_t count = array.size();
      const auto sample_pointer = std::make_shared<const std::string>(s.pointer);
      s.modifiers.reserve(count);
      ModifierSet seen(s.modifiers, count);
      size_t i = 0;
      for (simdjson::dom::element el : array) {
        const size_t index = i++;
        // The common case: a valid modifier, not a duplicate; everything else goes the Node way.
        if (Modifier fast; fast_modifier(el, s.data.size(), fast)) {
          if (const size_t h = seen.hash(fast.name, fast.type); !seen.contains(fast.name, fast.type, h)) {
            fast.sample_pointer = sample_pointer;
            fast.index = index;
            s.modifiers.push_back(std::move(fast));
            seen.insert(s.modifiers.size() - 1, h);
            continue;
          }
        }
        const Node mnode = mods->element_node(el, index);
        std::optional<Modifier> m;
        problems.check([&] { m = read_modifier(mnode, s.data.size(), problems); });
        if (!m) continue;
        if (seen.contains(m->name, m->type)) {
          problems.add(mnode.pointer(), "duplicate " + std::string(to_string(m->type)) + " modifier " + safe_quote(m->name) +
                                            " on sample " + safe_quote(s.name));
          continue;
        }
        m->sample_pointer = sample_pointer;
        m->index = index;
        s.modifiers.push_back(std::move(*m));
        seen.insert(s.modifiers.size() - 1);
      }
    });
  } else if (mods) {
    problems.check([&] { mods->elements(); });  // still report a non-array
  }
  if (problems.count() != before) return std::nullopt;
  return s;
}

std::optional<Channel> read_channel(const Node& node, ErrorCollector& problems) {
  const size_t before = problems.count();
  Channel c;
  c.pointer = node.pointer();
  expect_object(node, "a channel");
  std::optional<Node> field[2];
  pick_fields(node, {"name", "samples"}, field, "a channel", problems);
  problems.check([&] { c.name = nonempty_name(node.required(field[0], "name")); });
  std::optional<Node> samples = required(node, field[1], "samples", problems);
  if (samples) {
    problems.check([&] {
      std::vector<Node> nodes = samples->elements();
      if (nodes.empty()) samples->fail("channel " + safe_quote(c.name) + " has no samples (at least 1 expected)");
      // The channel's bin count is that of its first sample (pyhf), if that can be read.
      std::optional<size_t> nbins;
      if (nodes.front().is_object())
        if (auto d = nodes.front().get("data"); d && d->is_array() && d->size() > 0) nbins = d->size();
      std::set<std::string> names;
      c.samples.reserve(nodes.size());
      for (const Node& snode : nodes) {
        std::optional<Sample> s;
        problems.check([&] { s = read_sample(snode, nbins, c.name, problems); });
        if (!s) continue;
        if (!names.insert(s->name).second) {
          problems.add(snode.pointer() + "/name", "duplicate sample " + safe_quote(s->name) + " in channel " + safe_quote(c.name));
          continue;
        }
        c.samples.push_back(std::move(*s));
      }
    });
  }
  if (problems.count() != before) return std::nullopt;
  return c;
}

std::optional<Observation> read_observation(const Node& node, ErrorCollector& problems) {
  const size_t before = problems.count();
  Observation o;
  o.pointer = node.pointer();
  expect_object(node, "an observation");
  std::optional<Node> field[2];
  pick_fields(node, {"name", "data"}, field, "an observation", problems);
  problems.check([&] { o.name = nonempty_name(node.required(field[0], "name")); });
  problems.check([&] {
    Node data = node.required(field[1], "data");
    o.data = data.as_numbers();
    if (o.data.empty()) data.fail("observed data: at least 1 bin expected, found an empty array");
    for (size_t i = 0; i < o.data.size(); ++i)
      if (o.data[i] < 0) problems.add(data.pointer() + "/" + std::to_string(i), "observed counts must be >= 0, found " + num(o.data[i]));
  });
  if (problems.count() != before) return std::nullopt;
  return o;
}

std::vector<double> positive_numbers(const Node& node, const char* what, ErrorCollector& problems) {
  std::vector<double> v = node.as_numbers();
  if (v.empty()) node.fail(std::string(what) + ": at least 1 value expected, found an empty array");
  for (size_t i = 0; i < v.size(); ++i)
    if (!(v[i] > 0)) problems.add(node.pointer() + "/" + std::to_string(i), std::string(what) + " must be > 0, found " + num(v[i]));
  return v;
}

std::optional<ParameterConfig> read_parameter_config(const Node& node, ErrorCollector& problems) {
  const size_t before = problems.count();
  ParameterConfig p;
  p.pointer = node.pointer();
  expect_object(node, "a parameter configuration");
  std::optional<Node> field[7];
  pick_fields(node, {"name", "inits", "bounds", "fixed", "auxdata", "sigmas", "factors"}, field, "a parameter configuration", problems);
  problems.check([&] { p.name = nonempty_name(node.required(field[0], "name")); });
  auto nonempty_numbers = [&](const Node& v, const char* what) {
    std::vector<double> out = v.as_numbers();
    if (out.empty()) v.fail(std::string(what) + ": at least 1 value expected, found an empty array");
    return out;
  };
  if (const auto& v = field[1]) problems.check([&] { p.inits = nonempty_numbers(*v, "inits"); });
  if (const auto& v = field[2]) {
    problems.check([&] {
      std::vector<std::pair<double, double>> bounds;
      std::vector<Node> pairs = v->elements();
      if (pairs.empty()) v->fail("bounds: at least 1 [lo, hi] pair expected, found an empty array");
      for (const Node& b : pairs) {
        problems.check([&] {
          if (!b.is_array() || b.size() != 2)
            b.fail("expected a [lo, hi] array of 2 numbers, found " +
                   (b.is_array() ? "an array of " + std::to_string(b.size()) : b.type_name()));
          std::vector<double> lohi = b.as_numbers();
          if (!(lohi[0] <= lohi[1])) b.fail("lower bound " + num(lohi[0]) + " is above upper bound " + num(lohi[1]));
          bounds.emplace_back(lohi[0], lohi[1]);
        });
      }
      p.bounds = bounds;
    });
  }
  if (const auto& v = field[3]) problems.check([&] { p.fixed = v->as_bool(); });
  if (const auto& v = field[4]) problems.check([&] { p.auxdata = nonempty_numbers(*v, "auxdata"); });
  if (const auto& v = field[5]) problems.check([&] { p.sigmas = positive_numbers(*v, "sigmas", problems); });
  if (const auto& v = field[6]) problems.check([&] { p.factors = positive_numbers(*v, "factors", problems); });
  if (problems.count() != before) return std::nullopt;
  return p;
}

std::optional<Measurement> read_measurement(const Node& node, ErrorCollector& problems) {
  const size_t before = problems.count();
  Measurement m;
  m.pointer = node.pointer();
  expect_object(node, "a measurement");
  std::optional<Node> field[2];
  pick_fields(node, {"name", "config"}, field, "a measurement", problems);
  problems.check([&] { m.name = nonempty_name(node.required(field[0], "name")); });
  std::optional<Node> config = required(node, field[1], "config", problems);
  if (config) {
    problems.check([&] {
      expect_object(*config, "a measurement config");
      std::optional<Node> cfield[2];
      pick_fields(*config, {"poi", "parameters"}, cfield, "a measurement config", problems);
      problems.check([&] { m.poi = name_string(config->required(cfield[0], "poi")); });
      if (const auto& params = cfield[1]) {
        std::set<std::string> names;
        for (const Node& pnode : params->elements()) {
          std::optional<ParameterConfig> p;
          problems.check([&] { p = read_parameter_config(pnode, problems); });
          if (!p) continue;
          if (!names.insert(p->name).second) {
            problems.add(pnode.pointer() + "/name", "duplicate parameter configuration " + safe_quote(p->name) +
                                                        " in measurement " + safe_quote(m.name));
            continue;
          }
          m.parameters.push_back(std::move(*p));
        }
      }
    });
  }
  if (problems.count() != before) return std::nullopt;
  return m;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 10; ++i) out += (out.empty() ? "" : ", ") + safe_quote(names[i], 40);
  if (names.size() > 10) out += ", ...";
  return out.empty() ? "none" : out;
}

// One measurement's parameter configuration against the parameter set it configures.
void check_parameter_config(const ParameterConfig& pc, const ParameterSet& ps, ErrorCollector& problems) {
  const ParameterDefaults d = parameter_defaults(ps.type);
  const std::string kind = to_string(ps.type);
  bool lengths_ok = true;
  auto check_len = [&](size_t len, const char* field) {
    if (len == ps.n) return;
    lengths_ok = false;
    problems.add(pc.pointer + "/" + field, std::to_string(len) + (len == 1 ? " value" : " values") + " given, but " + kind +
                                               " parameter " + safe_quote(pc.name) + " has " + std::to_string(ps.n) +
                                               (ps.n == 1 ? " component" : " components"));
  };
  auto not_accepted = [&](const char* field, const char* why) {
    problems.add(pc.pointer + "/" + field, std::string(field) + " cannot be set for " + kind + " parameter " + safe_quote(pc.name) + " (" + why + ")");
  };
  if (pc.inits) check_len(pc.inits->size(), "inits");
  if (pc.bounds) check_len(pc.bounds->size(), "bounds");
  if (pc.auxdata) {
    if (!d.accepts_auxdata) not_accepted("auxdata", "it has no constraint term");
    else check_len(pc.auxdata->size(), "auxdata");
  }
  if (pc.sigmas) {
    if (!d.accepts_sigmas) not_accepted("sigmas", "pyhf accepts sigmas for lumi and staterror only");
    else check_len(pc.sigmas->size(), "sigmas");
  }
  if (pc.factors) {
    if (!d.accepts_factors) not_accepted("factors", "pyhf accepts factors for shapesys only");
    else check_len(pc.factors->size(), "factors");
  }
  if (!lengths_ok) return;
  // Initial values inside the bounds, given or default (lumi starts at its auxdata).
  for (size_t i = 0; i < ps.n; ++i) {
    const double init = pc.inits ? (*pc.inits)[i]
                        : (ps.type == ModifierType::Lumi && pc.auxdata) ? (*pc.auxdata)[0]
                                                                        : d.init;
    const auto [lo, hi] = pc.bounds ? (*pc.bounds)[i] : d.bounds;
    if (init >= lo && init <= hi) continue;
    const std::string component = ps.n == 1 ? safe_quote(pc.name) : safe_quote(pc.name + "[" + std::to_string(i) + "]");
    const std::string range = "[" + num(lo) + ", " + num(hi) + "]";
    if (pc.inits)
      problems.add(pc.pointer + "/inits/" + std::to_string(i), "initial value " + num(init) + " of " + component +
                                                                   " is outside its bounds " + range +
                                                                   (pc.bounds ? "" : " (pyhf's default for " + kind + ")"));
    else
      problems.add(pc.pointer + "/bounds/" + std::to_string(i), "bounds " + range + " of " + component +
                                                                    " exclude its initial value " + num(init) +
                                                                    " (give inits inside the bounds)");
  }
}

}  // namespace

bool looks_like_pyhf(const json::Node& root) { return root.is_object() && root.get("channels").has_value(); }

Workspace read_workspace(const json::Node& root) {
  ErrorCollector fail_fast;
  return read_workspace(root, fail_fast);
}

Workspace read_workspace(const json::Node& root, json::ErrorCollector& problems) {
  Workspace ws;
  if (!root.is_object()) {
    problems.add(root.pointer(), "expected a pyhf workspace object, found " + root.type_name());
    return ws;
  }
  root.check_keys({"channels", "observations", "measurements", "version"}, "a pyhf workspace", problems);

  // Channels, samples, modifiers.
  const size_t before_channels = problems.count();
  std::optional<Node> channels = required(root, "channels", problems);
  std::set<std::string> channel_names;  // every channel name that could be read
  if (channels) {
    problems.check([&] {
      std::vector<Node> nodes = channels->elements();
      if (nodes.empty()) channels->fail("at least 1 channel expected, found an empty array");
      ws.channels.reserve(nodes.size());
      for (const Node& cnode : nodes) {
        if (cnode.is_object())
          if (auto n = cnode.get("name"); n && n->is_string() && !channel_names.insert(n->as_string()).second) {
            problems.add(n->pointer(), "duplicate channel " + safe_quote(n->as_string()));
            continue;
          }
        std::optional<Channel> c;
        problems.check([&] { c = read_channel(cnode, problems); });
        if (c) ws.channels.push_back(std::move(*c));
      }
    });
  }
  const bool channels_ok = problems.count() == before_channels;

  // Observations, and their match with the channels.
  const size_t before_observations = problems.count();
  std::optional<Node> observations = required(root, "observations", problems);
  if (observations) {
    problems.check([&] {
      std::vector<Node> nodes = observations->elements();
      if (nodes.empty()) observations->fail("at least 1 observation expected, found an empty array");
      std::set<std::string> names;
      for (const Node& onode : nodes) {
        std::optional<Observation> o;
        problems.check([&] { o = read_observation(onode, problems); });
        if (!o) continue;
        if (!names.insert(o->name).second) {
          problems.add(onode.pointer() + "/name", "duplicate observation " + safe_quote(o->name));
          continue;
        }
        ws.observation_index_.emplace(o->name, ws.observations.size());
        ws.observations.push_back(std::move(*o));
      }
    });
  }
  if (channels && observations && channels_ok && problems.count() == before_observations) {
    std::vector<std::string> channel_list, observation_list;
    for (const Channel& c : ws.channels) channel_list.push_back(c.name);
    for (const Observation& o : ws.observations) observation_list.push_back(o.name);
    for (const Observation& o : ws.observations)
      if (!channel_names.count(o.name))
        problems.add(o.pointer + "/name", "observation " + safe_quote(o.name) + " matches no channel (channels: " + name_list(channel_list) + ")");
    for (const Channel& c : ws.channels) {
      const Observation* o = ws.observation(c.name);
      if (!o)
        problems.add(observations->pointer(), "no observation for channel " + safe_quote(c.name) + " (observations: " +
                                                  name_list(observation_list) + ")");
      else if (o->data.size() != c.nbins())
        problems.add(o->pointer + "/data", "observed data: " + std::to_string(o->data.size()) + " bins, but channel " +
                                               safe_quote(c.name) + " has " + std::to_string(c.nbins()));
    }
  }

  // Measurements.
  const size_t before_measurements = problems.count();
  std::optional<Node> measurements = required(root, "measurements", problems);
  if (measurements) {
    problems.check([&] {
      std::vector<Node> nodes = measurements->elements();
      if (nodes.empty()) measurements->fail("at least 1 measurement expected, found an empty array");
      std::set<std::string> names;
      for (const Node& mnode : nodes) {
        std::optional<Measurement> m;
        problems.check([&] { m = read_measurement(mnode, problems); });
        if (!m) continue;
        if (!names.insert(m->name).second) {
          problems.add(mnode.pointer() + "/name", "duplicate measurement " + safe_quote(m->name));
          continue;
        }
        ws.measurements.push_back(std::move(*m));
      }
    });
  }
  const bool measurements_ok = problems.count() == before_measurements;

  if (auto v = root.get("version")) {
    problems.check([&] {
      ws.version = v->as_string();
      if (ws.version != "1.0.0") v->fail("unsupported pyhf workspace version " + safe_quote(ws.version) + " (expected \"1.0.0\")");
    });
  }

  // Parameter sets, and every measurement's configuration of them.
  if (channels_ok && channels) {
    const size_t before_sets = problems.count();
    std::map<std::string, ParameterSet> sets = parameter_sets(ws, problems);
    if (measurements_ok && problems.count() == before_sets)
      for (const Measurement& m : ws.measurements)
        for (const ParameterConfig& pc : m.parameters)
          if (auto it = sets.find(pc.name); it != sets.end()) check_parameter_config(pc, it->second, problems);
  }
  return ws;
}

void check_measurement(const Workspace& ws, const Measurement& measurement, const std::optional<std::string>& poi_override,
                       json::ErrorCollector& problems) {
  json::ErrorCollector quiet;  // ws was read without problems: sets cannot conflict
  const std::map<std::string, ParameterSet> sets = parameter_sets(ws, quiet);
  const std::string poi = poi_override ? *poi_override : measurement.poi;
  const std::string poi_where = poi_override ? std::string("--poi") : measurement.pointer + "/config/poi";
  auto poi_problem = [&](const std::string& msg) {
    if (poi_override) problems.add(Error(ErrorKind::Usage, "--poi", msg));
    else problems.add(poi_where, msg);
  };
  if (!poi.empty()) {
    auto it = sets.find(poi);
    if (it == sets.end()) {
      std::vector<std::string> names;
      for (const auto& [name, ps] : sets) names.push_back(name);
      poi_problem("POI " + safe_quote(poi) + " is not a parameter of the model (parameters: " + name_list(names) + ")");
    } else if (it->second.n != 1 || parameter_defaults(it->second.type).per_bin) {
      poi_problem("POI " + safe_quote(poi) + " must be a single parameter, but " + to_string(it->second.type) + " " + safe_quote(poi) +
                  " has " + std::to_string(it->second.n) + " components");
    }
  }
  for (const auto& [name, ps] : sets) {
    if (ps.type != ModifierType::Lumi) continue;
    const ParameterConfig* pc = nullptr;
    for (const ParameterConfig& c : measurement.parameters)
      if (c.name == name) pc = &c;
    if (!pc || !pc->auxdata || !pc->sigmas)
      problems.add(pc ? pc->pointer : measurement.pointer + "/config/parameters",
                   "lumi modifier " + safe_quote(name) + " (" + ps.first_pointer() + ") needs 'auxdata' and 'sigmas' in measurement " +
                       safe_quote(measurement.name) + "'s parameter configuration");
  }
}

const Measurement& Workspace::measurement(const std::string& name) const {
  if (name.empty()) return measurements.front();
  for (const Measurement& m : measurements)
    if (m.name == name) return m;
  std::vector<std::string> known;
  for (const Measurement& m : measurements) known.push_back(m.name);
  throw Error(ErrorKind::Usage, "--measurement", "no measurement named " + safe_quote(name) + " (available: " + name_list(known) + ")");
}

const Observation* Workspace::observation(const std::string& channel) const {
  auto it = observation_index_.find(channel);
  if (it != observation_index_.end() && it->second < observations.size() && observations[it->second].name == channel)
    return &observations[it->second];
  for (const Observation& o : observations)  // not indexed: built or edited by hand
    if (o.name == channel) return &o;
  return nullptr;
}

std::string Modifier::pointer() const {
  return sample_pointer ? *sample_pointer + "/modifiers/" + std::to_string(index) : std::string();
}

}  // namespace hs3fit::pyhf
