#include "report/yields_report.h"

#include <algorithm>
#include <fmt/format.h>

#include "json/json_writer.h"

namespace hs3fit::report {

std::string yields_table(const std::vector<model::ChannelYields>& pre, const std::vector<model::ChannelYields>& post) {
  std::string out;
  size_t w = 10;
  for (const auto& c : pre)
    for (const auto& s : c.samples) w = std::max(w, s.name.size());
  for (size_t i = 0; i < pre.size(); ++i) {
    const auto& c = pre[i];
    out += fmt::format("channel {} ({} bins)\n", c.name, c.expected.size());
    out += fmt::format("  {:<{}}  {:>14}{}\n", "sample", w, "pre-fit", post.empty() ? "" : fmt::format("  {:>14}", "post-fit"));
    for (size_t j = 0; j < c.samples.size(); ++j) {
      out += fmt::format("  {:<{}}  {:>14.6g}", c.samples[j].name, w, c.samples[j].total);
      if (!post.empty()) out += fmt::format("  {:>14.6g}", post[i].samples[j].total);
      out += '\n';
    }
    out += fmt::format("  {:<{}}  {:>14.6g}", "total", w, c.expected_total);
    if (!post.empty()) out += fmt::format("  {:>14.6g}", post[i].expected_total);
    out += fmt::format("\n  {:<{}}  {:>14.6g}\n\n", "observed", w, c.observed_total);
  }
  return out;
}

namespace {
void write_channels(json::Writer& w, const std::vector<model::ChannelYields>& cs) {
  w.begin_array();
  for (const auto& c : cs) {
    w.begin_object();
    w.key("name").value(c.name);
    w.key("samples").begin_array();
    for (const auto& s : c.samples) {
      w.begin_object().key("name").value(s.name).key("total").value(s.total);
      w.key("bins").numbers(s.bins);
      w.end_object();
    }
    w.end_array();
    w.key("expected").numbers(c.expected);
    w.key("expected_total").value(c.expected_total);
    w.key("observed").numbers(c.observed);
    w.key("observed_total").value(c.observed_total);
    w.end_object();
  }
  w.end_array();
}
}  // namespace

std::string yields_json(const std::vector<model::ChannelYields>& pre, const std::vector<model::ChannelYields>& post) {
  json::Writer w;
  w.begin_object();
  w.key("prefit");
  write_channels(w, pre);
  if (!post.empty()) {
    w.key("postfit");
    write_channels(w, post);
  }
  w.end_object();
  return w.str();
}

}  // namespace hs3fit::report
