// scenarios: the runs main() dispatches to, one file a family. subscription.cpp runs connect,
// fanout, broadcast and cluster (subscribers on channels, then publishes and their
// deliveries); refresh.cpp runs refresh (sessionhub's refresh-token rotations, optionally
// racing). Each prints its report and returns the process's exit status.
#pragma once

#include "options.hpp"

namespace shub::load {

// connect, fanout, broadcast and cluster, as o.scenario says.
int subscription_scenario(options o);

// refresh: sessionhub only.
int refresh_scenario(const options& o);

}  // namespace shub::load
