#include "tape/compiler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_map>

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

size_t Tape::bytes() const {
  return code.size() * sizeof(Instr) + consts.size() * sizeof(double) + indices.size() * sizeof(uint32_t) +
         arena_size() * sizeof(double);
}

std::string Tape::summary() const {
  return fmt::format("{} ops, {} slots ({} parameters, {} work, {} constant), {} coefficients, {} shard{}", code.size(),
                     arena_size(), num_params, work_end - num_params, arena_size() - work_end, consts.size(), shards.size(),
                     shards.size() == 1 ? "" : "s");
}

namespace {

using model::Interp;
using model::ModifierKind;

// Constant slots are allocated in their own region during compilation and relocated after
// the work region once its size is known; kConstTag marks not-yet-relocated offsets.
constexpr uint32_t kConstTag = 0x80000000u;

// The batched op of an interpolation code in a multiplicative (factor) or additive (delta) role.
Op product_op(Interp code) {
  switch (code) {
    case Interp::Code0: return Op::InterpProduct0;
    case Interp::Code1: return Op::InterpProduct1;
    case Interp::Code2: return Op::InterpProduct2;
    case Interp::Code4: return Op::InterpProduct4;
    case Interp::Code4p: return Op::InterpProduct4p;
  }
  return Op::InterpProduct4;
}
Op sum_op(Interp code) {
  switch (code) {
    case Interp::Code0: return Op::InterpSum0;
    case Interp::Code2: return Op::InterpSum2;
    default: return Op::InterpSum4p;
  }
}

// A value computed inside a shard, named before slots are assigned.
struct Ref {
  enum Kind : uint8_t { Param, Segment, Product } kind = Param;
  uint32_t group = 0;  // batch of a Segment
  uint32_t index = 0;  // local parameter, segment or product
  bool operator<(const Ref& o) const { return std::tie(kind, group, index) < std::tie(o.kind, o.group, o.index); }
  bool operator==(const Ref& o) const { return kind == o.kind && group == o.group && index == o.index; }
};

template <class T>
struct VectorHash {
  size_t operator()(const std::vector<T>& v) const {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ v.size();
    for (const T& x : v) {
      uint64_t y;
      if constexpr (std::is_same_v<T, Ref>) y = (uint64_t(x.kind) << 56) ^ (uint64_t(x.group) << 32) ^ x.index;
      else y = static_cast<uint64_t>(x);
      h = (h ^ y) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 31;
    }
    return static_cast<size_t>(h);
  }
};

// The entries of one batched interpolation op, grouped in segments.
//   NormFactor:  one segment per distinct set of normsys entries of a sample (InterpProduct)
//   HistoDelta:  one segment per sample·bin (InterpSum; additive histosys codes)
//   HistoFactor: one segment per sample·bin with multiplicative histosys (InterpProduct)
enum class Role { NormFactor, HistoDelta, HistoFactor };
struct Batch {
  Interp code = Interp::Code4;
  Role role = Role::NormFactor;
  std::vector<uint32_t> param;     // local parameter of each entry
  std::vector<double> coeff[8];    // coeff[c][e]: coefficient c of entry e (c < coefficient_count(code))
  std::vector<uint32_t> seg = {0};
  std::unordered_map<std::vector<uint64_t>, uint32_t, VectorHash<uint64_t>> dedup;  // NormFactor: entry set → segment
  uint32_t out = 0, store = 0;
  uint32_t segments() const { return static_cast<uint32_t>(seg.size() - 1); }
};

uint64_t channel_units(const model::Channel& ch) {
  uint64_t u = 0;
  for (const auto& s : ch.samples) u += ch.nbins() * (1 + s.modifiers.size());
  return u;
}

class Compiler {
 public:
  Compiler(const model::Model& m, const CompileOptions& o) : local_of_(m.parameters.size(), kNoSlot), model_(m), opt_(o) {
    tape_.num_params = static_cast<uint32_t>(m.parameters.size());
    work_end_ = tape_.num_params;
  }

