// handlers_dashboard: GET /dashboard, the operators' live view, with its script and
// stylesheet (web-client/dashboard/, embedded like the snippet). The page is public; the
// figures are not: the script asks for the server API key and reads GET /v1/stats with it.
// Script and style are separate files rather than inline so that the Content-Security-Policy
// can forbid every inline script and style: a page that holds an API key runs only its own
// code, talks only to its own origin and cannot be framed.
#include "handlers.hpp"
#include "web_assets.hpp"

namespace shub {

namespace {

constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

handler_fn serve(std::string_view body, const char* content_type) {
  return [body, content_type](request_context&) {
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, content_type);
    // The page must never come from a cache after the hub was upgraded under it, and a
    // shared cache has no business keeping an operator's page.
    res.set(http::field::cache_control, "no-store");
    res.set("Content-Security-Policy", content_security_policy);
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Cross-Origin-Opener-Policy", "same-origin");
    res.body() = std::string(body);
    return res;
  };
}

}  // namespace

void add_dashboard_routes(router& r) {
  r.add(http::verb::get, "/dashboard", run_on::network,
        serve(assets::dashboard_html, "text/html; charset=utf-8"));
  r.add(http::verb::get, "/dashboard.js", run_on::network,
        serve(assets::dashboard_js, "text/javascript; charset=utf-8"));
  r.add(http::verb::get, "/dashboard.css", run_on::network,
        serve(assets::dashboard_css, "text/css; charset=utf-8"));
}

}  // namespace shub
