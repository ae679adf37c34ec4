#include "hs3/hs3_histfactory.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "hs3/hs3_document.h"
#include "json/json_reader.h"

namespace hs3fit::hs3 {

namespace {

using json::Node;
using model::ConstraintKind;
using model::Interp;
using model::ModifierKind;

// Every distribution type of HS3 v0.2 and the ROOT/pyhs3 extensions seen in real files
// (SPEC §12). A type outside this list is a typo; one inside it but not histfactory_dist or a
// Gaussian aux constraint is valid HS3 that this reader does not evaluate yet.
const std::set<std::string> kKnownDistributionTypes = {
    "gaussian_dist", "normal_dist", "generalized_normal_dist", "poisson_dist", "exponential_dist", "lognormal_dist",
    "uniform_dist", "argus_dist", "ARGUS_dist", "chebychev_dist", "polynomial_dist", "crystalball_dist",
    "crystalball_doublesided_dist", "relativistic_breit_wigner_dist", "decay_dist", "landau_dist",
    "multivariate_normal_dist", "barlow_beeston_lite_poisson_constraint_dist", "generic_dist", "histfactory_dist",
    "mixture_dist", "product_dist", "efficiency_product_pdf_dist", "density_function_dist",
    "log_density_function_dist", "rate_extended_dist", "rate_density_dist", "bincounts_extended_dist",
    "bincounts_density_dist", "mixture_model", "mixture_resolution_model", "fft_conv_pdf", "fft_convolution_dist",
    "weighted_sum_dist", "bernstein_dist", "bifurkated_gaussian_dist", "bifurgauss_dist", "johnson_dist",
    "gamma_dist", "beta_dist", "cauchy_dist", "breitwigner_dist", "voigtian_dist", "CMS::process_normalization",
    "CMS::fast_vertical_interpolation_dist", "CMS::asymmetric_gaussian_dist", "interpolation0d", "step_dist",
    "power_sum_dist", "legacy_exp_poly_dist", "projected_dist", "binsampling_dist"};

struct ParamInfo {
  uint32_t index;
  ModifierKind kind;
};

class Builder {
 public:
  Builder(const Node& root, const Options& opt) : root_(root), opt_(opt) {}

  Result build() {
    if (auto d = root_.get("distributions"); d && d->is_object())
      d->fail("legacy HS3 layout (distributions as an object, written by ROOT < 6.30): not supported; re-export it with ROOT >= 6.30");
    Node meta = root_.at("metadata");
    std::string version = meta.at("hs3_version").as_string();
    if (version.empty() || version[0] != '0')
      spdlog::warn("{}/hs3_version: '{}' is not an HS3 0.x version; reading it as 0.2", meta.pointer(), version);
    if (auto packages = meta.get("packages"); packages && packages->is_array())
      for (const Node& p : packages->elements())
        if (p.is_object() && p.get("name") && p.at("name").is_string()) {
          const std::string producer = p.at("name").as_string();
          if (producer == "ROOT") root_producer_ = true;
          if (producer == "ROOT" || producer == "hs3fit") relative_shapesys_ = true;  // both write relative vals
        }

    index("distributions", distributions_);
    index("data", data_);
    index("likelihoods", likelihoods_);
    index("parameter_points", points_);
    index("domains", domains_);
    index("analyses", analyses_);
    for (const auto& [name, node] : distributions_) check_distribution_type(node);
    validate_all_histfactory();

    Result res;
    for (const auto& [name, node] : analyses_) res.analyses.push_back(name);
    for (const auto& [name, node] : likelihoods_) res.likelihoods.push_back(name);
    std::vector<std::string> chosen = choose_likelihoods(res.selection);
    for (const std::string& lname : chosen) lower_likelihood(likelihoods_.at(lname));
    finish_staterror();
    apply_points_and_domains();
    res.model = std::move(model_);
    return res;
  }

 private:
  // Name → node for a top-level array of named objects, with duplicate and type checks.
  void index(const char* key, std::map<std::string, Node>& out) {
    auto arr = root_.get(key);
    if (!arr) return;
    for (const Node& item : arr->elements()) {
      const std::string name = item.at("name").as_string();
      if (!out.emplace(name, item).second) item.at("name").fail(std::string("duplicate name '") + name + "' in " + key);
    }
  }

  void check_distribution_type(const Node& dist) {
    Node type = dist.at("type");
    const std::string t = type.as_string();
    if (!kKnownDistributionTypes.count(t)) type.fail("unknown distribution type '" + t + "'");
  }

