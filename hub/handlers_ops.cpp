// handlers_ops: endpoints for load balancers and resource servers that need no credential:
// liveness, readiness (store answers and not draining) and the JWKS.
#include "handlers.hpp"

namespace shub {

void add_ops_routes(router& r, hub_state& hub) {
  r.add(http::verb::get, "/healthz", run_on::network,
        [](request_context&) { return json_response(http::status::ok, "{\"status\":\"ok\"}"); });

  r.add(http::verb::get, "/readyz", run_on::pool, [&hub](request_context&) {
    const bool store_up = hub.store->ping() == auth::store_status::ok;
    const bool draining = hub.draining.load();
    const bool ready = store_up && !draining;
    std::string body = std::string("{\"status\":\"") + (ready ? "ready" : "unavailable") +
                       "\",\"store\":\"" + (store_up ? "up" : "down") +
                       "\",\"draining\":" + (draining ? "true" : "false") + "}";
    return json_response(ready ? http::status::ok : http::status::service_unavailable,
                         std::move(body));
  });

  // A plain GET of the WebSocket endpoint (upgrades never reach the router).
  r.add(http::verb::get, "/v1/ws", run_on::network, [](request_context&) {
    http_response res = problem(http::status::upgrade_required, "upgrade_required",
                                "GET /v1/ws is a WebSocket endpoint (subprotocol sessionhub.v1)");
    res.set(http::field::upgrade, "websocket");
    return res;
  });

  r.add(http::verb::get, "/.well-known/jwks.json", run_on::network, [&hub](request_context&) {
    http_response res = json_response(http::status::ok, hub.jwks_json);
    res.set(http::field::content_type, "application/jwk-set+json");
    // Resource servers may cache it briefly; a new key is published a rotation ahead.
    res.set(http::field::cache_control, "public, max-age=300");
    return res;
  });
}

}  // namespace shub
