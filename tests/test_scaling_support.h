// A generated HistFactory model of any size for the scaling and threading tests (the C++ twin
// of scripts/make-workspace): signal with a normfactor POI and backgrounds per channel, global
// nuisance parameters on every background, local ones on one sample of one channel, optional
// staterror gammas, Gaussian constraints, and observed counts drawn around the prediction.
#pragma once
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace hs3test {

struct GeneratedSize {
  int channels = 4, bins = 3, backgrounds = 2;
  int global_nps = 2, local_nps_per_channel = 2;
  bool staterror = true;
  unsigned seed = 1;
};

inline hs3fit::model::Model generated_model(const GeneratedSize& z) {
  using namespace hs3fit::model;
  Model m;
  std::mt19937 rng(z.seed);
  std::uniform_real_distribution<double> u(0, 1);
  auto add_param = [&](const std::string& name, double init, double lo, double hi, double step) {
    m.parameters.push_back({name, init, lo, hi, false, step});
    return static_cast<uint32_t>(m.parameters.size() - 1);
  };
  auto constrain = [&](uint32_t p, double sigma) {
    Constraint c;
    c.kind = ConstraintKind::Gaussian;
    c.param = p;
    c.aux = m.parameters[p].init;
    c.sigma = sigma;
    m.constraints.push_back(c);
  };
  const uint32_t mu = add_param("mu", 1.0, 0.0, 10.0, 0.1);
  m.poi = mu;
  std::vector<uint32_t> globals;
  for (int i = 0; i < z.global_nps; ++i) {
    globals.push_back(add_param("alpha_global_" + std::to_string(i), 0.0, -5.0, 5.0, 1.0));
    constrain(globals.back(), 1.0);
  }
  auto normsys = [&](uint32_t p) {
    Modifier md;
    md.kind = ModifierKind::NormSys;
    md.param = p;
    md.hi = 1 + 0.02 + 0.1 * u(rng);
    md.lo = 1 - 0.02 - 0.1 * u(rng);
    return md;
  };
  auto histosys = [&](uint32_t p, const std::vector<double>& nom) {
    Modifier md;
    md.kind = ModifierKind::HistoSys;
    md.interp = Interp::Code4p;
    md.param = p;
    for (double v : nom) {
      md.hi_data.push_back(v * (1 + 0.03 + 0.05 * u(rng)));
      md.lo_data.push_back(v * (1 - 0.02 - 0.05 * u(rng)));
    }
    return md;
  };
  for (int c = 0; c < z.channels; ++c) {
    Channel ch;
    ch.name = "ch" + std::to_string(c);
    const double scale = 50 + 200 * u(rng);
    Sample sig{"signal", {}, {}};
    for (int b = 0; b < z.bins; ++b) sig.nominal.push_back(0.1 * scale * std::exp(-0.5 * std::pow(b - 0.5 * z.bins, 2)) + 0.1);
    Modifier nf;
    nf.kind = ModifierKind::NormFactor;
    nf.param = mu;
    sig.modifiers.push_back(nf);
    ch.samples.push_back(sig);
    for (int k = 0; k < z.backgrounds; ++k) {
      Sample bkg{"bkg" + std::to_string(k), {}, {}};
      const double slope = 0.5 + 2 * u(rng);
      for (int b = 0; b < z.bins; ++b) bkg.nominal.push_back(scale / (k + 1) * std::exp(-slope * b / z.bins) + 1.0);
      for (size_t g = 0; g < globals.size(); ++g)
        bkg.modifiers.push_back(g % 3 == 2 ? histosys(globals[g], bkg.nominal) : normsys(globals[g]));
      ch.samples.push_back(bkg);
    }
    for (int l = 0; l < z.local_nps_per_channel; ++l) {
      const uint32_t p = add_param("alpha_" + ch.name + "_" + std::to_string(l), 0.0, -5.0, 5.0, 1.0);
      constrain(p, 1.0);
      Sample& s = ch.samples[static_cast<size_t>(1 + (l % z.backgrounds))];
      s.modifiers.push_back(l % 2 ? histosys(p, s.nominal) : normsys(p));
    }
    if (z.staterror) {
      Modifier st;
      st.kind = ModifierKind::StatError;
      for (int b = 0; b < z.bins; ++b) {
        const uint32_t p = add_param("staterror_" + ch.name + "[" + std::to_string(b) + "]", 1.0, 1e-10, 10.0, 0.05);
        constrain(p, 0.05);
        st.bin_params.push_back(p);
      }
      for (size_t s = 1; s < ch.samples.size(); ++s) ch.samples[s].modifiers.push_back(st);
    }
    for (int b = 0; b < z.bins; ++b) {
      double total = 0;
      for (const auto& s : ch.samples) total += s.nominal[static_cast<size_t>(b)];
      ch.observed.push_back(std::round(total * (1 + 0.05 * (u(rng) - 0.5))));
    }
    m.channels.push_back(ch);
  }
  return m;
}

}  // namespace hs3test
