#include "model/yields.h"

#include "tape/interpolation.h"

namespace hs3fit::model {

std::vector<ChannelYields> expected_yields(const Model& model, const std::vector<double>& x) {
  std::vector<ChannelYields> out;
  for (const Channel& ch : model.channels) {
    ChannelYields cy;
    cy.name = ch.name;
    cy.observed = ch.observed;
    cy.expected.assign(ch.nbins(), 0.0);
    for (double n : ch.observed) cy.observed_total += n;
    for (const Sample& s : ch.samples) {
      SampleYields sy;
      sy.name = s.name;
      sy.bins.resize(s.nominal.size());
      for (size_t b = 0; b < s.nominal.size(); ++b) {
        // histosys in modifier order on the running yield (deltas against the nominal), then
        // the product of all scalar and per-bin factors — the order the compiler uses.
        double value = s.nominal[b], factor = 1.0;
        for (const Modifier& m : s.modifiers) {
          switch (m.kind) {
            case ModifierKind::HistoSys: {
              const double v = interp::evaluate(m.interp, x[m.param], s.nominal[b], m.hi_data[b], m.lo_data[b]);
              if (is_multiplicative(m.interp)) value *= v;
              else value += v;
              break;
            }
            case ModifierKind::NormSys: {
              const double v = interp::evaluate(m.interp, x[m.param], 1.0, m.hi, m.lo);
              factor *= is_multiplicative(m.interp) ? v : 1.0 + v;
              break;
            }
            case ModifierKind::NormFactor:
            case ModifierKind::Lumi: factor *= x[m.param]; break;
            case ModifierKind::ShapeFactor:
            case ModifierKind::ShapeSys:
            case ModifierKind::StatError:
              if (m.bin_params[b] != kNoParameter) factor *= x[static_cast<size_t>(m.bin_params[b])];
              break;
          }
        }
        sy.bins[b] = value * factor;
        sy.total += sy.bins[b];
        cy.expected[b] += sy.bins[b];
      }
      cy.expected_total += sy.total;
      cy.samples.push_back(std::move(sy));
    }
    out.push_back(std::move(cy));
  }
  return out;
}

}  // namespace hs3fit::model
