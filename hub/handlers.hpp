// handlers: the HTTP endpoints of PROTOCOL §2, registered on the router by area.
//   token_api       login, refresh, validate, extend, logout (browsers, resource servers)
//   server_api      sessions, user logout, stats, metrics (backends, API key)
//   ops_api         healthz, readyz, jwks, the plain GET of /v1/ws
//   static          /sessionhub.js
//   dashboard       /dashboard, the operators' page (its data comes from /v1/stats)
//   backchannel     /v1/backchannel-logout (OIDC Back-Channel Logout; the token is the key)
#pragma once

#include "hub_state.hpp"
#include "router.hpp"

namespace shub {

void add_token_routes(router& r, hub_state& hub);
void add_server_api_routes(router& r, hub_state& hub);
void add_ops_routes(router& r, hub_state& hub);
void add_static_routes(router& r, hub_state& hub);
void add_dashboard_routes(router& r);
void add_backchannel_routes(router& r, hub_state& hub);

// The token response of PROTOCOL §2 for a session outcome holding tokens.
[[nodiscard]] std::string token_response_body(const auth::session_outcome& out,
                                              bool with_refresh_token);

}  // namespace shub
