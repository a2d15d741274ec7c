// harness_ws: a browser tab as a WebSocket client with its own I/O thread (Beast), over a
// plain socket or over TLS (WSS).
#include "harness_ws.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "tls_client.hpp"

namespace shub::itest {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;

// What a tab keeps, whatever its transport.
struct ws_tab::impl {
  net::io_context ioc;
  std::thread thread;
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> frames;
  std::deque<std::pair<std::string, bool>> out;  // text, binary?
  bool writing = false;
  bool stalled = false;
  int close = 0;
  std::string reason;
  std::chrono::steady_clock::time_point last_frame{};
  std::optional<tls_session_info> tls;

  virtual ~impl() = default;
  virtual void read() = 0;
  virtual void write() = 0;
  virtual void cancel() = 0;  // the pending read and write end; the TCP connection stays
};

namespace {

// The opening handshake's limit: a hub that accepts the TCP connection and then says
// nothing (stopped, or its loop wedged) fails the constructor instead of hanging the test.
constexpr auto handshake_timeout = 5s;

template <class Next>
struct tab_impl final : ws_tab::impl {
  std::shared_ptr<net::ssl::context> ctx;  // TLS only; before the stream that uses it
  websocket::stream<Next> ws;
  beast::flat_buffer buf;

  tab_impl() requires(!std::is_same_v<Next, beast::ssl_stream<beast::tcp_stream>>) : ws(ioc) {}
  explicit tab_impl(std::shared_ptr<net::ssl::context> c) : ctx(std::move(c)), ws(ioc, *ctx) {}

  void read() override {
    ws.async_read(buf, [this](beast::error_code ec, std::size_t) {
      std::lock_guard lock(mutex);
      if (ec == net::error::operation_aborted && stalled) return;  // stall(): silent, still open
      if (ec) {
        close = ec == websocket::error::closed ? ws.reason().code : -1;
        reason = std::string(ws.reason().reason.c_str());
        cv.notify_all();
        return;
      }
      frames.push_back(beast::buffers_to_string(buf.data()));
      last_frame = std::chrono::steady_clock::now();
      buf.consume(buf.size());
      cv.notify_all();
      if (!stalled) read();
    });
  }
  void write() override {
    if (out.empty()) {
      writing = false;
      return;
    }
    writing = true;
    ws.binary(out.front().second);
    ws.async_write(net::buffer(out.front().first), [this](beast::error_code ec, std::size_t) {
      out.pop_front();
      if (ec) {
        out.clear();
        writing = false;
        return;
      }
      write();
    });
  }

  void cancel() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().cancel(ec);
  }

  // Connects, then the TLS handshake (WSS) and the WebSocket one, each with a deadline; the
  // I/O thread starts after. Throws with the reason.
  void open(int port, const std::string& origin, const std::string& cookie, int recv_buffer_bytes,
            const tls_client_options* tls_options);
};

template <class Next>
void tab_impl<Next>::open(int port, const std::string& origin, const std::string& cookie,
                          int recv_buffer_bytes, const tls_client_options* tls_options) {
  constexpr bool secure = !std::is_same_v<Next, beast::tcp_stream>;
  auto& stream = beast::get_lowest_layer(ws);
  stream.socket().open(net::ip::tcp::v4());
  if (recv_buffer_bytes > 0)  // before connecting, so that the window is sized by it
    stream.socket().set_option(net::socket_base::receive_buffer_size(recv_buffer_bytes));
  if constexpr (secure) {
    ws.next_layer().set_verify_callback(net::ssl::host_name_verification(tls_options->host));
  } else {
    (void)tls_options;
  }
  ws.set_option(websocket::stream_base::decorator([origin, cookie](websocket::request_type& r) {
    if (!origin.empty()) r.set(bhttp::field::origin, origin);
    if (!cookie.empty()) r.set(bhttp::field::cookie, cookie);
    r.set(bhttp::field::sec_websocket_protocol, "sessionhub.v1");
  }));
  websocket::stream_base::timeout limits{};
  limits.handshake_timeout = handshake_timeout;
  limits.idle_timeout = websocket::stream_base::none();
  limits.keep_alive_pings = false;
  ws.set_option(limits);

  // Connect and handshake on this thread, each with a deadline; the I/O thread starts after.
  // Run until the handshake ends, not until the context is idle: a refused handshake leaves
  // its timer pending.
  websocket::response_type res;
  beast::error_code ec;
  bool done = false;
  stream.expires_after(handshake_timeout);
  const auto upgrade = [&] {
    stream.expires_never();  // the WebSocket layer times the rest
    ws.async_handshake(res, "127.0.0.1", "/v1/ws", [&](beast::error_code shaken) {
      ec = shaken;
      done = true;
    });
  };
  stream.async_connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)},
                       [&](beast::error_code connected) {
                         if ((ec = connected)) {
                           done = true;
                           return;
                         }
                         if constexpr (secure) {
                           // The TLS handshake is under the connect's deadline too.
                           ws.next_layer().async_handshake(
                               net::ssl::stream_base::client, [&](beast::error_code shaken) {
                                 if ((ec = shaken)) {
                                   done = true;
                                   return;
                                 }
                                 tls = session_info(ws.next_layer().native_handle());
                                 upgrade();
                               });
                         } else {
                           upgrade();
                         }
                       });
  while (!done && ioc.run_one() > 0) {
  }
  ioc.restart();
  if (ec) {
    throw std::runtime_error(std::string(secure ? "WSS" : "WebSocket") + " handshake on port " +
                             std::to_string(port) + " failed: " +
                             (res.result_int() != 0
                                  ? "refused with HTTP " + std::to_string(res.result_int())
                                  : ec.message()));
  }
  read();
  thread = std::thread([this] { ioc.run(); });
}

}  // namespace