  Tape run() {
    // Shards: consecutive channels of about `target` units each.
    uint64_t total = 0;
    size_t coefficients = 0;  // an upper bound of Tape::consts (before pruning and sharing)
    for (const auto& ch : model_.channels) {
      total += channel_units(ch);
      for (const model::Sample& s : ch.samples)
        for (const model::Modifier& m : s.modifiers)
          if (m.kind == ModifierKind::HistoSys) coefficients += ch.nbins() * static_cast<size_t>(interp::coefficient_count(m.interp));
          else if (m.kind == ModifierKind::NormSys) coefficients += static_cast<size_t>(interp::coefficient_count(m.interp));
    }
    tape_.consts.reserve(coefficients + 4 * model_.constraints.size() + 2 * model_.channels.size() + 8);
    const uint64_t max_shards = std::max(1u, opt_.max_shards);
    const uint64_t target = std::max<uint64_t>(opt_.shard_units, (total + max_shards - 1) / max_shards);
    size_t begin = 0;
    uint64_t acc = 0;
    for (size_t c = 0; c < model_.channels.size(); ++c) {
      acc += channel_units(model_.channels[c]);
      if (acc >= target || c + 1 == model_.channels.size()) {
        channel_shard(begin, c + 1, acc);
        begin = c + 1;
        acc = 0;
      }
    }
    constraint_shard();
    tape_.result = work(1);
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

  // ---- shard state ------------------------------------------------------------------------
  std::vector<uint32_t> local_of_;  // global parameter → local slot (kNoSlot: not in this shard)
  std::vector<uint32_t> locals_;    // global parameter of each local slot
  std::vector<Batch> batches_;
  uint32_t batch_of_[5][3] = {};  // [Interp][Role] → index in batches_ (kNoSlot: none yet); see reset_shard
  std::vector<std::vector<Ref>> products_;
  std::unordered_map<std::vector<Ref>, uint32_t, VectorHash<Ref>> product_of_;
  std::vector<const model::Modifier*> binwise_;  // of the channel being lowered
  size_t histo_entries_ = 0;                     // histosys sample·bins of the shard (reserve hint)
  std::vector<size_t> binwise_begin_;

  void reset_shard() {
    for (uint32_t g : locals_) local_of_[g] = kNoSlot;
    locals_.clear();
    batches_.clear();
    for (auto& row : batch_of_)
      for (uint32_t& b : row) b = kNoSlot;
    products_.clear();
    product_of_.clear();
  }

  uint32_t local(uint32_t global) {
    if (local_of_[global] == kNoSlot) {
      local_of_[global] = static_cast<uint32_t>(locals_.size());
      locals_.push_back(global);
    }
    return local_of_[global];
  }
  Ref param_ref(uint32_t global) { return {Ref::Param, 0, local(global)}; }

  uint32_t batch(Interp code, Role role, size_t num_sb) {
    uint32_t& known = batch_of_[static_cast<int>(code)][static_cast<int>(role)];
    if (known != kNoSlot) return known;
    known = static_cast<uint32_t>(batches_.size());
    batches_.emplace_back();
    Batch& B = batches_.back();
    B.code = code;
    B.role = role;
    if (role == Role::HistoDelta) B.seg.assign(num_sb + 1, 0);
    if (role != Role::NormFactor) {  // room for every histosys bin of the shard (an upper bound)
      B.param.reserve(histo_entries_);
      for (int c = 0; c < interp::coefficient_count(code); ++c) B.coeff[c].reserve(histo_entries_);
    }
    return static_cast<uint32_t>(batches_.size() - 1);
  }

  void add_entry(Batch& B, uint32_t param_local, const double* c) {
    B.param.push_back(param_local);
    const int nc = interp::coefficient_count(B.code);
    for (int i = 0; i < nc; ++i) B.coeff[i].push_back(c[i]);
  }

  // The scalar factor of a sample (normfactors, lumi, normsys): nothing, one value, or a product.
  // A sample's normsys entries of one code form one InterpProduct segment; samples with the
  // same entries (parameters and coefficients) share it.
  std::optional<Ref> sample_factor(const model::Sample& s) {
    std::vector<Ref> f;
    std::vector<std::pair<uint32_t, std::vector<uint64_t>>> keys;  // batch → entry key
    for (const model::Modifier& m : s.modifiers) {
      if (m.kind == ModifierKind::NormFactor || m.kind == ModifierKind::Lumi) {
        f.push_back(param_ref(m.param));
      } else if (m.kind == ModifierKind::NormSys) {
        // F ≡ 1 for hi = lo = 1 in every code: nothing to multiply.
        if (m.hi == 1.0 && m.lo == 1.0) {
          ++tape_.folding.pruned_modifiers;
          continue;
        }
        const uint32_t b = batch(m.interp, Role::NormFactor, 0);
        auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& k) { return k.first == b; });
        if (it == keys.end()) it = keys.insert(keys.end(), {b, {}});
        double c[8];
        interp::fill_coefficients(m.interp, 1.0, m.hi, m.lo, c);
        it->second.push_back(local(m.param));
        for (int i = 0; i < interp::coefficient_count(m.interp); ++i) {
          uint64_t bits;
          std::memcpy(&bits, &c[i], sizeof bits);
          it->second.push_back(bits);
        }
      }
    }
    for (auto& [b, key] : keys) {
      Batch& B = batches_[b];
      const size_t nc = static_cast<size_t>(interp::coefficient_count(B.code));
      auto [it, inserted] = B.dedup.try_emplace(key, B.segments());
      if (inserted) {
        for (size_t i = 0; i < key.size(); i += nc + 1) {
          double c[8];
          std::memcpy(c, &key[i + 1], nc * sizeof(double));
          add_entry(B, static_cast<uint32_t>(key[i]), c);
        }
        B.seg.push_back(static_cast<uint32_t>(B.param.size()));
      } else {
        tape_.folding.shared_entries += key.size() / (nc + 1);
      }
      f.push_back({Ref::Segment, b, it->second});
    }
    if (f.empty()) return std::nullopt;
    if (f.size() == 1) return f[0];
    std::sort(f.begin(), f.end());
    auto [it, inserted] = product_of_.try_emplace(f, static_cast<uint32_t>(products_.size()));
    if (inserted) products_.push_back(f);
    else ++tape_.folding.shared_products;
    return Ref{Ref::Product, 0, it->second};
  }

