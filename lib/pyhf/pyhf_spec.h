// pyhf JSON workspaces (schema 1.0.0) as typed structs, read and validated from JSON.
// This is the JSON-level view: names and numbers exactly as written, each with the JSON
// pointer it came from. model/histfactory_builder.h turns it into a Model with pyhf semantics.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hs3fit::json {
class Node;
class ErrorCollector;
}  // namespace hs3fit::json

namespace hs3fit::pyhf {

enum class ModifierType { NormFactor, NormSys, HistoSys, ShapeSys, ShapeFactor, StatError, Lumi };
const char* to_string(ModifierType t);

struct Modifier {
  std::string name;
  ModifierType type = ModifierType::NormFactor;
  double hi = 1.0, lo = 1.0;                 // normsys factors
  std::vector<double> hi_data, lo_data;      // histosys varied yields
  std::vector<double> uncertainties;         // shapesys / staterror absolute uncertainties
  // JSON pointer of the modifier object, built on demand (a workspace may hold a million
  // modifiers): `sample_pointer` + "/modifiers/" + `index`; "" when sample_pointer is null.
  std::string pointer() const;
  std::shared_ptr<const std::string> sample_pointer;  // of the sample carrying it
  size_t index = 0;                                   // in the sample's "modifiers" array
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
  // The observation of a channel, or null (O(log n) for a workspace from read_workspace).
  const Observation* observation(const std::string& channel) const;

 private:
  friend Workspace read_workspace(const json::Node& root, json::ErrorCollector& problems);
  std::map<std::string, size_t> observation_index_;  // built by read_workspace
};

Workspace read_workspace(const json::Node& root, json::ErrorCollector& problems);

// Read and validate a pyhf workspace (schema 1.0.0 plus the semantic rules pyhf enforces, and
// some it does not: docs/errors.md lists them). Throws the first problem as an hs3fit::Error
// whose where() is the JSON pointer of the offending value.
Workspace read_workspace(const json::Node& root);

// The same, reporting every problem to `problems` (which may throw in fail-fast mode). Broken
// parts are left out of the result and checks that depend on them are skipped; the result is
// complete only when no problem was reported. Checked: types, required and unknown keys,
// non-empty names, duplicates (channels, samples, modifiers, observations, measurements,
// parameter configurations), bin counts (samples, modifier data, observations), value ranges
// (observed counts and staterror/shapesys uncertainties >= 0, normsys factors > 0, sigmas and
// factors > 0, bounds lo <= hi), observations matching channels, modifier sharing rules
// (pyhf_parameter_sets.h) and, in every measurement, each parameter configuration against
// its parameter set (lengths, keys the set accepts, initial values inside the bounds).
Workspace read_workspace(const json::Node& root, json::ErrorCollector& problems);

// Checks that concern one measurement as the model to be fitted, beyond read_workspace: the POI
// (`poi_override` replaces the measurement's) is a scalar parameter of the model, and every
// lumi modifier has auxdata and sigmas configured. `ws` must have been read without problems.
void check_measurement(const Workspace& ws, const Measurement& measurement,
                       const std::optional<std::string>& poi_override, json::ErrorCollector& problems);

// True when the document looks like a pyhf workspace (has "channels" at the top level).
bool looks_like_pyhf(const json::Node& root);

}  // namespace hs3fit::pyhf
