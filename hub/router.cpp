// router: segment matching over a short table (a dozen routes: a linear scan beats a trie).
#include "router.hpp"

namespace shub {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{';
}

}  // namespace

void router::add(http::verb method, std::string_view pattern, run_on where, handler_fn handler) {
  route r{method, {}, where, std::move(handler)};
  for (auto seg : split_path(pattern))
    r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

route_match router::match(http::verb method, std::string_view path) const {
  route_match m;
  const auto segs = split_path(path);
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      if (is_param(r.segments[i])) {
        auto decoded = url_decode(segs[i], false);
        if (!decoded) {
          m.bad_escape = true;
          ok = false;
        } else if (decoded->empty()) {
          ok = false;
        } else {
          params.push_back(std::move(*decoded));
        }
      } else {
        ok = r.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    if (r.method == method || (method == http::verb::head && r.method == http::verb::get)) {
      m.found = &r;
      m.params = std::move(params);
      m.allow.clear();
      return m;
    }
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += std::string(http::to_string(r.method));
  }
  return m;
}

}  // namespace shub
