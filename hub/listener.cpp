// listener: the accept loop. Accept errors (EMFILE under a flood, say) are logged and the
// loop goes on after a short pause instead of spinning or dying.
#include "listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "log.hpp"

namespace shub {

namespace net = boost::asio;

listener::listener(net::io_context& accept_ctx, std::vector<net::io_context*> workers,
                   const net::ip::tcp::endpoint& at, on_accept_fn on_accept)
    : acceptor_(accept_ctx), workers_(std::move(workers)), on_accept_(std::move(on_accept)) {
  acceptor_.open(at.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  // Linux copies TCP_NODELAY from the listening socket to every socket it accepts: set once
  // here, it costs no system call per connection. (Small frames must not wait for Nagle.)
  acceptor_.set_option(net::ip::tcp::no_delay(true));
  acceptor_.bind(at);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void listener::start() {
  do_accept();
}

void listener::stop() {
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

void listener::do_accept() {
  const std::size_t index = next_++ % workers_.size();
  acceptor_.async_accept(*workers_[index], peer_,
                         [this, index](boost::system::error_code ec, net::ip::tcp::socket s) {
                           if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
                           if (ec) {
                             log::warn("accept_failed").str("error", ec.message()).emit();
                             auto timer = std::make_shared<net::steady_timer>(
                                 acceptor_.get_executor(), std::chrono::milliseconds(50));
                             timer->async_wait([this, timer](boost::system::error_code) {
                               if (acceptor_.is_open()) do_accept();
                             });
                             return;
                           }
                           on_accept_(std::move(s), index, peer_);
                           do_accept();
                         });
}

}  // namespace shub
