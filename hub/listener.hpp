// listener: accepts TCP connections and deals them out to the workers round-robin.
// Each accepted socket is created on its worker's io_context, so the connection lives on
// that one thread for life and needs no lock.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace shub {

class listener {
 public:
  // Called on the accepting thread with the socket and the index of its worker.
  // The socket, the worker index it belongs to, and its peer's address (from accept itself).
  using on_accept_fn = std::function<void(boost::asio::ip::tcp::socket&&, std::size_t,
                                          const boost::asio::ip::tcp::endpoint&)>;

  // Binds and listens; throws boost::system::system_error when it cannot (start-up).
  listener(boost::asio::io_context& accept_ctx, std::vector<boost::asio::io_context*> workers,
           const boost::asio::ip::tcp::endpoint& at, on_accept_fn on_accept);
  void start();
  void stop();  // closes the acceptor: no new connections; existing ones carry on
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  void do_accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<boost::asio::io_context*> workers_;
  std::size_t next_ = 0;
  boost::asio::ip::tcp::endpoint peer_;  // the accept in flight fills it
  on_accept_fn on_accept_;
  std::uint16_t port_ = 0;
};

}  // namespace shub