  // Problems anywhere in the document are errors, not only in the likelihood being fitted:
  // every histfactory_dist's arrays must match its bins, and so must every binned dataset a
  // likelihood pairs with one.
  void validate_all_histfactory() {
    for (const auto& [name, dist] : distributions_) {
      if (dist.at("type").as_string() != "histfactory_dist") continue;
      const size_t nb = bins_of_axes(dist.at("axes"));
      for (const Node& s : dist.at("samples").elements()) {
        Node sdata = s.at("data");
        bin_array(sdata.at("contents"), nb, "contents");
        if (auto e = sdata.get("errors")) bin_array(*e, nb, "errors");
      }
    }
    for (const auto& [lname, lik] : likelihoods_) {
      auto dists = lik.at("distributions").elements();
      auto data = lik.at("data").elements();
      for (size_t i = 0; i < dists.size() && i < data.size(); ++i) {
        if (!dists[i].is_string() || !data[i].is_string()) continue;
        auto d = distributions_.find(dists[i].as_string());
        auto x = data_.find(data[i].as_string());
        if (d == distributions_.end() || x == data_.end() || d->second.at("type").as_string() != "histfactory_dist") continue;
        if (!x->second.get("type") || x->second.at("type").as_string() != "binned") continue;
        Node contents = x->second.at("contents");
        std::vector<double> counts = bin_array(contents, bins_of_axes(d->second.at("axes")), "contents");
        for (size_t b = 0; b < counts.size(); ++b)
          if (counts[b] < 0) throw_input_error(contents.pointer() + "/" + std::to_string(b), "counts must be >= 0, found " + std::to_string(counts[b]));
      }
    }
  }

  [[noreturn]] void unsupported(const Node& dist, const std::string& role) {
    dist.at("type").fail("distribution type '" + dist.at("type").as_string() + "' (" + role +
                         ") is valid HS3 but not supported by this hs3fit build yet: it reads histfactory_dist "
                         "channels with Gaussian aux constraints");
  }

  std::vector<std::string> choose_likelihoods(std::string& selection) {
    if (opt_.likelihoods.size() == 1 && opt_.likelihoods[0] == "all" && !likelihoods_.count("all")) {
      std::vector<std::string> all;  // every likelihood, in document order
      for (const Node& l : root_.at("likelihoods").elements()) all.push_back(l.at("name").as_string());
      selection = "likelihoods " + join(all);
      return all;
    }
    if (!opt_.likelihoods.empty()) {
      for (const std::string& l : opt_.likelihoods)
        if (!likelihoods_.count(l)) throw Error(ErrorKind::Usage, "--likelihood", "no likelihood named '" + l + "'" + listing(likelihoods_));
      selection = "likelihoods " + join(opt_.likelihoods);
      return opt_.likelihoods;
    }
    if (!analyses_.empty()) {
      const Node* analysis = nullptr;
      if (opt_.analysis.empty()) {
        analysis = &analyses_.at(first_name("analyses"));
      } else {
        auto it = analyses_.find(opt_.analysis);
        if (it == analyses_.end()) throw Error(ErrorKind::Usage, "--analysis", "no analysis named '" + opt_.analysis + "'" + listing(analyses_));
        analysis = &it->second;
      }
      analysis_ = *analysis;
      Node lnode = analysis->at("likelihood");
      const std::string lname = lnode.as_string();
      if (!likelihoods_.count(lname)) lnode.fail("unknown likelihood '" + lname + "'");
      for (const char* key : {"parameters_of_interest", "parameter_of_interest", "pois"})
        if (auto pois = analysis->get(key); pois && pois->is_array() && pois->size() > 0) poi_name_ = pois->elements()[0].as_string();
      selection = "analysis " + analysis->at("name").as_string() + " (likelihood " + lname + ")";
      return {lname};
    }
    if (likelihoods_.empty()) root_.fail(nothing_to_fit(root_));
    const std::string first = first_name("likelihoods");
    selection = "likelihood " + first;
    return {first};
  }

  std::string first_name(const char* key) { return root_.at(key).elements().at(0).at("name").as_string(); }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  static std::string listing(const std::map<std::string, Node>& m) {
    std::vector<std::string> names;
    for (const auto& [n, node] : m) names.push_back(n);
    return names.empty() ? std::string() : " (available: " + join(names) + ")";
  }

