#include "infer/toys.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <spdlog/spdlog.h>
#include <thread>

#include "core/error.h"

namespace hs3fit::infer {

namespace {
constexpr int kSignalStream = 0, kBackgroundStream = 1;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Percentiles of the standard normal at −2σ … +2σ, as pyhf writes them.
constexpr std::array<double, 5> kBandPercentiles = {2.27501319, 15.86552539, 50.0, 84.13447461, 97.72498681};
}  // namespace

struct ToyCalculator::ToyFit {
  double nll = kNaN;      // free fit
  double poi_hat = kNaN;
  double q = kNaN;        // test statistic at the current μ
  bool converged = false;
};

Dataset sample_dataset(const model::Model& m, const Dataset& expected, const std::vector<double>& values, Rng& rng) {
  Dataset d;
  d.observed.resize(expected.observed.size());
  for (size_t c = 0; c < expected.observed.size(); ++c) {
    d.observed[c].reserve(expected.observed[c].size());
    for (double nu : expected.observed[c]) d.observed[c].push_back(poisson(rng, nu));
  }
  d.aux.reserve(m.constraints.size());
  for (const model::Constraint& c : m.constraints) {
    const double theta = values[c.param];
    d.aux.push_back(c.kind == model::ConstraintKind::Gaussian ? theta + c.sigma * standard_normal(rng) : poisson(rng, theta * c.tau));
  }
  return d;
}

double percentile_linear(std::vector<double> v, double p) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  const double frac = pos - static_cast<double>(i);
  return v[i] + frac * (v[i + 1] - v[i]);
}

ToyCalculator::ToyCalculator(const model::Model& m, ToyOptions options)
    : options_(options), poi_(require_floating_poi(m)), data_(model_for_test_stat(m, options.test_stat), options.fit) {
  if (options_.ntoys < 1) throw Error(ErrorKind::Usage, "--toys", "the number of toys must be positive");
  if (options_.test_stat != TestStat::QmuTilde && options_.test_stat != TestStat::Qmu)
    throw Error(ErrorKind::Usage, "--test-stat", "toys support the qtilde and q test statistics");
  threads_ = options_.threads > 0 ? options_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  free_data_ = data_.minimize();
  background_ = data_.minimize({{poi_, 0.0}}, free_data_.values);
  fits_ += 2;
  if (!usable(free_data_) || !usable(background_))
    spdlog::warn("fits to the observed data did not converge ({} / {})", free_data_.status, background_.status);
  profile_ = std::make_unique<Profile>(data_, poi_, free_data_);
  profile_->add_start(background_.values);
}

ToyCalculator::~ToyCalculator() = default;