  void channel_shard(size_t c_begin, size_t c_end, uint64_t units) {
    reset_shard();
    histo_entries_ = 0;
    for (size_t ci = c_begin; ci < c_end; ++ci)
      for (const model::Sample& s : model_.channels[ci].samples)
        for (const model::Modifier& m : s.modifiers)
          if (m.kind == ModifierKind::HistoSys) histo_entries_ += model_.channels[ci].nbins();
    Shard sh;
    sh.cost = units;
    sh.code_begin = static_cast<uint32_t>(tape_.code.size());

    // Sample·bins (bin-major: channel, bin, sample) that depend on parameters.
    std::vector<double> sb_nominal;
    std::vector<uint32_t> sb_factor_offsets = {0};
    std::vector<Ref> sb_factors;
    std::vector<uint32_t> bin_offsets = {0};  // sample·bins of each bin
    std::vector<double> bin_constant, observed;
    double lgamma_sum = 0;
    struct PendingChannel { size_t channel; uint32_t first_bin; };
    std::vector<PendingChannel> channels;
    std::vector<Ref> fac;

    for (size_t ci = c_begin; ci < c_end; ++ci) {
      const model::Channel& ch = model_.channels[ci];
      const uint32_t nb = static_cast<uint32_t>(ch.nbins());
      channels.push_back({ci, static_cast<uint32_t>(observed.size())});
      std::vector<std::optional<Ref>> factor(ch.samples.size());
      for (size_t s = 0; s < ch.samples.size(); ++s) factor[s] = sample_factor(ch.samples[s]);
      // Per sample, the modifiers that act bin by bin (histosys, per-bin factors), in order:
      // the scalar ones are all in `factor`, and the bin loop needs only these.
      binwise_.clear();
      binwise_begin_.assign(1, 0);
      for (const model::Sample& sample : ch.samples) {
        for (const model::Modifier& m : sample.modifiers)
          if (m.kind == ModifierKind::HistoSys || m.per_bin()) binwise_.push_back(&m);
        binwise_begin_.push_back(binwise_.size());
      }
      for (uint32_t b = 0; b < nb; ++b) {
        double constant_yield = 0;
        for (size_t s = 0; s < ch.samples.size(); ++s) {
          const model::Sample& sample = ch.samples[s];
          const double nom = sample.nominal[b];
          const model::Modifier* const* const mods_begin = binwise_.data() + binwise_begin_[s];
          const model::Modifier* const* const mods_end = binwise_.data() + binwise_begin_[s + 1];
          // Histosys bins with hi = lo = nominal contribute Δ ≡ 0 (or F ≡ 1) in every code.
          bool has_delta = false;
          for (auto mp = mods_begin; mp != mods_end; ++mp)
            if (const model::Modifier& m = **mp; m.kind == ModifierKind::HistoSys && !model::is_multiplicative(m.interp) &&
                !(m.hi_data[b] == nom && m.lo_data[b] == nom))
              has_delta = true;
          fac.clear();
          if (factor[s]) fac.push_back(*factor[s]);
          uint32_t histo_factor_batch = kNoSlot;
          for (auto mp = mods_begin; mp != mods_end; ++mp) {
            const model::Modifier& m = **mp;
            if (m.kind == ModifierKind::HistoSys) {
              if (m.hi_data[b] == nom && m.lo_data[b] == nom) {
                ++tape_.folding.pruned_modifiers;
                continue;
              }
              if (nom == 0 && !has_delta) continue;  // a zero yield stays zero
              double c[8];
              interp::fill_coefficients(m.interp, nom, m.hi_data[b], m.lo_data[b], c);
              if (model::is_multiplicative(m.interp)) {
                const uint32_t hb = batch(m.interp, Role::HistoFactor, sb_nominal.size());
                if (histo_factor_batch != kNoSlot && histo_factor_batch != hb) {
                  // a second multiplicative code on one sample·bin: close the first segment
                  batches_[histo_factor_batch].seg.push_back(static_cast<uint32_t>(batches_[histo_factor_batch].param.size()));
                  fac.push_back({Ref::Segment, histo_factor_batch, batches_[histo_factor_batch].segments() - 1});
                }
                histo_factor_batch = hb;
                add_entry(batches_[hb], local(m.param), c);
              } else {
                add_entry(batches_[batch(m.interp, Role::HistoDelta, sb_nominal.size())], local(m.param), c);
              }
            } else if (m.per_bin()) {
              const int64_t p = m.bin_params[b];
              if (p != model::kNoParameter) fac.push_back(param_ref(static_cast<uint32_t>(p)));
            }
          }
          if (histo_factor_batch != kNoSlot) {
            Batch& H = batches_[histo_factor_batch];
            H.seg.push_back(static_cast<uint32_t>(H.param.size()));
            fac.push_back({Ref::Segment, histo_factor_batch, H.segments() - 1});
          }
          if (nom == 0 && !has_delta) {
            ++tape_.folding.constant_yields;
            continue;
          }
          if (fac.empty() && !has_delta) {
            constant_yield += nom;
            ++tape_.folding.constant_yields;
            continue;
          }
          sb_nominal.push_back(nom);
          sb_factors.insert(sb_factors.end(), fac.begin(), fac.end());
          sb_factor_offsets.push_back(static_cast<uint32_t>(sb_factors.size()));
          for (Batch& B : batches_)
            if (B.role == Role::HistoDelta) B.seg.push_back(static_cast<uint32_t>(B.param.size()));
        }
        bin_constant.push_back(constant_yield);
        bin_offsets.push_back(static_cast<uint32_t>(sb_nominal.size()));
      }
      for (double obs : ch.observed) lgamma_sum += stirling_remainder(obs);  // see PoissonMain
      observed.insert(observed.end(), ch.observed.begin(), ch.observed.end());
    }

    // Slots: local parameters, every op's output (these have adjoints), then the entries'
    // derivative data (written by the forward sweep, never accumulated into).
    const uint32_t n_sb = static_cast<uint32_t>(sb_nominal.size());
    const uint32_t n_bins = static_cast<uint32_t>(observed.size());
    sh.work_begin = work(locals_.size());
    sh.num_params = static_cast<uint32_t>(locals_.size());
    sh.params = add_indices(locals_);
    for (Batch& B : batches_) B.out = work(B.role == Role::HistoDelta ? n_sb : B.segments());
    const uint32_t products_out = work(products_.size());
    const bool sb_product = n_sb > 0 && !sb_factors.empty();
    const uint32_t nu_sb_out = sb_product ? work(n_sb) : kNoSlot;
    const uint32_t nu = work(n_bins);
    sh.result = work(1);
    sh.adjoint_end = work_end_;
    for (Batch& B : batches_) B.store = work(B.param.size());
    auto slot = [&](const Ref& r) -> uint32_t {
      switch (r.kind) {
        case Ref::Param: return sh.work_begin + r.index;
        case Ref::Segment: return batches_[r.group].out + r.index;
        case Ref::Product: return products_out + r.index;
      }
      return kNoSlot;
    };

    // 1. Interpolated factors (normsys per sample; multiplicative histosys) and per-sample products.
    for (const Batch& B : batches_)
      if (B.role != Role::HistoDelta) emit_interp(B, product_op(B.code), kNoSlot, sh.work_begin);
    if (!products_.empty()) {
      std::vector<uint32_t> idx = {0};
      std::vector<uint32_t> list;
      for (const auto& p : products_) {
        for (const Ref& r : p) list.push_back(slot(r));
        idx.push_back(static_cast<uint32_t>(list.size()));
        tape_.max_segment = std::max<uint32_t>(tape_.max_segment, static_cast<uint32_t>(p.size()));
      }
      idx.insert(idx.end(), list.begin(), list.end());
      emit({Op::Product, static_cast<uint32_t>(products_.size()), products_out, kNoSlot, 0, 0, add_indices(idx)});
    }
    // 2. Sample·bin yields: (nominal + Σ histosys deltas) × Π factors.
    uint32_t base = constant(sb_nominal);
    for (const Batch& B : batches_) {
      if (B.role != Role::HistoDelta) continue;
      emit_interp(B, sum_op(B.code), base, sh.work_begin);
      base = B.out;
    }
    uint32_t nu_sb = base;
    if (sb_product) {
      nu_sb = nu_sb_out;
      std::vector<uint32_t> idx = sb_factor_offsets;
      for (const Ref& r : sb_factors) idx.push_back(slot(r));
      for (uint32_t i = 0; i < n_sb; ++i)
        tape_.max_segment = std::max(tape_.max_segment, sb_factor_offsets[i + 1] - sb_factor_offsets[i]);
      emit({Op::Product, n_sb, nu_sb, base, 0, 0, add_indices(idx)});
    }
    // 3. Bin yields ν_b = folded constants + Σ samples; 4. the Poisson terms.
    emit({Op::SegmentSum, n_bins, nu, constant(bin_constant), nu_sb, 0, add_indices(bin_offsets)});
    emit({Op::PoissonMain, n_bins, sh.result, nu, constant(observed), add_consts({lgamma_sum}), 0});

    for (const PendingChannel& pc : channels)
      tape_.channels.push_back({model_.channels[pc.channel].name, nu + pc.first_bin,
                                static_cast<uint32_t>(model_.channels[pc.channel].nbins()),
                                static_cast<uint32_t>(tape_.shards.size())});
    sh.work_end = work_end_;
    sh.code_end = static_cast<uint32_t>(tape_.code.size());
    tape_.shards.push_back(sh);
  }

