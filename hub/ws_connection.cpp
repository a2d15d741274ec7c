// ws_connection: the WebSocket's I/O — the upgrade's answer, the read loop and the frame
// parser's events, the corked gather writes, pings, timeouts and the closing handshake.
// What each client frame means is in ws_frames.cpp.
#include "ws_connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>

#include "auth/clock.hpp"
#include "cookies.hpp"
#include "hub_state.hpp"
#include "log.hpp"
#include "worker.hpp"
#include "ws_tls.hpp"

namespace shub {

namespace net = boost::asio;
using boost::system::error_code;

namespace {

std::int64_t now_ms() {
  return auth::system_clock{}.now_ms();
}

// A close that cannot complete (the peer stopped reading or answering) is cut off after this.
constexpr std::int64_t close_grace_ms = 5000;
// Frames gathered into one write.
constexpr std::size_t max_gather = 64;
// Reads in a row for one connection before others get their turn.
constexpr int max_reads_per_turn = 4;

error_code system_error() {
  return {errno, boost::system::system_category()};
}

bool would_block(const error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again;
}

// Each entry of the request's Sec-WebSocket-Protocol list, trimmed.
template <class Visit>
void for_each_subprotocol(const http_request& req, Visit visit) {
  const auto it = req.find(http::field::sec_websocket_protocol);
  if (it == req.end()) return;
  std::string_view list = it->value();
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    visit(item);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

constexpr std::string_view subprotocol = "sessionhub.v1";
constexpr std::string_view auth_entry = "sessionhub.auth.";

}  // namespace

ws_connection::ws_connection(net::ip::tcp::socket&& socket, std::unique_ptr<ws_tls> tls, worker& w,
                             hub_state& hub, std::string client_ip, std::string device_id,
                             bool device_fresh)
    : socket_(std::move(socket)),
      tls_(std::move(tls)),
      parser_(static_cast<std::uint64_t>(hub.cfg.ws_max_frame_bytes)),
      queue_(static_cast<std::size_t>(hub.cfg.ws_queue_frames),
             static_cast<std::size_t>(hub.cfg.ws_queue_bytes)),
      worker_(w),
      hub_(hub),
      ip_(std::move(client_ip)),
      did_(std::move(device_id)),
      did_fresh_(device_fresh) {
  opened_ms_ = last_recv_ms_ = last_ping_ms_ = rate_updated_ms_ = now_ms();
  // The first ping comes after a random half to whole interval: tabs that connected
  // together (a reconnect storm, a restart) then do not all ping, and answer, at once.
  thread_local std::minstd_rand jitter{std::random_device{}()};
  last_ping_ms_ -= std::uniform_int_distribution<std::int64_t>(
      0, std::max<std::int64_t>(0, hub.cfg.ping_interval_s * 500))(jitter);
  rate_tokens_ = static_cast<double>(hub.cfg.ws_rate_limit * 2);
  hub_.stats.connections_current.add();
  hub_.stats.connections_total.add();
}

ws_connection::~ws_connection() {
  hub_.stats.connections_current.sub();
  hub_.release_ip(ip_);
}

void ws_connection::start(const http_request& req, std::string early) {
  // The listener set TCP_NODELAY; reads and writes pass MSG_DONTWAIT, so the socket's own
  // blocking mode does not matter and costs no system call to change.
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  head += ws::accept_key(req[http::field::sec_websocket_key]);
  head += "\r\nServer: sessionhub\r\n";
  // A browser cannot set headers on a WebSocket, but it can offer subprotocols: next to
  // sessionhub.v1, "sessionhub.auth.<access token>" is the `auth` frame sent with the
  // upgrade, and `ready` follows the 101 without waiting a round trip for it. Only
  // sessionhub.v1 is ever echoed.
  bool v1 = false;
  std::optional<std::string> token;
  for_each_subprotocol(req, [&](std::string_view item) {
    if (item == subprotocol) v1 = true;
    if (item.substr(0, auth_entry.size()) == auth_entry && !token) {
      token = std::string(item.substr(auth_entry.size()));
    }
  });
  if (v1) head.append("Sec-WebSocket-Protocol: ").append(subprotocol).append("\r\n");
  if (did_fresh_) {
    head += "Set-Cookie: ";
    head += device_set_cookie(hub_.cookies, did_);
    head += "\r\n";
  }
  head += "\r\n";
  worker_.attach(this);
  enqueue(queued_frame{std::make_shared<const std::string>(std::move(head)), 0}, false);
  if (v1 && token) {
    hub_.stats.auth_in_upgrade.add();
    start_auth(std::move(*token), false, 0);
  }
  if (!early.empty() && phase_ != phase::closed) parse(early.data(), early.size());
  if (phase_ != phase::closed) wait_readable();
}

// ---- reading ---------------------------------------------------------------------------

void ws_connection::wait_readable() {
  if (tls_) return tls_read();
  socket_.async_wait(net::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](error_code ec) { self->on_readable(ec); });
}

void ws_connection::on_readable(error_code ec) {
  if (phase_ == phase::closed) return;
  if (ec) return read_failed(ec);
  std::vector<char>& buf = worker_.read_buffer();
  for (int turn = 0; turn < max_reads_per_turn; ++turn) {
    const ssize_t got = ::recv(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait_readable();
    if (got <= 0) return read_failed(got == 0 ? error_code(net::error::eof) : system_error());
    const auto n = static_cast<std::size_t>(got);
    last_recv_ms_ = now_ms();
    parse(buf.data(), n);
    if (phase_ == phase::closed) return;
    // A short read emptied the socket: what arrives next raises a new edge, so there is
    // no need to spend a read on being told "would block".
    if (n < buf.size()) return wait_readable();
  }
  // Still more to read: let the worker's other connections run first. The socket was not
  // read dry, so waiting for it (edge-triggered) would wait forever; come back directly.
  net::post(socket_.get_executor(), [self = shared_from_this()] { self->on_readable({}); });
}

void ws_connection::read_failed(error_code ec) {
  // Closed here (aborted), or the peer went away or reset without a closing handshake: the
  // usual ends need no log line.
  if (ec != net::error::operation_aborted && ec != net::error::eof &&
      ec != net::error::connection_reset && ec != net::ssl::error::stream_truncated) {
    log::debug("ws_read_failed").str("ip", ip_).str("sid", sid_).str("error", ec.message()).emit();
  }
  teardown();
}

void ws_connection::parse(char* data, std::size_t size) {
  if (parser_failed_) return;  // lingering after a violation: the rest is discarded
  if (const auto v = parser_.feed(data, size, *this)) {
    parser_failed_ = true;
    log::info("ws_protocol_error")
        .str("ip", ip_)
        .str("sid", sid_)
        .num("code", v->code)
        .str("error", v->reason)
        .emit();
    if (phase_ >= phase::closing) {
      // Our close is out or on its way; the peer broke the protocol answering it.
      after_close_ = after_close::linger;
      if (queue_.empty()) written_out();
      return;
    }
    send_close(v->code, v->reason, after_close::linger);
  }
}

bool ws_connection::on_message(ws::opcode op, std::string_view payload) {
  if (phase_ >= phase::closing || close_after_queue_ != 0) return true;  // closing: discarded
  const std::int64_t now = last_recv_ms_;
  const double rate = static_cast<double>(hub_.cfg.ws_rate_limit);
  rate_tokens_ = std::min(
      rate * 2, rate_tokens_ + static_cast<double>(now - rate_updated_ms_) * rate / 1000.0);
  rate_updated_ms_ = now;
  if (rate_tokens_ < 1.0) {
    hub_.stats.rate_limited_closes.add();
    log::warn("ws_rate_limited").str("ip", ip_).str("sid", sid_).emit();
    fail("rate_limited", "too many frames; slow down", close_code::slow_or_limited);
    return true;
  }
  rate_tokens_ -= 1.0;
  if (op != ws::opcode::text) {
    fail("invalid_frame", "binary frames are not part of sessionhub.v1",
         ws::code::unsupported_data);
    return true;
  }
  on_frame(payload);
  return phase_ != phase::closed;
}

bool ws_connection::on_ping(std::string_view payload) {
  if (phase_ >= phase::closing) return true;
  // A pong answers the ping it echoes; past the queue's bound the peer is not reading.
  enqueue(frame(ws::opcode::pong, payload), false);
  return true;
}

bool ws_connection::on_pong(std::string_view) {
  return true;  // last_recv_ms_ is already fresh: any frame proves the peer alive
}

bool ws_connection::on_close(std::uint16_t code, std::string_view reason) {
  if (phase_ >= phase::closing) {
    // The answer to our close: the closing handshake is complete.
    teardown();
    return false;
  }
  log::debug("ws_peer_closed")
      .str("ip", ip_)
      .str("sid", sid_)
      .num("code", code)
      .str("reason", reason)
      .emit();
  // Echo the peer's code (none when it sent none), then the server closes the TCP
  // connection first (RFC 6455 §7.1.1).
  send_close(code, {}, after_close::close_socket);
  return false;
}

// ---- writing ---------------------------------------------------------------------------

queued_frame ws_connection::frame(ws::opcode op, std::string_view payload) {
  return {std::make_shared<const std::string>(ws::encode(op, payload)), 0};
}

const queued_frame& ws_connection::ping_frame() {
  static const queued_frame ping = frame(ws::opcode::ping, {});
  return ping;
}

void ws_connection::send(const frame_ptr& frame, std::int64_t published_us) {
  if (phase_ != phase::authenticated && phase_ != phase::watching) return;
  enqueue(queued_frame{frame, published_us}, true);
}

void ws_connection::reply(std::string_view json) {
  enqueue(frame(ws::opcode::text, json), false);
}

void ws_connection::enqueue(queued_frame f, bool is_event) {
  if (phase_ >= phase::closing) {
    if (is_event) hub_.stats.events_dropped.add();
    return;
  }
  if (!queue_.push(std::move(f))) {
    if (is_event) hub_.stats.events_dropped.add();
    hub_.stats.slow_consumer_kicks.add();
    log::warn("slow_consumer")
        .str("ip", ip_)
        .str("sid", sid_)
        .num("queued_frames", static_cast<std::int64_t>(queue_.size()))
        .num("queued_bytes", static_cast<std::int64_t>(queue_.bytes()))
        .emit();
    return close(close_code::slow_or_limited, "slow consumer");
  }
  schedule_flush();
}

void ws_connection::schedule_flush() {
  if (flush_slot_ == no_slot && !waiting_writable_ && phase_ != phase::closed) {
    worker_.want_flush(this);
  }
}

void ws_connection::flush() {
  if (waiting_writable_ || phase_ == phase::closed) return;
  if (!queue_.empty()) ping_along();
  if (tls_) return tls_flush();
  std::array<iovec, max_gather> iov;
  while (!queue_.empty()) {
    const std::size_t n = std::min(queue_.size(), max_gather);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& data = *queue_.at(i).data;
      const std::size_t skip = i == 0 ? front_written_ : 0;
      iov[i].iov_base = const_cast<char*>(data.data() + skip);  // sendmsg only reads
      iov[i].iov_len = data.size() - skip;
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    const error_code ec = sent < 0 ? system_error() : error_code();
    std::size_t wrote = sent < 0 ? 0 : static_cast<std::size_t>(sent);
    if (would_block(ec)) {
      waiting_writable_ = true;
      socket_.async_wait(net::ip::tcp::socket::wait_write,
                         [self = shared_from_this()](error_code e) { self->on_writable(e); });
      return;
    }
    if (ec) return write_failed(ec);
    const std::int64_t now = wall_clock_us();
    while (wrote > 0) {
      const std::size_t left = queue_.front().data->size() - front_written_;
      if (wrote < left) {
        front_written_ += wrote;
        break;
      }
      wrote -= left;
      front_written_ = 0;
      pop_written(now);
    }
  }
  written_out();
}

void ws_connection::write_failed(error_code ec) {
  // The read side sees the failure too; nothing more can be written either way.
  log::debug("ws_write_failed").str("ip", ip_).str("sid", sid_).str("error", ec.message()).emit();
  hub_.stats.events_dropped.add(static_cast<std::int64_t>(queue_.drop_pending(0)));
  teardown();
}

void ws_connection::pop_written(std::int64_t now) {
  const queued_frame& f = queue_.front();
  if (f.published_us != 0) worker_.note_delivered(f.published_us, now);
  queue_.pop();
}

void ws_connection::on_writable(error_code ec) {
  waiting_writable_ = false;
  if (phase_ == phase::closed) return;
  if (ec) {
    if (ec != net::error::operation_aborted) return teardown();
    return;
  }
  flush();
  worker_.publish_stats();
}

void ws_connection::written_out() {
  if (phase_ < phase::closing) {
    if (close_after_queue_ != 0) close(close_after_queue_, close_reason_);
    return;
  }
  switch (after_close_) {
    case after_close::wait_for_peer:
      return;  // the peer's close (or the grace period in tick) ends it
    case after_close::close_socket:
      return teardown();
    case after_close::linger: {
      // After a violation: stop sending, read and discard until the peer closes, so its
      // unread bytes do not turn our close into a reset that loses the close frame.
      if (tls_) return tls_shutdown_send();
      error_code ignored;
      socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
      return;
    }
  }
}

// ---- closing ---------------------------------------------------------------------------

void ws_connection::send_close(std::uint16_t code, std::string_view reason, after_close then) {
  phase_ = phase::closing;
  after_close_ = then;
  closing_since_ms_ = now_ms();
  // Frames not yet started are dropped; those being written must be finished first.
  const std::size_t started = tls_ ? tls_in_flight() : (front_written_ > 0 ? 1 : 0);
  hub_.stats.events_dropped.add(static_cast<std::int64_t>(queue_.drop_pending(started)));
  const std::string payload =
      code == ws::code::no_status ? std::string() : ws::close_payload(code, reason);
  queue_.push_always(frame(ws::opcode::close, payload));
  schedule_flush();
}

void ws_connection::end_session() {
  close_after_queue_ = close_code::session_ended;
  close_reason_ = "session ended";
  if (queue_.empty()) close(close_code::session_ended, "session ended");
}

void ws_connection::close(std::uint16_t code, std::string_view reason) {
  if (phase_ >= phase::closing) return;
  send_close(code, reason, after_close::wait_for_peer);
}

void ws_connection::tick(std::int64_t now) {
  const auto& cfg = hub_.cfg;
  if (phase_ == phase::closed) return;
  if (phase_ == phase::closing) {
    if (now - closing_since_ms_ > close_grace_ms) teardown();
    return;
  }
  if (now - last_recv_ms_ >= cfg.silent_timeout_s * 1000) {
    log::info("ws_silent_peer").str("ip", ip_).str("sid", sid_).emit();
    return teardown();
  }
  if (phase_ == phase::waiting && calls_in_flight_ == 0 &&
      now - opened_ms_ >= cfg.auth_timeout_s * 1000) {
    return fail("auth_timeout", "no auth, resume or watch frame in time", close_code::auth_timeout);
  }
  if (phase_ == phase::authenticated && token_exp_s_ > 0 &&
      now / 1000 - cfg.clock_leeway_s > token_exp_s_) {
    return fail("token_expired", "the access token expired; send a fresh one",
                close_code::auth_failed);
  }
  if (now - last_ping_ms_ >= cfg.ping_interval_s * 1000 && queue_.empty()) {
    // Only with nothing queued: a ping then never waits behind a stuck write, and a peer
    // that reads nothing is caught by the queue bound or the silence check.
    last_ping_ms_ = now;
    enqueue(ping_frame(), false);
  }
}

void ws_connection::ping_along() {
  // A ping due within the last quarter of its interval goes out with the frames being
  // written anyway: one write instead of two, and a tab that gets events wakes once for
  // both. The worker's sweep clock (at most a sweep step old) is precise enough here.
  const std::int64_t interval_ms = hub_.cfg.ping_interval_s * 1000;
  const std::int64_t now = worker_.sweep_clock_ms();
  if (phase_ >= phase::closing || now - last_ping_ms_ < interval_ms - interval_ms / 4) return;
  if (queue_.push(ping_frame())) last_ping_ms_ = now;
}

void ws_connection::subscribe(std::string channel) {
  for (const auto& c : channels_) {
    if (c == channel) return;
  }
  worker_.channels().subscribe(channel, this);
  channels_.push_back(std::move(channel));
}

void ws_connection::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  phase_ = phase::closed;
  for (const auto& ch : channels_)
    worker_.channels().unsubscribe(ch, this);
  channels_.clear();
  worker_.cancel_flush(this);
  worker_.detach(this);
  if (attached_) hub_.timers.detach(sid_);
  attached_ = false;
  if (counted_auth_) hub_.stats.connections_authenticated.sub();
  if (counted_watch_) hub_.stats.connections_watching.sub();
  counted_auth_ = counted_watch_ = false;
  const auto lost = queue_.drop_pending(0);
  hub_.stats.events_dropped.add(static_cast<std::int64_t>(lost));
  if (tls_) return tls_close();
  error_code ec;
  socket_.close(ec);  // pending waits end with operation_aborted and let go of this object
}

}  // namespace shub
