// ws_connection over TLS (WSS): reads into the connection's own buffer through OpenSSL, one
// async_write of the queued frames at a time, and a close that sends close_notify. What the
// bytes mean — the parser, the queue's bound, the closing handshake — is ws_connection.cpp's,
// unchanged; these replace only its socket calls. See ws_tls.hpp for why the shape differs.
#include <boost/asio/write.hpp>

#include "auth/clock.hpp"
#include "log.hpp"
#include "ws_connection.hpp"
#include "ws_tls.hpp"

namespace shub {

namespace net = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

namespace {

// Frames copied into one write, at most, and the bytes that stop the copying early: a
// burst is written in pieces of about this size rather than copied whole first.
constexpr std::size_t max_gather = 64;
constexpr std::size_t gather_bytes = 16 * 1024;
// A write buffer larger than this is given back after the write (an idle tab keeps none).
constexpr std::size_t keep_out_bytes = 1024;
// How long the close_notify may take to be written before the socket is just closed.
constexpr auto close_notify_timeout = std::chrono::seconds(2);

}  // namespace

std::size_t ws_connection::tls_in_flight() const {
  return tls_->in_flight;
}

void ws_connection::tls_read() {
  tls_->stream.async_read_some(
      net::buffer(tls_->in),
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_tls_read(ec, n); });
}

void ws_connection::on_tls_read(error_code ec, std::size_t n) {
  if (phase_ == phase::closed) return;
  if (ec) {
    tls_->read_failed = true;
    return read_failed(ec);
  }
  last_recv_ms_ = auth::system_clock{}.now_ms();
  parse(tls_->in.data(), n);
  if (phase_ != phase::closed) tls_read();
}

void ws_connection::tls_flush() {
  if (queue_.empty()) return written_out();
  ws_tls& t = *tls_;
  t.out.clear();
  std::size_t n = 0;
  while (n < queue_.size() && n < max_gather && t.out.size() < gather_bytes) {
    t.out += *queue_.at(n).data;
    ++n;
  }
  // The frames stay queued (and counted against the bound) until they are written.
  t.in_flight = n;
  waiting_writable_ = true;
  net::async_write(
      t.stream, net::buffer(t.out),
      [self = shared_from_this()](error_code e, std::size_t) { self->on_tls_written(e); });
}

void ws_connection::on_tls_written(error_code ec) {
  waiting_writable_ = false;
  ws_tls& t = *tls_;
  const std::size_t n = t.in_flight;
  t.in_flight = 0;
  if (t.out.capacity() > keep_out_bytes) {
    std::string().swap(t.out);
  } else {
    t.out.clear();
  }
  if (phase_ == phase::closed) return;  // torn down meanwhile: the queue is gone
  if (ec) return write_failed(ec);
  const std::int64_t now = wall_clock_us();
  for (std::size_t i = 0; i < n; ++i)
    pop_written(now);
  flush();
  worker_.publish_stats();
}

void ws_connection::tls_shutdown_send() {
  error_code ignored;
  beast::get_lowest_layer(tls_->stream)
      .socket()
      .shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

void ws_connection::tls_close() {
  ws_tls& t = *tls_;
  auto& tcp = beast::get_lowest_layer(t.stream);
  if (waiting_writable_ || t.read_failed) {
    // A write that is not finishing (a peer that does not read) or a peer that is gone:
    // nothing more can be said, and pending operations end with operation_aborted.
    tcp.close();
    return;
  }
  // The close after the WebSocket's closing handshake, as a TLS peer expects it: our
  // close_notify, then our FIN, then whatever the peer still sends (its own close_notify) read
  // and dropped until its FIN, so that closing never meets unread data and turns into a
  // reset the peer may see before our close_notify. All of it within close_notify_timeout.
  // The pending TLS read goes first (it ends with operation_aborted).
  error_code ignored;
  tcp.socket().cancel(ignored);
  send_close_notify(t.stream, close_notify_timeout, [self = shared_from_this()](error_code ec) {
    auto& socket = beast::get_lowest_layer(self->tls_->stream);
    if (ec) return socket.close();
    error_code e;
    socket.socket().shutdown(net::ip::tcp::socket::shutdown_send, e);
    self->tls_drain();
  });
}

void ws_connection::tls_drain() {
  beast::get_lowest_layer(tls_->stream)
      .async_read_some(
          net::buffer(tls_->in), [self = shared_from_this()](error_code ec, std::size_t) {
            if (ec) return beast::get_lowest_layer(self->tls_->stream).close();  // FIN, or the time
            self->tls_drain();
          });
}

}  // namespace shub
