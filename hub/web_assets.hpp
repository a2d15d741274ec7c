// web_assets: the browser snippet, built by web-client's `npm run build` into dist/ and
// compiled into the binary (cmake/embed_assets.cmake), so the hub serves it with no files
// beside it. Two builds of one source: a classic script and an ES module.
#pragma once

#include <string_view>

namespace shub::assets {

extern const std::string_view sessionhub_js;   // classic <script>: sets globalThis.SessionHub
extern const std::string_view sessionhub_mjs;  // ES module: export default SessionHub

}  // namespace shub::assets