// Toys of one sample: dataset from Rng::for_toy(seed, stream, i) at `generating`, free fit
// (taken from `cached_free` when present, stored there when empty), conditional fit at μ.
std::vector<ToyCalculator::ToyFit> ToyCalculator::run_toys(int stream, const std::vector<double>& generating, double mu,
                                                           std::vector<ToyFit>* cached_free) {
  const size_t n = static_cast<size_t>(options_.ntoys);
  std::vector<ToyFit> out(n);
  const bool have_free = cached_free && cached_free->size() == n;
  const Dataset expected = data_.expected(generating);
  std::vector<double> conditional_start = generating;
  conditional_start[poi_] = mu;
  std::atomic<size_t> next{0};
  std::atomic<long long> fits{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  const std::vector<size_t> indices = shards::items_of(options_.shard, n);
  auto toy_loop = [&] {
    for (size_t j = next++; j < indices.size(); j = next++) {
      const size_t i = indices[j];
      Rng rng = Rng::for_toy(options_.seed, static_cast<uint64_t>(stream), i);
      Likelihood toy = data_.with_data(sample_dataset(data_.model(), expected, generating, rng));
      ToyFit& t = out[i];
      if (have_free) {
        t = (*cached_free)[i];
      } else {
        const fit::FitResult f = toy.minimize({}, generating);
        t.nll = f.nll;
        t.poi_hat = f.values[poi_];
        t.converged = usable(f);
        ++fits;
      }
      const fit::FitResult c = toy.minimize({{poi_, mu}}, conditional_start);
      ++fits;
      t.converged = t.converged && usable(c);
      t.q = std::isfinite(c.nll) && std::isfinite(t.nll) ? test_statistic(options_.test_stat, mu, c.nll, t.nll, t.poi_hat) : kNaN;
    }
  };
  auto worker = [&] {
    try {
      toy_loop();
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next = indices.size();  // stop the other threads
    }
  };
  const int nthreads = std::max(1, std::min<int>(threads_, static_cast<int>(indices.size())));
  std::vector<std::thread> pool;
  for (int k = 1; k < nthreads; ++k) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  fits_ += fits;
  if (cached_free && !have_free) *cached_free = out;
  return out;
}

ToyHypotest ToyCalculator::toys(double mu) {
  ToyHypotest t;
  HypotestResult& h = t.result;
  h.poi = mu;
  h.q_asimov = kNaN;
  const fit::FitResult cond = profile_->at(mu);
  ++fits_;
  h.q_obs = test_statistic(options_.test_stat, mu, cond.nll, free_data_.nll, free_data_.values[poi_]);
  h.converged = usable(cond);
  const fit::FitResult& signal_pars = cond;  // θ̂̂(μ) on the data generates the s+b toys
  const std::vector<ToyFit> sb = run_toys(kSignalStream, signal_pars.values, mu, nullptr);
  const std::vector<ToyFit> b = run_toys(kBackgroundStream, background_.values, mu, &background_free_);
  for (const ToyFit& f : sb) {
    t.q_sb.push_back(f.q);
    t.sb_converged.push_back(f.converged);
  }
  for (const ToyFit& f : b) {
    t.q_b.push_back(f.q);
    t.b_converged.push_back(f.converged);
  }
  return t;
}

ToyHypotest ToyCalculator::hypotest(double mu) {
  ToyHypotest t = toys(mu);
  finish_toy_hypotest(t);
  return t;
}

void finish_toy_hypotest(ToyHypotest& t) {
  HypotestResult& h = t.result;
  const double mu = h.poi;
  std::vector<double> qsb, qb;
  t.failed_toys = 0;
  for (size_t i = 0; i < t.q_sb.size(); ++i) {
    if (!t.sb_converged[i]) ++t.failed_toys;
    if (std::isfinite(t.q_sb[i])) qsb.push_back(t.q_sb[i]);
  }
  for (size_t i = 0; i < t.q_b.size(); ++i) {
    if (!t.b_converged[i]) ++t.failed_toys;
    if (std::isfinite(t.q_b[i])) qb.push_back(t.q_b[i]);
  }
  if (t.failed_toys > 0) spdlog::warn("POI = {:g}: {} toy fits did not converge", mu, t.failed_toys);
  if (qsb.empty() || qb.empty()) throw Error(ErrorKind::Usage, "--toys", "no toy gave a finite test statistic");
  std::sort(qsb.begin(), qsb.end());
  std::sort(qb.begin(), qb.end());
  // fraction of a sorted sample ≥ x
  auto tail = [](const std::vector<double>& sorted, double x) {
    return static_cast<double>(sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), x)) / static_cast<double>(sorted.size());
  };
  auto pvalues = [&](double q) {
    PValues p;
    p.clsb = tail(qsb, q);
    p.clb = tail(qb, q);
    p.cls = p.clsb / p.clb;
    return p;
  };
  h.obs = pvalues(h.q_obs);
  t.obs_error.clsb = std::sqrt(h.obs.clsb * (1 - h.obs.clsb) / static_cast<double>(qsb.size()));
  t.obs_error.clb = std::sqrt(h.obs.clb * (1 - h.obs.clb) / static_cast<double>(qb.size()));
  t.obs_error.cls = h.obs.cls * std::sqrt(std::pow(t.obs_error.clsb / h.obs.clsb, 2) + std::pow(t.obs_error.clb / h.obs.clb, 2));
  std::vector<double> clsb, clb, cls;
  for (double q : qb) {
    const PValues p = pvalues(q);
    clsb.push_back(p.clsb);
    clb.push_back(p.clb);
    cls.push_back(p.cls);
  }
  for (size_t k = 0; k < 5; ++k) {
    h.exp[k].clsb = percentile_linear(clsb, kBandPercentiles[k]);
    h.exp[k].clb = percentile_linear(clb, kBandPercentiles[k]);
    h.exp[k].cls = percentile_linear(cls, kBandPercentiles[k]);
  }
}

UpperLimitResult toy_upper_limit(ToyCalculator& calc, UpperLimitOptions o, std::vector<ToyHypotest>* hypotests) {
  const model::Parameter& poi = calc.model().parameters[calc.poi()];
  if (std::isnan(o.lo)) o.lo = std::isfinite(poi.lo) ? poi.lo : 0.0;
  if (std::isnan(o.hi)) o.hi = std::isfinite(poi.hi) ? poi.hi : std::max(1.0, o.lo + 1.0);
  {
    AsymptoticCalculator asymptotic(calc.model(), {calc.test_stat(), calc.fit_options()});
    UpperLimitOptions ao = o;
    ao.rtol = 1e-3;
    const UpperLimitResult guess = asymptotic_upper_limit(asymptotic, ao);
    o.initial_points.clear();
    double largest = guess.obs;
    o.initial_points.push_back(guess.obs);
    for (double e : guess.exp) {
      o.initial_points.push_back(e);
      largest = std::max(largest, e);
    }
    o.initial_points.push_back(1.5 * largest);
    spdlog::debug("asymptotic limits as starting points: observed {:.4g}, expected median {:.4g}", guess.obs, guess.exp[2]);
  }
  o.cls_is_one_at_lo = calc.test_stat() == TestStat::QmuTilde && o.lo == 0;
  return upper_limit(
      [&](double mu) {
        ToyHypotest t = calc.hypotest(mu);
        const HypotestResult& h = t.result;
        if (hypotests) hypotests->push_back(std::move(t));
        return ClsCurves{h.obs.cls, h.exp[0].cls, h.exp[1].cls, h.exp[2].cls, h.exp[3].cls, h.exp[4].cls};
      },
      o);
}

}  // namespace hs3fit::infer