  void lower_likelihood(const Node& lik) {
    Node dists = lik.at("distributions");
    Node data = lik.at("data");
    if (dists.size() != data.size())
      data.fail(std::to_string(data.size()) + " data entries for " + std::to_string(dists.size()) + " distributions (one each expected)");
    auto dlist = dists.elements();
    auto datalist = data.elements();
    for (size_t i = 0; i < dlist.size(); ++i) {
      const std::string dname = dlist[i].as_string();
      auto it = distributions_.find(dname);
      if (it == distributions_.end()) dlist[i].fail("unknown distribution '" + dname + "'");
      if (it->second.at("type").as_string() != "histfactory_dist") unsupported(it->second, "paired with data");
      if (!datalist[i].is_string()) datalist[i].fail("inline data is only supported for unbinned distributions; expected a data name");
      const std::string data_name = datalist[i].as_string();
      auto dit = data_.find(data_name);
      if (dit == data_.end()) datalist[i].fail("unknown data '" + data_name + "'");
      const std::string lname = lik.at("name").as_string();
      if (auto prev = lowered_.find(dname); prev != lowered_.end()) {
        if (prev->second.first == lname) dlist[i].fail("distribution '" + dname + "' appears twice in likelihood '" + lname + "'");
        dlist[i].fail("likelihoods '" + prev->second.first + "' (data '" + prev->second.second + "') and '" + lname + "' (data '" + data_name +
                      "') share the distribution '" + dname + "': combining them would count that channel twice against " +
                      (prev->second.second == data_name ? "the same data" : "different data") +
                      "; pick one with --likelihood NAME (likelihoods with disjoint distributions can be combined)");
      }
      lowered_.emplace(dname, std::make_pair(lname, data_name));
      lower_channel(it->second, dit->second);
    }
    if (auto aux = lik.get("aux_distributions"))
      for (const Node& a : aux->elements()) {
        const std::string aname = a.as_string();
        auto it = distributions_.find(aname);
        if (it == distributions_.end()) a.fail("unknown distribution '" + aname + "'");
        lower_aux_constraint(it->second);
      }
  }

  // ---- parameters ---------------------------------------------------------------------------

  uint32_t parameter(const std::string& name, ModifierKind kind, double init, double lo, double hi) {
    auto it = params_.find(name);
    if (it != params_.end()) return it->second.index;
    model::Parameter p;
    p.name = name;
    p.init = init;
    p.lo = lo;
    p.hi = hi;
    p.step = kind == ModifierKind::NormFactor || kind == ModifierKind::ShapeFactor ? 0.1 : 1.0;
    model_.parameters.push_back(p);
    const uint32_t idx = static_cast<uint32_t>(model_.parameters.size() - 1);
    params_.emplace(name, ParamInfo{idx, kind});
    return idx;
  }

  void constrain(uint32_t param, ConstraintKind kind, double aux, double width_or_tau, const std::string& where) {
    if (constrained_.count(param)) {
      const model::Constraint& c = model_.constraints[constrained_.at(param)];
      const bool same = c.kind == kind && c.aux == aux && (kind == ConstraintKind::Gaussian ? c.sigma == width_or_tau : c.tau == width_or_tau);
      if (!same)
        throw_input_error(where, "parameter '" + model_.parameters[param].name + "' is constrained twice, differently");
      return;  // constraints are counted once per likelihood
    }
    model::Constraint c;
    c.kind = kind;
    c.param = param;
    c.aux = aux;
    if (kind == ConstraintKind::Gaussian) {
      c.sigma = width_or_tau;
      model_.parameters[param].step = width_or_tau;
    } else {
      c.tau = width_or_tau;
      model_.parameters[param].step = 1 / std::sqrt(width_or_tau);
    }
    constrained_[param] = model_.constraints.size();
    model_.constraints.push_back(c);
  }

  // ---- histfactory_dist -----------------------------------------------------------------------

  static size_t bins_of_axes(const Node& axes) {
    size_t total = 1;
    for (const Node& ax : axes.elements()) {
      size_t n = 0;
      if (auto nb = ax.get("nbins")) {
        double v = nb->as_number();
        if (!(v >= 1) || v != std::floor(v) || v > 1e8) nb->fail("expected a positive whole number of bins");
        n = static_cast<size_t>(v);
      } else if (auto edges = ax.get("edges")) {
        if (edges->size() < 2) edges->fail("at least 2 edges expected");
        n = edges->size() - 1;
      } else {
        ax.fail("axis needs 'nbins' (with min/max) or 'edges'");
      }
      if (total > 100000000 / n) ax.fail("too many bins");
      total *= n;
    }
    return total;
  }

