#include "tape/compiler.h"

#include <cmath>
#include <fmt/format.h>

#include "core/error.h"
#include "tape/interpolation.h"

namespace hs3fit::tape {

const char* op_name(Op op) {
  switch (op) {
#define HS3FIT_OP_NAME(name, doc) \
  case Op::name: return #name;
    HS3FIT_TAPE_OPS(HS3FIT_OP_NAME)
#undef HS3FIT_OP_NAME
  }
  return "?";
}

std::string Tape::summary() const {
  return fmt::format("{} ops, {} slots ({} parameters, {} work, {} constant), {} coefficients", code.size(),
                     arena_size(), num_params, work_end - num_params, arena_size() - work_end, consts.size());
}

namespace {

using model::Interp;
using model::ModifierKind;

// Constant slots are allocated in their own region during compilation and relocated after
// the work region once its size is known; kConstTag marks not-yet-relocated offsets.
constexpr uint32_t kConstTag = 0x80000000u;

class Compiler {
 public:
  explicit Compiler(const model::Model& m) : model_(m) {
    tape_.num_params = static_cast<uint32_t>(m.parameters.size());
    work_end_ = tape_.num_params;
  }

  Tape run() {
    std::vector<uint32_t> terms;
    for (const model::Channel& ch : model_.channels) terms.push_back(lower_channel(ch));
    lower_constraints(terms);
    tape_.result = work(1);
    emit({Op::Sum, static_cast<uint32_t>(terms.size()), tape_.result, 0, 0, 0, add_indices(terms)});
    return finish();
  }

 private:
  uint32_t work(size_t n) {
    uint32_t off = work_end_;
    work_end_ += static_cast<uint32_t>(n);
    return off;
  }
  uint32_t constant(const std::vector<double>& values) {
    uint32_t off = static_cast<uint32_t>(const_arena_.size());
    const_arena_.insert(const_arena_.end(), values.begin(), values.end());
    return off | kConstTag;
  }
  uint32_t one() {
    if (one_slot_ == 0) one_slot_ = constant({1.0});
    return one_slot_;
  }
  uint32_t add_consts(const std::vector<double>& values) {
    uint32_t off = static_cast<uint32_t>(tape_.consts.size());
    tape_.consts.insert(tape_.consts.end(), values.begin(), values.end());
    return off;
  }
  uint32_t add_indices(const std::vector<uint32_t>& values) {
    uint32_t off = static_cast<uint32_t>(tape_.indices.size());
    tape_.indices.insert(tape_.indices.end(), values.begin(), values.end());
    return off;
  }
  void emit(const Instr& ins) { tape_.code.push_back(ins); }

  static Op interp_op(Interp code) {
    switch (code) {
      case Interp::Code0: return Op::Interp0;
      case Interp::Code1: return Op::Interp1;
      case Interp::Code2: return Op::Interp2;
      case Interp::Code4: return Op::Interp4;
      case Interp::Code4p: return Op::Interp4p;
    }
    return Op::Interp4;
  }

  // Coefficients for `n` elements of an interpolation op.
  uint32_t interp_coefficients(Interp code, const std::vector<double>& nom, const std::vector<double>& up,
                               const std::vector<double>& down) {
    const int nc = interp::coefficient_count(code);
    std::vector<double> c(nom.size() * static_cast<size_t>(nc));
    for (size_t i = 0; i < nom.size(); ++i) interp::fill_coefficients(code, nom[i], up[i], down[i], &c[i * static_cast<size_t>(nc)]);
    return add_consts(c);
  }

