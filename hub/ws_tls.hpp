// ws_tls: a WebSocket's TLS transport (WSS), what a ws_connection holds when it came from the
// TLS listener; a plain connection holds none. The bare-socket tricks of the plain path do
// not apply to TLS: a read decrypts through OpenSSL with an asynchronous operation that owns
// its buffer until it completes, so the worker's one shared buffer cannot be used and each
// connection reads into its own; and a write is one async_write of the queued frames copied
// into one buffer (OpenSSL copies and encrypts them anyway, and one buffer makes one TLS
// record per 16 KiB instead of one per frame). One write in flight, as on the plain path.
// The code that uses it is ws_connection_tls.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "tls.hpp"

namespace shub {

struct ws_tls {
  // A whole client frame of the default --ws-max-frame-bytes (4 KiB + header) fits, so the
  // parser sees it in one piece and copies nothing.
  static constexpr std::size_t read_bytes = 8 * 1024;

  // The HTTP request's deadline ends here: a WebSocket's liveness is its pings and timeouts.
  ws_tls(tls_stream&& s, tls_context_ptr c) : ctx(std::move(c)), stream(std::move(s)) {
    boost::beast::get_lowest_layer(stream).expires_never();
  }

  tls_context_ptr ctx;  // first: it outlives the stream that uses it
  tls_stream stream;
  std::string out;            // the bytes of the write in flight
  std::size_t in_flight = 0;  // frames at the queue's front that `out` holds
  bool read_failed = false;   // the peer is gone or broke TLS: no close_notify to it
  std::array<char, read_bytes> in;
};

}  // namespace shub