  static std::vector<double> bin_array(const Node& node, size_t nbins, const char* what) {
    if (!node.is_array()) node.fail(std::string("expected array of numbers (") + what + ")");
    if (node.size() != nbins)
      node.fail(std::string(what) + ": " + std::to_string(node.size()) + " values, " + std::to_string(nbins) + " bins expected");
    return node.as_numbers();
  }

  Interp parse_interp(const Node& node, bool normsys) {
    auto by_name = [&](const std::string& s) -> std::optional<Interp> {
      if (s == "lin" || s == "code0" || s == "0") return Interp::Code0;
      if (s == "log" || s == "exp" || s == "code1" || s == "1") return Interp::Code1;
      if (s == "parabolic" || s == "code2" || s == "2" || s == "3") return Interp::Code2;
      if (s == "poly6" || s == "code4p") return Interp::Code4p;
      if (s == "code4" || s == "5") return Interp::Code4;
      if (s == "4") return normsys ? Interp::Code4 : Interp::Code4p;  // ROOT's per-class code 4
      return std::nullopt;
    };
    if (node.is_string()) {
      if (auto c = by_name(node.as_string())) return *c;
    } else if (node.is_number()) {
      double v = node.as_number();
      if (v == std::floor(v))
        if (auto c = by_name(std::to_string(static_cast<int>(v)))) return *c;
    } else if (node.is_object()) {
      const std::string type = node.at("type").as_string(), in = node.at("in").as_string();
      std::string out = in;
      if (auto o = node.get("out"); o && !o->is_null()) out = o->as_string();
      if (type == "add" && in == "poly1" && out == "poly1") return Interp::Code0;
      if (type == "mult" && in == "exp" && out == "exp") return Interp::Code1;
      if (type == "add" && in == "poly2" && out == "poly1") return Interp::Code2;
      if (type == "add" && in == "poly6" && out == "poly1") return Interp::Code4p;
      if (type == "mult" && in == "poly6" && out == "exp") return Interp::Code4;
    }
    node.fail("unsupported interpolation (expected lin, log, parabolic, poly6, code0/1/2/4/4p, a ROOT integer code, or "
              "{type, in, out} with a combination hs3fit implements)");
  }

  std::optional<Interp> modifier_interp(const Node& mod, const std::optional<Interp>& channel_default, bool normsys) {
    if (auto i = mod.get("interpolation")) return parse_interp(*i, normsys);
    if (auto data = mod.get("data"); data && data->is_object())
      if (auto i = data->get("interpolation")) return parse_interp(*i, normsys);
    return channel_default;
  }

  enum class StatConstraint { Gauss, Poisson };

  struct StatChannel {
    std::string channel;                    // model channel name
    size_t channel_index = 0;
    std::vector<double> nominal_sum, err2;  // over samples carrying staterror
    std::vector<std::string> names;         // parameter names per bin
    StatConstraint constraint = StatConstraint::Gauss;
    double rel_threshold = 0;
    std::string pointer;
  };