ws_tab::ws_tab(int port, std::string origin, std::string cookie, int recv_buffer_bytes) {
  auto tab = std::make_unique<tab_impl<beast::tcp_stream>>();
  tab->open(port, origin, cookie, recv_buffer_bytes, nullptr);
  impl_ = std::move(tab);
}

ws_tab::ws_tab(int port, const tls_client_options& tls, std::string origin, std::string cookie,
               int recv_buffer_bytes) {
  auto tab =
      std::make_unique<tab_impl<beast::ssl_stream<beast::tcp_stream>>>(make_client_context(tls));
  tab->open(port, origin, cookie, recv_buffer_bytes, &tls);
  impl_ = std::move(tab);
}

ws_tab::~ws_tab() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void ws_tab::send(const std::string& text) {
  net::post(impl_->ioc, [this, text] {
    impl_->out.emplace_back(text, false);
    if (!impl_->writing) impl_->write();
  });
}

void ws_tab::send_binary(const std::string& bytes) {
  net::post(impl_->ioc, [this, bytes] {
    impl_->out.emplace_back(bytes, true);
    if (!impl_->writing) impl_->write();
  });
}

std::optional<json> ws_tab::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->frames.empty(); }))
    return std::nullopt;
  json d;
  d.Parse(impl_->frames.front().c_str());
  impl_->frames.pop_front();
  return d;
}

std::optional<json> ws_tab::wait_type(const std::string& type, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto f = next(left);
    if (!f) return std::nullopt;
    if (f->IsObject() && f->HasMember("type") && (*f)["type"] == type.c_str()) return f;
  }
}

std::optional<json> ws_tab::wait_event(const std::string& event,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto f = wait_type("event", left);
    if (!f) return std::nullopt;
    if ((*f)["event"] == event.c_str()) return f;
  }
}

int ws_tab::close_code(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->cv.wait_for(lock, timeout, [&] { return impl_->close != 0; });
  return impl_->close;
}

std::string ws_tab::close_reason() {
  std::lock_guard lock(impl_->mutex);
  return impl_->reason;
}

void ws_tab::stall() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stalled = true;
  }
  // Cancel the pending read: Beast answers pings inside a read, and a stalled tab must
  // neither read nor pong. The TCP connection stays open.
  net::post(impl_->ioc, [this] { impl_->cancel(); });
}

std::size_t ws_tab::pending() {
  std::lock_guard lock(impl_->mutex);
  return impl_->frames.size();
}

std::chrono::steady_clock::time_point ws_tab::last_frame_at() {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_frame;
}

std::optional<tls_session_info> ws_tab::tls_session() const {
  return impl_->tls;
}

std::unique_ptr<ws_tab> authed_tab(int port, const std::string& token) {
  auto tab = std::make_unique<ws_tab>(port);
  tab->auth(token);
  if (!tab->wait_type("ready", 5s)) throw std::runtime_error("no ready frame");
  return tab;
}

}  // namespace shub::itest
