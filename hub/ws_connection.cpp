// ws_connection: the WebSocket's I/O — handshake, the read loop, the bounded write queue,
// pings, timeouts and the close. What each client frame means is in ws_frames.cpp.
#include "ws_connection.hpp"

#include <boost/asio/post.hpp>

#include "auth/clock.hpp"
#include "hub_state.hpp"
#include "log.hpp"
#include "worker.hpp"

namespace shub {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

std::int64_t now_ms() {
  return auth::system_clock{}.now_ms();
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A close that cannot complete (the peer stopped reading) is cut off after this.
constexpr std::int64_t close_grace_ms = 5000;
constexpr auto handshake_timeout = std::chrono::seconds(10);

bool offers_subprotocol(const http_request& req, std::string_view name) {
  const auto it = req.find(http::field::sec_websocket_protocol);
  if (it == req.end()) return false;
  std::string_view list = it->value();
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (item == name) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

ws_connection::ws_connection(net::ip::tcp::socket&& socket, worker& w, hub_state& hub,
                             std::string client_ip, std::string device_id, bool device_fresh)
    : ws_(std::move(socket)),
      queue_(static_cast<std::size_t>(hub.cfg.ws_queue_frames),
             static_cast<std::size_t>(hub.cfg.ws_queue_bytes)),
      worker_(w),
      hub_(hub),
      ip_(std::move(client_ip)),
      did_(std::move(device_id)),
      did_fresh_(device_fresh) {
  opened_ms_ = last_recv_ms_ = last_ping_ms_ = rate_updated_ms_ = now_ms();
  rate_tokens_ = static_cast<double>(hub.cfg.ws_rate_limit * 2);
  hub_.stats.connections_current.add();
  hub_.stats.connections_total.add();
}

ws_connection::~ws_connection() {
  hub_.stats.connections_current.sub();
  hub_.release_ip(ip_);
}

void ws_connection::start(http_request req) {
  beast::get_lowest_layer(ws_).expires_never();  // the websocket layer keeps its own time
  websocket::stream_base::timeout opt{};
  opt.handshake_timeout = handshake_timeout;
  opt.idle_timeout = websocket::stream_base::none();
  opt.keep_alive_pings = false;  // pings come from tick(), on our schedule
  ws_.set_option(opt);
  ws_.read_message_max(static_cast<std::uint64_t>(hub_.cfg.ws_max_frame_bytes));
  ws_.auto_fragment(false);
  ws_.control_callback(
      [this](websocket::frame_type, beast::string_view) { last_recv_ms_ = now_ms(); });
  const bool subprotocol = offers_subprotocol(req, "sessionhub.v1");
  std::string set_cookie;
  if (did_fresh_) set_cookie = device_set_cookie(hub_.cookies, did_);
  ws_.set_option(
      websocket::stream_base::decorator([subprotocol, set_cookie](websocket::response_type& res) {
        res.set(http::field::server, "sessionhub");
        if (subprotocol) res.set(http::field::sec_websocket_protocol, "sessionhub.v1");
        if (!set_cookie.empty()) res.insert(http::field::set_cookie, set_cookie);
      }));
  worker_.attach(this);
  auto held = std::make_shared<http_request>(std::move(req));
  ws_.async_accept(
      *held, [self = shared_from_this(), held](beast::error_code ec) { self->on_accept(ec); });
}

void ws_connection::on_accept(beast::error_code ec) {
  if (ec) {
    log::debug("ws_handshake_failed").str("ip", ip_).str("error", ec.message()).emit();
    return teardown();
  }
  phase_ = phase::waiting;
  do_read();
}

void ws_connection::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&ws_connection::on_read, shared_from_this()));
}

void ws_connection::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    // Closed by the peer, by us, or failed by Beast with the RFC 6455 code it sent
    // (1009 too big, 1002 protocol error, 1007 bad UTF-8).
    if (ec != websocket::error::closed && ec != net::error::operation_aborted) {
      log::debug("ws_read_failed")
          .str("ip", ip_)
          .str("sid", sid_)
          .str("error", ec.message())
          .emit();
    }
    return teardown();
  }
  const std::int64_t now = now_ms();
  last_recv_ms_ = now;
  if (phase_ >= phase::closing || close_after_queue_ != 0) {
    buffer_.consume(buffer_.size());
    return do_read();  // keep reading so the close handshake can finish
  }
  const double rate = static_cast<double>(hub_.cfg.ws_rate_limit);
  rate_tokens_ = std::min(
      rate * 2, rate_tokens_ + static_cast<double>(now - rate_updated_ms_) * rate / 1000.0);
  rate_updated_ms_ = now;
  if (rate_tokens_ < 1.0) {
    buffer_.consume(buffer_.size());
    hub_.stats.rate_limited_closes.add();
    log::warn("ws_rate_limited").str("ip", ip_).str("sid", sid_).emit();
    fail("rate_limited", "too many frames; slow down", close_code::slow_or_limited);
    return do_read();
  }
  rate_tokens_ -= 1.0;
  if (!ws_.got_text()) {
    buffer_.consume(buffer_.size());
    fail("invalid_frame", "binary frames are not part of sessionhub.v1",
         static_cast<std::uint16_t>(websocket::close_code::unknown_data));
    return do_read();
  }
  const std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  on_frame(text);
  do_read();
}