  void lower_channel(const Node& dist, const Node& data) {
    const std::string dname = dist.at("name").as_string();
    const std::string channel = dname.rfind("model_", 0) == 0 ? dname.substr(6) : dname;
    Node axes = dist.at("axes");
    const size_t nb = bins_of_axes(axes);

    // Observed counts.
    if (data.at("type").as_string() != "binned")
      data.at("type").fail("histfactory_dist '" + dname + "' needs binned data, found '" + data.at("type").as_string() + "'");
    Node contents = data.at("contents");
    std::vector<double> observed = bin_array(contents, nb, "contents");
    for (size_t b = 0; b < nb; ++b)
      if (observed[b] < 0) throw_input_error(contents.pointer() + "/" + std::to_string(b), "counts must be >= 0, found " + std::to_string(observed[b]));

    std::optional<Interp> default_interp_normsys, default_interp_histosys;
    if (auto di = dist.get("default_interpolation")) {
      default_interp_normsys = parse_interp(*di, true);
      default_interp_histosys = parse_interp(*di, false);
    }

    StatChannel stat;
    stat.channel = channel;
    stat.nominal_sum.assign(nb, 0.0);
    stat.err2.assign(nb, 0.0);
    stat.constraint = root_producer_ ? StatConstraint::Poisson : StatConstraint::Gauss;
    for (const char* key : {"staterror", "statError"})
      if (auto se = dist.get(key); se && se->is_object()) {
        for (const char* ck : {"constraint_type", "constraint"})
          if (auto c = se->get(ck)) stat.constraint = parse_stat_constraint(*c);
        if (auto t = se->get("relThreshold")) stat.rel_threshold = t->as_number();
      }
    bool stat_constraint_from_modifier = false;

    model::Channel ch;
    ch.name = channel;
    ch.observed = observed;
    std::set<std::string> sample_names;
    for (const Node& snode : dist.at("samples").elements()) {
      model::Sample s;
      s.name = snode.at("name").as_string();
      if (!sample_names.insert(s.name).second) snode.at("name").fail("duplicate sample '" + s.name + "' in '" + dname + "'");
      Node sdata = snode.at("data");
      s.nominal = bin_array(sdata.at("contents"), nb, "contents");
      std::vector<double> errors;
      if (auto e = sdata.get("errors")) errors = bin_array(*e, nb, "errors");
      std::set<std::pair<std::string, std::string>> seen;
      for (const Node& mnode : snode.at("modifiers").elements()) {
        const std::string type = mnode.at("type").as_string();
        const std::string mname = mnode.get("name") ? mnode.at("name").as_string() : std::string();
        if (!seen.insert({type, mname}).second) mnode.fail("duplicate " + type + " modifier '" + mname + "' on sample '" + s.name + "'");
        model::Modifier m;
        m.name = mname;
        if (type == "normfactor") {
          m.kind = ModifierKind::NormFactor;
          std::string pname = mnode.get("parameter") ? mnode.at("parameter").as_string() : mname;
          if (pname.empty()) mnode.fail("normfactor needs 'parameter' or 'name'");
          m.param = parameter(pname, m.kind, 1.0, 0.0, 10.0);
          if (auto c = mnode.get("constraint_name"); c && c->is_string()) lower_named_constraint(*c, pname);
        } else if (type == "normsys" || type == "histosys") {
          const bool normsys = type == "normsys";
          m.kind = normsys ? ModifierKind::NormSys : ModifierKind::HistoSys;
          std::string pname = mnode.get("parameter") ? mnode.at("parameter").as_string() : "alpha_" + mname;
          m.param = parameter(pname, m.kind, 0.0, -5.0, 5.0);
          Node md = mnode.at("data");
          if (normsys) {
            m.hi = md.at("hi").as_number();
            m.lo = md.at("lo").as_number();
          } else {
            m.hi_data = bin_array(md.at("hi").at("contents"), nb, "contents");
            m.lo_data = bin_array(md.at("lo").at("contents"), nb, "contents");
          }
          m.interp = modifier_interp(mnode, normsys ? default_interp_normsys : default_interp_histosys, normsys)
                         .value_or(normsys ? opt_.normsys_interp : opt_.histosys_interp);
          lower_alpha_constraint(mnode, m.param, pname);
        } else if (type == "shapefactor" || type == "shapesys") {
          m.kind = type == "shapefactor" ? ModifierKind::ShapeFactor : ModifierKind::ShapeSys;
          std::vector<std::string> names = per_bin_names(mnode, "gamma_" + mname + "_bin_", nb);
          if (m.kind == ModifierKind::ShapeFactor) {
            for (size_t b = 0; b < nb; ++b) m.bin_params.push_back(parameter(names[b], m.kind, 1.0, 0.0, 10.0));
          } else {
            lower_shapesys(mnode, s.nominal, names, m);
          }
        } else if (type == "staterror") {
          m.kind = ModifierKind::StatError;
          if (stat.names.empty()) stat.names = per_bin_names(mnode, "gamma_stat_" + channel + "_bin_", nb);
          if (auto c = mnode.get("constraint"); c && c->is_string() && !stat_constraint_from_modifier && !dist.get("staterror") && !dist.get("statError")) {
            stat.constraint = parse_stat_constraint(*c);
            stat_constraint_from_modifier = true;
          }
          for (size_t b = 0; b < nb; ++b) {
            stat.nominal_sum[b] += s.nominal[b];
            // Missing errors: ROOT takes the Poisson MC error √n, pyhs3/pyhf 0.
            const double e = errors.empty() ? (root_producer_ ? std::sqrt(std::max(0.0, s.nominal[b])) : 0.0) : errors[b];
            stat.err2[b] += e * e;
          }
          stat.pointer = mnode.pointer();
          m.bin_params.assign(nb, model::kNoParameter);  // filled in finish_staterror()
          pending_stat_.push_back({model_.channels.size(), ch.samples.size(), s.modifiers.size()});
        } else {
          mnode.at("type").fail("unknown modifier type '" + type + "' (expected normfactor, normsys, histosys, shapefactor, shapesys or staterror)");
        }
        s.modifiers.push_back(std::move(m));
      }
      ch.samples.push_back(std::move(s));
    }
    // Sum samples in name order, as pyhf does (keeps round trips bit-identical).
    std::vector<size_t> order(ch.samples.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ch.samples[a].name < ch.samples[b].name; });
    std::vector<model::Sample> sorted;
    for (size_t i : order) sorted.push_back(ch.samples[i]);
    for (auto& p : pending_stat_)
      if (p.channel == model_.channels.size())
        p.sample = static_cast<size_t>(std::find(order.begin(), order.end(), p.sample) - order.begin());
    ch.samples = std::move(sorted);
    stat.channel_index = model_.channels.size();
    if (!stat.names.empty()) stat_channels_.push_back(stat);
    model_.channels.push_back(std::move(ch));
  }

