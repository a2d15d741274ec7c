// server: builds the hub from its config and runs it until SIGTERM/SIGINT.
// Wiring only — store, keys, shared state, routes, one io_context per worker thread, the
// listener — plus the shutdown sequence: stop accepting, let requests in flight finish (up
// to --drain-timeout-s), stop the workers, join the blocking pool, close the store.
#pragma once

#include "config.hpp"

namespace shub {

// Runs the hub; returns the process exit code (0 after a clean drain, 1 on a start-up
// failure, which is logged).
int run_server(const config& cfg);

}  // namespace shub
