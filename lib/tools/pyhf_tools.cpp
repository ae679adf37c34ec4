#include "tools/pyhf_tools.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/error.h"

namespace hs3fit::tools {

namespace {

using json::Value;

Value make_array() { Value v; v.type = Value::Type::Array; return v; }

const Value& member(const Value& obj, const std::string& key, const std::string& where) {
  const Value* v = obj.type == Value::Type::Object ? obj.find(key) : nullptr;
  if (!v) throw_input_error(where, "missing '" + key + "'");
  return *v;
}

std::string name_of(const Value& item, const std::string& where) {
  const Value& n = member(item, "name", where);
  if (n.type != Value::Type::String) throw_input_error(where + "/name", "expected a string");
  return n.string;
}

bool equal(const Value& a, const Value& b) { return json::serialize(a) == json::serialize(b); }

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// Join two lists of named objects (channels, observations, measurements) the way pyhf does.
Value join_named(const Value& left, const Value& right, Join join, const std::string& what,
                 const std::function<Value(const Value&, const Value&)>& merge_same) {
  Value out = make_array();
  std::set<std::string> right_names;
  for (const Value& r : right.array) right_names.insert(name_of(r, what));
  for (const Value& l : left.array) {
    const std::string name = name_of(l, what);
    const Value* twin = nullptr;
    for (const Value& r : right.array)
      if (name_of(r, what) == name) twin = &r;
    if (!twin) { out.array.push_back(l); continue; }
    switch (join) {
      case Join::None:
        throw Error(ErrorKind::Input, what, "both workspaces have " + what + " '" + name + "' (use --join outer, left outer or right outer)");
      case Join::Outer:
        out.array.push_back(merge_same ? merge_same(l, *twin) : l);
        if (!merge_same && !equal(l, *twin))
          throw Error(ErrorKind::Input, what, what + " '" + name + "' differs between the workspaces (outer join needs identical duplicates)");
        break;
      case Join::LeftOuter: out.array.push_back(l); break;
      case Join::RightOuter: out.array.push_back(*twin); break;
    }
  }
  std::set<std::string> left_names;
  for (const Value& l : left.array) left_names.insert(name_of(l, what));
  for (const Value& r : right.array)
    if (!left_names.count(name_of(r, what))) out.array.push_back(r);
  return out;
}

Value merge_measurements(const Value& l, const Value& r, Join join) {
  const std::string name = name_of(l, "measurement");
  const Value& lc = member(l, "config", "measurement '" + name + "'");
  const Value& rc = member(r, "config", "measurement '" + name + "'");
  if (!equal(member(lc, "poi", name), member(rc, "poi", name)))
    throw Error(ErrorKind::Input, "measurements", "measurement '" + name + "' has different POIs in the two workspaces");
  Value out = l;
  Value& params = *out.find("config")->find("parameters");
  const Value* rparams = rc.find("parameters");
  if (!rparams) return out;
  for (const Value& rp : rparams->array) {
    const std::string pname = name_of(rp, "parameter");
    Value* existing = nullptr;
    for (Value& lp : params.array)
      if (name_of(lp, "parameter") == pname) existing = &lp;
    if (!existing) params.array.push_back(rp);
    else if (!equal(*existing, rp)) {
      if (join == Join::RightOuter) *existing = rp;
      else if (join == Join::Outer)
        throw Error(ErrorKind::Input, "measurements", "measurement '" + name + "' configures parameter '" + pname + "' differently in the two workspaces");
    }
  }
  return out;
}

}  // namespace

Join parse_join(const std::string& text) {
  if (text == "none") return Join::None;
  if (text == "outer") return Join::Outer;
  if (text == "left outer" || text == "left") return Join::LeftOuter;
  if (text == "right outer" || text == "right") return Join::RightOuter;
  throw Error(ErrorKind::Usage, "--join", "unknown join '" + text + "' (expected none, outer, 'left outer' or 'right outer')");
}

Value combine(const Value& left, const Value& right, Join join, bool merge_channels) {
  const Value* lv = left.find("version");
  const Value* rv = right.find("version");
  if (lv && rv && !equal(*lv, *rv)) throw Error(ErrorKind::Input, "version", "the workspaces have different versions");
  Value out = left;
  std::function<Value(const Value&, const Value&)> merge_channel;
  if (merge_channels) {
    merge_channel = [join](const Value& l, const Value& r) {
      Value merged = l;
      Value& samples = *merged.find("samples");
      for (const Value& rs : member(r, "samples", "channel").array) {
        bool dup = false;
        for (Value& ls : samples.array)
          if (name_of(ls, "sample") == name_of(rs, "sample")) {
            dup = true;
            if (join == Join::RightOuter) ls = rs;
            else if (join != Join::LeftOuter && !equal(ls, rs))
              throw Error(ErrorKind::Input, "channels", "sample '" + name_of(rs, "sample") + "' differs in channel '" + name_of(l, "channel") + "'");
          }
        if (!dup) samples.array.push_back(rs);
      }
      return merged;
    };
  }
  *out.find("channels") = join_named(member(left, "channels", "/"), member(right, "channels", "/"), merge_channels && join == Join::None ? Join::Outer : join,
                                     "channel", merge_channel);
  *out.find("observations") = join_named(member(left, "observations", "/"), member(right, "observations", "/"), join, "observation", nullptr);
  *out.find("measurements") = join_named(member(left, "measurements", "/"), member(right, "measurements", "/"), join, "measurement",
                                         [join](const Value& l, const Value& r) { return merge_measurements(l, r, join); });
  return out;
}

Value prune(const Value& ws, const PruneSpec& spec) {
  Value out = ws;
  std::set<std::string> removed_modifiers(spec.modifiers.begin(), spec.modifiers.end());
  Value& channels = *out.find("channels");
  Value kept = make_array();
  for (Value& ch : channels.array) {
    if (contains(spec.channels, name_of(ch, "channel"))) continue;
    Value& samples = *ch.find("samples");
    Value kept_samples = make_array();
    for (Value& s : samples.array) {
      if (contains(spec.samples, name_of(s, "sample"))) continue;
      Value& mods = *s.find("modifiers");
      Value kept_mods = make_array();
      for (Value& m : mods.array) {
        const std::string type = member(m, "type", "modifier").string;
        if (contains(spec.modifiers, name_of(m, "modifier")) || contains(spec.modifier_types, type)) {
          removed_modifiers.insert(name_of(m, "modifier"));
          continue;
        }
        kept_mods.array.push_back(m);
      }
      mods = kept_mods;
      kept_samples.array.push_back(s);
    }
    samples = kept_samples;
    kept.array.push_back(ch);
  }
  channels = kept;
  Value& obs = *out.find("observations");
  Value kept_obs = make_array();
  for (Value& o : obs.array)
    if (!contains(spec.channels, name_of(o, "observation"))) kept_obs.array.push_back(o);
  obs = kept_obs;
  Value& meas = *out.find("measurements");
  Value kept_meas = make_array();
  for (Value& m : meas.array) {
    if (contains(spec.measurements, name_of(m, "measurement"))) continue;
    if (Value* params = m.find("config") ? m.find("config")->find("parameters") : nullptr) {
      Value kept_params = make_array();
      for (Value& p : params->array)
        if (!removed_modifiers.count(name_of(p, "parameter"))) kept_params.array.push_back(p);
      *params = kept_params;
    }
    kept_meas.array.push_back(m);
  }
  meas = kept_meas;
  return out;
}

Value rename(const Value& ws, const RenameSpec& spec) {
  auto renamed = [](const std::map<std::string, std::string>& map, Value& name) {
    if (name.type != Value::Type::String) return;
    auto it = map.find(name.string);
    if (it != map.end()) name.string = it->second;
  };
  Value out = ws;
  for (Value& ch : out.find("channels")->array) {
    renamed(spec.channels, *ch.find("name"));
    for (Value& s : ch.find("samples")->array) {
      renamed(spec.samples, *s.find("name"));
      for (Value& m : s.find("modifiers")->array) renamed(spec.modifiers, *m.find("name"));
    }
  }
  for (Value& o : out.find("observations")->array) renamed(spec.channels, *o.find("name"));
  for (Value& m : out.find("measurements")->array) {
    renamed(spec.measurements, *m.find("name"));
    if (Value* config = m.find("config")) {
      if (Value* poi = config->find("poi")) renamed(spec.modifiers, *poi);
      if (Value* params = config->find("parameters"))
        for (Value& p : params->array) renamed(spec.modifiers, *p.find("name"));
    }
  }
  return out;
}

}  // namespace hs3fit::tools