  StatConstraint parse_stat_constraint(const Node& c) {
    const std::string s = c.as_string();
    if (s == "Gauss" || s == "Gaussian") return StatConstraint::Gauss;
    if (s == "Poisson") return StatConstraint::Poisson;
    c.fail("unsupported staterror constraint '" + s + "' (expected Gauss or Poisson)");
  }

  std::vector<std::string> per_bin_names(const Node& mod, const std::string& prefix, size_t nb) {
    std::vector<std::string> names;
    if (auto p = mod.get("parameters")) {
      names = p->as_strings();
      if (names.size() != nb) p->fail(std::to_string(names.size()) + " parameters, " + std::to_string(nb) + " bins expected");
    } else {
      for (size_t b = 0; b < nb; ++b) names.push_back(prefix + std::to_string(b));
    }
    return names;
  }

  // normsys/histosys constraint: "Gauss" (default), "Const"/none, or the name of a distribution.
  void lower_alpha_constraint(const Node& mod, uint32_t param, const std::string& pname) {
    std::optional<Node> c;
    for (const char* key : {"constraint_name", "constraint", "constraint_type"})
      if (!c) c = mod.get(key);
    if (!c || c->is_null()) {
      constrain(param, ConstraintKind::Gaussian, 0.0, 1.0, mod.pointer());
      return;
    }
    const std::string s = c->as_string();
    if (s == "Gauss" || s == "Gaussian") constrain(param, ConstraintKind::Gaussian, 0.0, 1.0, mod.pointer());
    else if (s == "Const" || s == "const") model_.parameters[param].fixed = true;
    else if (distributions_.count(s)) lower_named_constraint(*c, pname);
    else c->fail("unsupported constraint '" + s + "' for parameter '" + pname + "' (expected Gauss, Const or a distribution name)");
  }

  void lower_named_constraint(const Node& ref, const std::string& pname) {
    const std::string s = ref.as_string();
    auto it = distributions_.find(s);
    if (it == distributions_.end()) ref.fail("unknown constraint distribution '" + s + "'");
    lower_aux_constraint(it->second);
    (void)pname;
  }

  // A value field that is a number or the name of a (constant) parameter.
  double value_of(const Node& field) {
    if (field.is_number()) return field.as_number();
    const std::string name = field.as_string();
    for (const auto& [pname, point] : points_)
      for (const Node& p : point.at("parameters").elements())
        if (p.at("name").as_string() == name) return p.at("value").as_number();
    field.fail("'" + name + "' has no value in parameter_points");
  }

  void lower_aux_constraint(const Node& dist) {
    const std::string type = dist.at("type").as_string();
    if (type != "gaussian_dist" && type != "normal_dist") unsupported(dist, "as an aux/constraint distribution");
    // x = the constrained parameter, mean = its global observable (aux datum), sigma = width.
    Node x = dist.at("x"), mean = dist.at("mean"), sigma = dist.at("sigma");
    if (!x.is_string()) x.fail("expected the name of the constrained parameter");
    const std::string pname = x.as_string();
    uint32_t idx = parameter(pname, ModifierKind::NormFactor, 1.0, 0.0, 10.0);
    const double width = value_of(sigma);
    if (!(width > 0)) sigma.fail("sigma must be > 0");
    constrain(idx, ConstraintKind::Gaussian, value_of(mean), width, dist.pointer());
    if (mean.is_string()) global_observables_.insert(mean.as_string());
    if (sigma.is_string()) global_observables_.insert(sigma.as_string());
  }

