// http_session: one HTTP/1.1 connection (Beast), from the first request to the close.
// Reads one request at a time under a deadline, answers CORS, routes it, runs blocking
// handlers on the pool and writes the answer back on its own network thread, then reads
// the next (keep-alive). Owns itself through shared_from_this(), as Beast's examples do.
// One template for both listeners: over a plain tcp_stream, or over TLS (tls_stream), where
// the handshake comes first under --tls-handshake-timeout-s and a failed one is logged as
// tls_handshake_failed; the plain instance has no TLS code in it at all.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "hub_state.hpp"
#include "router.hpp"
#include "tls.hpp"
#include "worker.hpp"

namespace shub {

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

  // `client_ip`: the peer's address as accept reported it. `tls`: the context of a TLS
  // listener's connection (null on the plain one).
  http_session(boost::asio::ip::tcp::socket&& socket, tls_context_ptr tls, worker& w,
               hub_state& hub, const router& routes, bool loopback_plain, std::string client_ip);
  void run();

 private:
  struct no_context {};
  static Stream open(boost::asio::ip::tcp::socket&& socket, boost::asio::ssl::context* ctx);
  void do_handshake();
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle(std::shared_ptr<http_request> req);
  void upgrade(std::shared_ptr<http_request> req, std::string_view path);
  void send(http_response res, const http_request& req);
  void on_write(bool close, boost::beast::error_code ec, std::size_t bytes);
  void do_close();
  void add_cors(http_response& res, const http_request& req) const;

  // The context first: it outlives the stream that uses it (and goes with it to a WebSocket).
  [[no_unique_address]] std::conditional_t<is_tls, tls_context_ptr, no_context> tls_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  worker& worker_;
  hub_state& hub_;
  const router& routes_;
  std::string client_ip_;
  bool loopback_plain_;
};

using plain_http_session = http_session<boost::beast::tcp_stream>;
using tls_http_session = http_session<tls_stream>;

}  // namespace shub
