// http_session: one HTTP/1.1 connection (Beast), from the first request to the close.
// Reads one request at a time under a deadline, answers CORS, routes it, runs blocking
// handlers on the pool and writes the answer back on its own network thread, then reads
// the next (keep-alive). Owns itself through shared_from_this(), as Beast's examples do.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "hub_state.hpp"
#include "router.hpp"
#include "worker.hpp"

namespace shub {

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  // `client_ip`: the peer's address as accept reported it.
  http_session(boost::asio::ip::tcp::socket&& socket, worker& w, hub_state& hub,
               const router& routes, bool loopback_plain, std::string client_ip);
  void run();

 private:
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle(std::shared_ptr<http_request> req);
  void upgrade(std::shared_ptr<http_request> req, std::string_view path);
  void send(http_response res, const http_request& req);
  void on_write(bool close, boost::beast::error_code ec, std::size_t bytes);
  void do_close();
  void add_cors(http_response& res, const http_request& req) const;

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  worker& worker_;
  hub_state& hub_;
  const router& routes_;
  std::string client_ip_;
  bool loopback_plain_;
};

}  // namespace shub