  // One batched interpolation op: segment offsets then θ slots in indices, coefficients
  // structure-of-arrays in consts.
  // Written in place at the end of consts and indices (no temporaries).
  void emit_interp(const Batch& B, Op op, uint32_t a, uint32_t param_base) {
    const size_t m = B.param.size();
    const size_t nc = static_cast<size_t>(interp::coefficient_count(B.code));
    const uint32_t k = static_cast<uint32_t>(tape_.consts.size());
    for (size_t c = 0; c < nc; ++c) tape_.consts.insert(tape_.consts.end(), B.coeff[c].begin(), B.coeff[c].end());
    const uint32_t idx = static_cast<uint32_t>(tape_.indices.size());
    tape_.indices.resize(tape_.indices.size() + B.seg.size() + m);
    uint32_t* out = tape_.indices.data() + idx;
    std::copy(B.seg.begin(), B.seg.end(), out);
    out += B.seg.size();
    for (size_t e = 0; e < m; ++e) out[e] = param_base + B.param[e];
    uint32_t longest = tape_.max_segment;
    for (uint32_t s = 0; s < B.segments(); ++s) longest = std::max(longest, B.seg[s + 1] - B.seg[s]);
    tape_.max_segment = longest;
    emit({op, B.segments(), B.out, a, B.store, k, idx});
  }

