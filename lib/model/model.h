// The typed statistical model, independent of JSON: parameters, binned channels built from
// samples and modifiers (HistFactory), and constraint terms. Both front ends (pyhf JSON, HS3)
// lower to this; the compiler (tape/compiler.h) lowers it to the instruction tape.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace hs3fit::model {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

struct Parameter {
  std::string name;
  double init = 0.0;
  double lo = -kInf;
  double hi = kInf;
  bool fixed = false;
  double step = 0.1;  // a priori scale (expected error) used to condition the minimizer
};

// Interpolation codes as pyhf names them (SPEC §7.4): additive 0, 2, 4p; multiplicative 1, 4.
enum class Interp { Code0, Code1, Code2, Code4, Code4p };
const char* to_string(Interp code);
inline bool is_multiplicative(Interp code) { return code == Interp::Code1 || code == Interp::Code4; }

enum class ModifierKind { NormFactor, NormSys, HistoSys, ShapeFactor, ShapeSys, StatError, Lumi };
const char* to_string(ModifierKind kind);

inline constexpr int64_t kNoParameter = -1;

struct Modifier {
  ModifierKind kind = ModifierKind::NormFactor;
  std::string name;
  uint32_t param = 0;  // parameter index of a scalar modifier (normfactor, lumi, normsys, histosys)
  // Per-bin modifiers (shapefactor, shapesys, staterror): parameter index for each bin, or
  // kNoParameter where the bin is left unmodified (pyhf masks shapesys bins without uncertainty).
  std::vector<int64_t> bin_params;
  Interp interp = Interp::Code4;
  double hi = 1.0, lo = 1.0;              // normsys: factors relative to nominal
  std::vector<double> hi_data, lo_data;   // histosys: varied yields
  bool per_bin() const {
    return kind == ModifierKind::ShapeFactor || kind == ModifierKind::ShapeSys || kind == ModifierKind::StatError;
  }
};

struct Sample {
  std::string name;
  std::vector<double> nominal;
  std::vector<Modifier> modifiers;
};

struct Channel {
  std::string name;
  std::vector<Sample> samples;
  std::vector<double> observed;  // main-measurement counts per bin
  size_t nbins() const { return observed.size(); }
};

enum class ConstraintKind { Gaussian, Poisson };

// One constraint term on one scalar parameter θ with auxiliary datum a:
//   Gaussian: −ln N(a | θ, σ)   = ½((a−θ)/σ)² + ln σ + ½ ln 2π
//   Poisson:  −ln Pois(a | θ·τ) = θτ − a ln(θτ) + lnΓ(a+1)   (continuous in a, as pyhf)
struct Constraint {
  ConstraintKind kind = ConstraintKind::Gaussian;
  uint32_t param = 0;
  double aux = 0.0;
  double sigma = 1.0;  // Gaussian width
  double tau = 1.0;    // Poisson scale
};

struct Model {
  std::vector<Parameter> parameters;
  std::vector<Channel> channels;
  std::vector<Constraint> constraints;
  std::optional<uint32_t> poi;

  std::optional<uint32_t> find_parameter(const std::string& name) const;
  // Index of a parameter or an Error(Usage) naming `context` and listing similar names.
  uint32_t parameter_index(const std::string& name, const std::string& context) const;
  size_t total_bins() const;
  std::vector<double> initial_values() const;
};

}  // namespace hs3fit::model
