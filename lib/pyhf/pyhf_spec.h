// pyhf JSON workspaces (schema 1.0.0) as typed structs, read and validated from JSON.
// This is the JSON-level view: names and numbers exactly as written, each with the JSON
// pointer it came from. model/histfactory_builder.h turns it into a Model with pyhf semantics.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hs3fit::json { class Node; }

namespace hs3fit::pyhf {

enum class ModifierType { NormFactor, NormSys, HistoSys, ShapeSys, ShapeFactor, StatError, Lumi };
const char* to_string(ModifierType t);

struct Modifier {
  std::string name;
  ModifierType type = ModifierType::NormFactor;
  double hi = 1.0, lo = 1.0;                 // normsys factors
  std::vector<double> hi_data, lo_data;      // histosys varied yields
  std::vector<double> uncertainties;         // shapesys / staterror absolute uncertainties
  std::string pointer;                       // JSON pointer of the modifier object
};

struct Sample {
  std::string name;
  std::vector<double> data;  // nominal yields per bin
  std::vector<Modifier> modifiers;
  std::string pointer;
};

struct Channel {
  std::string name;
  std::vector<Sample> samples;
  size_t nbins() const { return samples.empty() ? 0 : samples.front().data.size(); }
  std::string pointer;
};

struct Observation {
  std::string name;
  std::vector<double> data;
  std::string pointer;
};

struct ParameterConfig {
  std::string name;
  std::optional<std::vector<double>> inits;
  std::optional<std::vector<std::pair<double, double>>> bounds;
  std::optional<bool> fixed;
  std::optional<std::vector<double>> auxdata;
  std::optional<std::vector<double>> sigmas;
  std::optional<std::vector<double>> factors;  // Poisson constraint scale τ (shapesys)
  std::string pointer;
};

struct Measurement {
  std::string name;
  std::string poi;
  std::vector<ParameterConfig> parameters;
  std::string pointer;
};

struct Workspace {
  std::vector<Channel> channels;
  std::vector<Observation> observations;
  std::vector<Measurement> measurements;
  std::string version;

  const Measurement& measurement(const std::string& name) const;  // "" = first
  const Observation* observation(const std::string& channel) const;
};

// Read and validate a pyhf workspace. Throws hs3fit::Error naming the JSON pointer.
Workspace read_workspace(const json::Node& root);

// True when the document looks like a pyhf workspace (has "channels" at the top level).
bool looks_like_pyhf(const json::Node& root);

}  // namespace hs3fit::pyhf