  // SPEC §13.3: ROOT (and hs3fit) write relative uncertainties; pyhs3 files converted from pyhf
  // carry pyhf's absolute ones. The producer decides; --shapesys-vals overrides.
  ShapesysVals shapesys_convention(const Node& mod) {
    if (opt_.shapesys_vals != ShapesysVals::Auto) return opt_.shapesys_vals;
    const ShapesysVals chosen = relative_shapesys_ ? ShapesysVals::Relative : ShapesysVals::Absolute;
    if (!shapesys_warned_) {
      spdlog::info("{}: shapesys 'vals' read as {} uncertainties ({}); override with --shapesys-vals", mod.pointer(),
                   chosen == ShapesysVals::Relative ? "relative" : "absolute",
                   relative_shapesys_ ? "written by ROOT or hs3fit" : "not written by ROOT: pyhf/pyhs3 convention");
      shapesys_warned_ = true;
    }
    return chosen;
  }

  void lower_shapesys(const Node& mod, const std::vector<double>& nominal, const std::vector<std::string>& names, model::Modifier& m) {
    const size_t nb = nominal.size();
    Node vals_node = mod.at("data").at("vals");
    std::vector<double> vals = bin_array(vals_node, nb, "vals");
    const ShapesysVals conv = shapesys_convention(mod);
    bool gauss = false;
    if (auto c = mod.get("constraint"); c && c->is_string()) {
      const std::string s = c->as_string();
      if (s == "Gauss" || s == "Gaussian") gauss = true;
      else if (s != "Poisson") c->fail("unsupported shapesys constraint '" + s + "' (expected Poisson or Gauss)");
    }
    for (size_t b = 0; b < nb; ++b) {
      uint32_t idx = parameter(names[b], ModifierKind::ShapeSys, 1.0, 1e-10, 10.0);
      m.bin_params.push_back(idx);
      const double rel = conv == ShapesysVals::Relative ? vals[b] : (nominal[b] > 0 ? vals[b] / nominal[b] : 0.0);
      const bool valid = nominal[b] > 0 && rel > 0;
      if (!valid) {
        // pyhf: fixed γ, constraint kept with τ = 1 (a constant); ROOT: γ constant, no constraint.
        model_.parameters[idx].fixed = true;
        if (!root_producer_) constrain(idx, ConstraintKind::Poisson, 1.0, 1.0, mod.pointer());
        continue;
      }
      if (gauss) constrain(idx, ConstraintKind::Gaussian, 1.0, rel, mod.pointer());
      else {
        const double tau = conv == ShapesysVals::Relative ? 1.0 / (rel * rel) : nominal[b] * nominal[b] / (vals[b] * vals[b]);
        constrain(idx, ConstraintKind::Poisson, tau, tau, mod.pointer());
      }
    }
  }

  // A staterror modifier whose per-bin parameters are known only once the channel is complete.
  struct PendingStat {
    size_t channel, sample, modifier;
  };

  void finish_staterror() {
    for (const StatChannel& st : stat_channels_) {
      const size_t nb = st.nominal_sum.size();
      std::vector<int64_t> idx(nb);
      for (size_t b = 0; b < nb; ++b) {
        const double N = st.nominal_sum[b];
        const double delta = N > 0 ? std::sqrt(st.err2[b]) / N : 0.0;
        idx[b] = parameter(st.names[b], ModifierKind::StatError, 1.0, 1e-10, 10.0);
        const uint32_t p = static_cast<uint32_t>(idx[b]);
        if (delta <= 0 || delta < st.rel_threshold) {
          // pyhf: fixed γ with a constant σ = 1 Gaussian term; ROOT: γ constant, no constraint.
          model_.parameters[p].fixed = true;
          if (!root_producer_ && st.constraint == StatConstraint::Gauss && delta <= 0) constrain(p, ConstraintKind::Gaussian, 1.0, 1.0, st.pointer);
          continue;
        }
        if (st.constraint == StatConstraint::Gauss) constrain(p, ConstraintKind::Gaussian, 1.0, delta, st.pointer);
        else constrain(p, ConstraintKind::Poisson, 1.0 / (delta * delta), 1.0 / (delta * delta), st.pointer);
      }
      for (const PendingStat& ps : pending_stat_)
        if (ps.channel == st.channel_index) model_.channels[ps.channel].samples[ps.sample].modifiers[ps.modifier].bin_params = idx;
    }
  }

  // ---- parameter points, domains, POI ------------------------------------------------------------

