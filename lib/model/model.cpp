#include "model/model.h"

#include "core/error.h"

namespace hs3fit::model {

const char* to_string(Interp code) {
  switch (code) {
    case Interp::Code0: return "code0";
    case Interp::Code1: return "code1";
    case Interp::Code2: return "code2";
    case Interp::Code4: return "code4";
    case Interp::Code4p: return "code4p";
  }
  return "?";
}


const char* to_string(ModifierKind kind) {
  switch (kind) {
    case ModifierKind::NormFactor: return "normfactor";
    case ModifierKind::NormSys: return "normsys";
    case ModifierKind::HistoSys: return "histosys";
    case ModifierKind::ShapeFactor: return "shapefactor";
    case ModifierKind::ShapeSys: return "shapesys";
    case ModifierKind::StatError: return "staterror";
    case ModifierKind::Lumi: return "lumi";
  }
  return "?";
}

std::optional<uint32_t> Model::find_parameter(const std::string& name) const {
  for (uint32_t i = 0; i < parameters.size(); ++i)
    if (parameters[i].name == name) return i;
  return std::nullopt;
}

uint32_t Model::parameter_index(const std::string& name, const std::string& context) const {
  if (auto i = find_parameter(name)) return *i;
  std::string similar;
  size_t shown = 0;
  const std::string stem = name.substr(0, name.find('['));
  for (const Parameter& p : parameters) {
    if (shown < 8 && !stem.empty() && p.name.find(stem) != std::string::npos) {
      similar += (similar.empty() ? "" : ", ") + p.name;
      ++shown;
    }
  }
  throw Error(ErrorKind::Usage, context,
              "no parameter named '" + name + "'" + (similar.empty() ? std::string() : " (similar: " + similar + ")"));
}

size_t Model::total_bins() const {
  size_t n = 0;
  for (const Channel& c : channels) n += c.nbins();
  return n;
}

std::vector<double> Model::initial_values() const {
  std::vector<double> v;
  v.reserve(parameters.size());
  for (const Parameter& p : parameters) v.push_back(p.init);
  return v;
}

}  // namespace hs3fit::model