  // lnΓ(a+1) − a ln a + a, the part of a Poisson constraint's normalisation that is left after
  // the stable rewriting below; Stirling's series for large a, where the terms would cancel.
  static double stirling_remainder(double a) {
    if (a <= 0) return 0.0;
    if (a < 30) return std::lgamma(a + 1.0) - a * std::log(a) + a;
    const double r = 1.0 / a, r2 = r * r;
    return 0.5 * std::log(2 * M_PI * a) + r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680)));
  }

  void constraint_shard() {
    reset_shard();
    std::vector<uint32_t> gauss, pois;
    std::vector<double> g_k, g_inv, p_aux, p_ratio, p_tau;
    double gauss_const = 0, pois_const = 0;
    const double half_log_2pi = 0.5 * std::log(2 * M_PI);
    for (const model::Constraint& c : model_.constraints) {
      if (c.kind == model::ConstraintKind::Gaussian) {
        gauss.push_back(local(c.param));
        g_k.push_back(c.aux);
        g_inv.push_back(1.0 / c.sigma);
        gauss_const += std::log(c.sigma) + half_log_2pi;
      } else {
        // θτ − a ln(θτ) + lnΓ(a+1) = a(q − ln(1+q)) + [lnΓ(a+1) − a ln a + a] with q = θτ/a − 1:
        // the same value without the cancellation of terms of size a ln a (shapesys with tiny
        // relative errors have a = τ ~ 1e11). For a = 0 the term is θτ.
        pois.push_back(local(c.param));
        p_aux.push_back(c.aux);
        p_ratio.push_back(c.aux > 0 ? c.tau / c.aux : c.tau);
        p_tau.push_back(c.tau);
        pois_const += stirling_remainder(c.aux);
      }
    }
    if (gauss.empty() && pois.empty()) return;
    Shard sh;
    sh.cost = model_.constraints.size();
    sh.code_begin = static_cast<uint32_t>(tape_.code.size());
    sh.work_begin = work(locals_.size());
    sh.num_params = static_cast<uint32_t>(locals_.size());
    sh.params = add_indices(locals_);
    std::vector<uint32_t> terms;
    auto lower = [&](Op op, std::vector<uint32_t>& params, std::vector<double> k, double cst) {
      if (params.empty()) return;
      for (uint32_t& p : params) p += sh.work_begin;
      k.push_back(cst);
      const uint32_t out = work(1);
      emit({op, static_cast<uint32_t>(params.size()), out, 0, 0, add_consts(k), add_indices(params)});
      terms.push_back(out);
    };
    g_k.insert(g_k.end(), g_inv.begin(), g_inv.end());
    lower(Op::GaussConstraint, gauss, g_k, gauss_const);
    p_aux.insert(p_aux.end(), p_ratio.begin(), p_ratio.end());
    p_aux.insert(p_aux.end(), p_tau.begin(), p_tau.end());
    lower(Op::PoissonConstraint, pois, p_aux, pois_const);
    if (terms.size() == 1) {
      sh.result = terms[0];
    } else {
      sh.result = work(1);
      emit({Op::Sum, static_cast<uint32_t>(terms.size()), sh.result, 0, 0, 0, add_indices(terms)});
    }
    sh.work_end = sh.adjoint_end = work_end_;
    sh.code_end = static_cast<uint32_t>(tape_.code.size());
    tape_.shards.push_back(sh);
  }

  Tape finish() {
    tape_.work_end = work_end_;
    // consts was reserved for every coefficient before pruning and sharing: give back a
    // large excess (a tape lives as long as its evaluator).
    if (tape_.consts.capacity() > tape_.consts.size() + tape_.consts.size() / 2) tape_.consts.shrink_to_fit();
    auto relocate = [&](uint32_t& off) {
      if (off != kNoSlot && (off & kConstTag)) off = (off & ~kConstTag) + work_end_;
    };
    for (Instr& ins : tape_.code) {
      relocate(ins.a);
      relocate(ins.b);
      if (ins.out & kConstTag) throw Error(ErrorKind::Internal, "compiler", "instruction writes a constant slot");
    }
    tape_.arena_init.assign(work_end_, 0.0);
    tape_.arena_init.insert(tape_.arena_init.end(), const_arena_.begin(), const_arena_.end());
    if (tape_.arena_init.size() >= kConstTag) throw Error(ErrorKind::Input, "compiler", "model too large for the tape (2^31 slots)");
    return std::move(tape_);
  }

  const model::Model& model_;
  CompileOptions opt_;
  Tape tape_;
  uint32_t work_end_ = 0;
  std::vector<double> const_arena_;
};

}  // namespace

Tape compile(const model::Model& model) { return compile(model, CompileOptions{}); }
Tape compile(const model::Model& model, const CompileOptions& options) { return Compiler(model, options).run(); }

}  // namespace hs3fit::tape