  void apply_points_and_domains() {
    // Initial values: the analysis' init point, else default_values, else the first point.
    std::optional<Node> point;
    if (analysis_ && analysis_->get("init")) {
      const std::string name = analysis_->at("init").as_string();
      if (!points_.count(name)) analysis_->at("init").fail("unknown parameter point '" + name + "'");
      point = points_.at(name);
    } else if (points_.count("default_values")) {
      point = points_.at("default_values");
    } else if (!points_.empty()) {
      point = points_.at(first_name("parameter_points"));
    }
    // Bounds: the analysis' domains (merged), else default_domain, else all domains.
    std::vector<Node> doms;
    if (analysis_) {
      if (auto d = analysis_->get("domains"))
        for (const Node& n : d->elements()) doms.push_back(domain(n));
      if (auto d = analysis_->get("domain")) doms.push_back(domain(*d));
    }
    if (doms.empty() && domains_.count("default_domain")) doms.push_back(domains_.at("default_domain"));
    if (doms.empty())
      for (const auto& [n, d] : domains_) doms.push_back(d);
    for (const Node& d : doms) {
      auto axes = d.get("axes") ? d.at("axes") : d.at("variables");
      for (const Node& ax : axes.elements()) {
        const std::string name = ax.at("name").as_string();
        double lo = -model::kInf, hi = model::kInf;
        if (auto v = ax.get("min"); v && !v->is_null()) lo = v->as_number();
        if (auto v = ax.get("max"); v && !v->is_null()) hi = v->as_number();
        if (lo > hi) ax.fail("min " + std::to_string(lo) + " > max " + std::to_string(hi));
        auto it = params_.find(name);
        if (it == params_.end()) continue;
        auto& p = model_.parameters[it->second.index];
        p.lo = lo;
        p.hi = hi;
      }
    }
    // Every point is validated; the chosen one sets values and const flags.
    for (const auto& [pname, pt] : points_)
      for (const Node& p : pt.at("parameters").elements()) {
        p.at("name").as_string();
        p.at("value").as_number();
        if (auto c = p.get("const")) c->as_bool();
      }
    if (point) {
      for (const Node& p : point->at("parameters").elements()) {
        auto it = params_.find(p.at("name").as_string());
        if (it == params_.end()) continue;
        auto& par = model_.parameters[it->second.index];
        par.init = p.at("value").as_number();
        if (auto c = p.get("const")) par.fixed = par.fixed || c->as_bool();
      }
    }
    for (auto& p : model_.parameters) {
      if (p.init < p.lo || p.init > p.hi) {
        if (p.fixed) { p.lo = std::min(p.lo, p.init); p.hi = std::max(p.hi, p.init); }
        else throw Error(ErrorKind::Input, "/parameter_points", "initial value " + std::to_string(p.init) + " of '" + p.name + "' is outside its domain [" +
                                                               std::to_string(p.lo) + ", " + std::to_string(p.hi) + "]");
      }
    }
    if (!poi_name_.empty()) {
      auto it = params_.find(poi_name_);
      if (it == params_.end()) throw Error(ErrorKind::Input, analysis_ ? analysis_->pointer() : "/analyses", "POI '" + poi_name_ + "' is not a parameter of the likelihood");
      model_.poi = it->second.index;
    }
  }

  Node domain(const Node& name_node) {
    const std::string name = name_node.as_string();
    auto it = domains_.find(name);
    if (it == domains_.end()) name_node.fail("unknown domain '" + name + "'");
    return it->second;
  }

  const Node& root_;
  const Options& opt_;
  bool root_producer_ = false;      // ROOT conventions (staterror Poisson default, no constant terms)
  bool relative_shapesys_ = false;  // shapesys vals are relative (ROOT, hs3fit)
  bool shapesys_warned_ = false;
  std::map<std::string, Node> distributions_, data_, likelihoods_, points_, domains_, analyses_;
  std::optional<Node> analysis_;
  std::string poi_name_;
  std::map<std::string, std::pair<std::string, std::string>> lowered_;  // distribution -> (likelihood, data)
  std::set<std::string> global_observables_;
  std::map<std::string, ParamInfo> params_;
  std::map<uint32_t, size_t> constrained_;
  std::vector<StatChannel> stat_channels_;
  std::vector<PendingStat> pending_stat_;
  model::Model model_;
};

}  // namespace

bool looks_like_hs3(const json::Node& root) {
  return root.is_object() && (root.get("distributions") || root.get("metadata") || root.get("likelihoods"));
}

Result build_model(const json::Node& root, const Options& options) { return Builder(root, options).build(); }

}  // namespace hs3fit::hs3
