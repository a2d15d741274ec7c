// handlers_static: GET /sessionhub.js, the browser snippet (PROTOCOL §6).
// One URL serves both builds: a module fetch (`import … from`, fetched in CORS mode, so
// `Sec-Fetch-Mode: cors`) gets the ES module, anything else the classic script. A script
// tag with a `crossorigin` attribute is also fetched in CORS mode; `?format=script` or
// `?format=module` settle it explicitly. Each build has a strong ETag; caches revalidate.
#include "auth/base64url.hpp"
#include "auth/crypto.hpp"
#include "handlers.hpp"
#include "web_assets.hpp"

namespace shub {

namespace {

struct asset {
  std::string_view body;
  std::string etag;
};

asset make_asset(std::string_view body) {
  return {body, "\"" + auth::base64url_encode(auth::sha256(body).substr(0, 12)) + "\""};
}

bool wants_module(const request_context& ctx) {
  if (const auto f = query_param(ctx.query, "format")) return *f == "module";
  const auto mode = ctx.req.find("Sec-Fetch-Mode");
  return mode != ctx.req.end() && mode->value() == "cors";
}

}  // namespace

void add_static_routes(router& r, hub_state& hub) {
  static const asset classic = make_asset(assets::sessionhub_js);
  static const asset module = make_asset(assets::sessionhub_mjs);
  r.add(http::verb::get, "/sessionhub.js", run_on::network, [&hub](request_context& ctx) {
    const asset& a = wants_module(ctx) ? module : classic;
    http_response res{http::status::ok, 11};
    res.set(http::field::etag, a.etag);
    res.set(http::field::cache_control, "public, max-age=300, must-revalidate");
    res.set(http::field::vary, "Sec-Fetch-Mode, Origin");
    // The snippet is public: any page may load it, even from an origin the hub will not
    // talk to (that page's requests are refused later, where it matters).
    const auto origin = ctx.req.find(http::field::origin);
    if (origin != ctx.req.end() && !hub.origin_allowed(origin->value())) {
      res.set(http::field::access_control_allow_origin, "*");
    }
    const auto inm = ctx.req.find(http::field::if_none_match);
    if (inm != ctx.req.end() && inm->value() == a.etag) {
      res.result(http::status::not_modified);
      return res;
    }
    res.set(http::field::content_type, "text/javascript; charset=utf-8");
    res.body() = std::string(a.body);
    return res;
  });
}

}  // namespace shub