void ws_connection::send(const frame_ptr& frame, std::int64_t published_us) {
  if (phase_ != phase::authenticated && phase_ != phase::watching) return;
  enqueue(queued_frame{frame, published_us, false}, true);
}

void ws_connection::reply(std::string frame) {
  enqueue(queued_frame{std::make_shared<const std::string>(std::move(frame)), 0, false}, false);
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
  if (!writing_) do_write();
}

void ws_connection::do_write() {
  if (queue_.empty() || phase_ == phase::closed) {
    writing_ = false;
    if (close_after_queue_ != 0 && phase_ < phase::closing) {
      close(close_after_queue_, close_reason_);
    }
    return;
  }
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(*queue_.front().data),
                  beast::bind_front_handler(&ws_connection::on_write, shared_from_this()));
}

void ws_connection::on_write(beast::error_code ec, std::size_t) {
  const queued_frame& f = queue_.front();
  if (ec) {
    writing_ = false;
    hub_.stats.events_dropped.add(static_cast<std::int64_t>(queue_.drop_pending(false)));
    return;  // the read side sees the failure too and tears down
  }
  if (f.published_us != 0) {
    hub_.stats.events_delivered.add();
    hub_.stats.fanout_latency.record_us(now_us() - f.published_us);
  }
  queue_.pop();
  do_write();
}

void ws_connection::end_session() {
  close_after_queue_ = close_code::session_ended;
  close_reason_ = "session ended";
  if (!writing_ && queue_.empty()) close(close_code::session_ended, "session ended");
}

void ws_connection::close(std::uint16_t code, std::string_view reason) {
  if (phase_ >= phase::closing) return;
  const bool handshaken = phase_ != phase::handshake;
  phase_ = phase::closing;
  closing_since_ms_ = now_ms();
  // Frames not yet started are dropped; the one being written (the front, while
  // writing_) must stay alive until its write completes.
  const auto lost = static_cast<std::int64_t>(queue_.drop_pending(writing_));
  hub_.stats.events_dropped.add(lost);
  if (!handshaken) return teardown();
  ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                  [self = shared_from_this()](beast::error_code) {
                    // The read loop ends with `closed` and tears down; nothing to do here.
                  });
}

void ws_connection::tick(std::int64_t now) {
  const auto& cfg = hub_.cfg;
  if (phase_ == phase::closed) return;
  if (phase_ == phase::closing) {
    if (now - closing_since_ms_ > close_grace_ms) {
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().close(ec);  // pending ops fail; read tears down
    }
    return;
  }
  if (phase_ == phase::handshake) return;  // Beast's handshake timeout covers it
  if (now - last_recv_ms_ >= cfg.silent_timeout_s * 1000) {
    log::info("ws_silent_peer").str("ip", ip_).str("sid", sid_).emit();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    return;
  }
  if (phase_ == phase::waiting && calls_in_flight_ == 0 &&
      now - opened_ms_ >= cfg.auth_timeout_s * 1000) {
    return fail("auth_timeout", "no auth, resume or watch frame in time", close_code::auth_timeout);
  }
  if (phase_ == phase::authenticated && token_exp_s_ > 0 &&
      now / 1000 > token_exp_s_ + cfg.clock_leeway_s) {
    return fail("token_expired", "the access token expired; send a fresh one",
                close_code::auth_failed);
  }
  if (now - last_ping_ms_ >= cfg.ping_interval_s * 1000 && !writing_) {
    // Only when no write is in flight: a ping then never waits behind a stuck write,
    // and a peer that reads nothing is caught by the queue bound or the silence check.
    last_ping_ms_ = now;
    ws_.async_ping({}, [self = shared_from_this()](beast::error_code) {});
  }
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
  worker_.detach(this);
  if (attached_) hub_.timers.detach(sid_);
  attached_ = false;
  if (counted_auth_) hub_.stats.connections_authenticated.sub();
  if (counted_watch_) hub_.stats.connections_watching.sub();
  counted_auth_ = counted_watch_ = false;
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

}  // namespace shub
