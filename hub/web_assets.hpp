// web_assets: the files the hub serves from memory, compiled into the binary
// (cmake/embed_assets.cmake) so it needs no files beside it. The browser snippet, built by
// web-client's `npm run build` into dist/ (two builds of one source: a classic script and an
// ES module), and the operators' dashboard, web-client/dashboard/ as written (no build).
#pragma once

#include <string_view>

namespace shub::assets {

extern const std::string_view sessionhub_js;   // classic <script>: sets globalThis.SessionHub
extern const std::string_view sessionhub_mjs;  // ES module: export default SessionHub

extern const std::string_view dashboard_html;  // GET /dashboard
extern const std::string_view dashboard_js;
extern const std::string_view dashboard_css;

}  // namespace shub::assets