  uint32_t lower_sample(const model::Sample& s) {
    const uint32_t n = static_cast<uint32_t>(s.nominal.size());
    uint32_t v = constant(s.nominal);
    // Histosys first: deltas (or factors) computed against the nominal yields.
    for (const model::Modifier& m : s.modifiers) {
      if (m.kind != ModifierKind::HistoSys) continue;
      uint32_t out = work(n);
      uint32_t k = interp_coefficients(m.interp, s.nominal, m.hi_data, m.lo_data);
      emit({interp_op(m.interp), n, out, v, m.param, k, 0});
      v = out;
    }
    // Scalar factors: normfactor, lumi, normsys (nominal 1, hi/lo factors).
    std::optional<uint32_t> factor;
    auto multiply_factor = [&](uint32_t slot) {
      if (!factor) { factor = slot; return; }
      uint32_t out = work(1);
      emit({Op::Mul, 1, out, *factor, slot, 0, 0});
      factor = out;
    };
    for (const model::Modifier& m : s.modifiers) {
      if (m.kind == ModifierKind::NormFactor || m.kind == ModifierKind::Lumi) {
        multiply_factor(m.param);
      } else if (m.kind == ModifierKind::NormSys) {
        uint32_t out = work(1);
        uint32_t k = interp_coefficients(m.interp, {1.0}, {m.hi}, {m.lo});
        emit({interp_op(m.interp), 1, out, one(), m.param, k, 0});
        multiply_factor(out);
      }
    }
    if (factor) {
      uint32_t out = work(n);
      emit({Op::Scale, n, out, v, *factor, 0, 0});
      v = out;
    }
    // Per-bin factors: a contiguous parameter vector when every bin has its own consecutive
    // parameter (the common case), otherwise a gather through the index table.
    for (const model::Modifier& m : s.modifiers) {
      if (!m.per_bin()) continue;
      uint32_t out = work(n);
      bool contiguous = m.bin_params.size() == n && m.bin_params[0] >= 0;
      for (uint32_t i = 1; contiguous && i < n; ++i) contiguous = m.bin_params[i] == m.bin_params[0] + i;
      if (contiguous) {
        emit({Op::Mul, n, out, v, static_cast<uint32_t>(m.bin_params[0]), 0, 0});
      } else {
        std::vector<uint32_t> idx(n);
        for (uint32_t i = 0; i < n; ++i)
          idx[i] = m.bin_params[i] == model::kNoParameter ? kNoSlot : static_cast<uint32_t>(m.bin_params[i]);
        emit({Op::MulGather, n, out, v, 0, 0, add_indices(idx)});
      }
      v = out;
    }
    return v;
  }

  uint32_t lower_channel(const model::Channel& ch) {
    const uint32_t n = static_cast<uint32_t>(ch.nbins());
    std::optional<uint32_t> nu;
    for (const model::Sample& s : ch.samples) {
      uint32_t v = lower_sample(s);
      if (!nu) { nu = v; continue; }
      uint32_t out = work(n);
      emit({Op::Add, n, out, *nu, v, 0, 0});
      nu = out;
    }
    double lgamma_sum = 0;
    for (double obs : ch.observed) lgamma_sum += std::lgamma(obs + 1.0);
    uint32_t nll = work(1);
    emit({Op::PoissonMain, n, nll, *nu, constant(ch.observed), add_consts({lgamma_sum}), 0});
    tape_.channels.push_back({ch.name, *nu, n, nll});
    return nll;
  }

  void lower_constraints(std::vector<uint32_t>& terms) {
    std::vector<uint32_t> gauss_params, pois_params;
    std::vector<double> gauss_k, pois_k;
    double gauss_const = 0, pois_const = 0;
    const double half_log_2pi = 0.5 * std::log(2 * M_PI);
    for (const model::Constraint& c : model_.constraints) {
      if (c.kind == model::ConstraintKind::Gaussian) {
        gauss_params.push_back(c.param);
        gauss_k.push_back(c.aux);
        gauss_k.push_back(1.0 / c.sigma);
        gauss_const += std::log(c.sigma) + half_log_2pi;
      } else {
        pois_params.push_back(c.param);
        pois_k.push_back(c.aux);
        pois_k.push_back(c.tau);
        pois_const += std::lgamma(c.aux + 1.0);
      }
    }
    if (!gauss_params.empty()) {
      gauss_k.push_back(gauss_const);
      uint32_t out = work(1);
      emit({Op::GaussConstraint, static_cast<uint32_t>(gauss_params.size()), out, 0, 0, add_consts(gauss_k), add_indices(gauss_params)});
      terms.push_back(out);
    }
    if (!pois_params.empty()) {
      pois_k.push_back(pois_const);
      uint32_t out = work(1);
      emit({Op::PoissonConstraint, static_cast<uint32_t>(pois_params.size()), out, 0, 0, add_consts(pois_k), add_indices(pois_params)});
      terms.push_back(out);
    }
  }

  Tape finish() {
    tape_.work_end = work_end_;
    auto relocate = [&](uint32_t& off) {
      if (off & kConstTag) off = (off & ~kConstTag) + work_end_;
    };
    for (Instr& ins : tape_.code) {
      relocate(ins.a);
      relocate(ins.b);
      if (ins.out & kConstTag) throw Error(ErrorKind::Internal, "compiler", "instruction writes a constant slot");
    }
    for (ChannelInfo& c : tape_.channels) relocate(c.yields);
    tape_.arena_init.assign(work_end_, 0.0);
    tape_.arena_init.insert(tape_.arena_init.end(), const_arena_.begin(), const_arena_.end());
    return std::move(tape_);
  }

  const model::Model& model_;
  Tape tape_;
  uint32_t work_end_ = 0;
  std::vector<double> const_arena_;
  uint32_t one_slot_ = 0;
};

}  // namespace

Tape compile(const model::Model& model) { return Compiler(model).run(); }

}  // namespace hs3fit::tape
