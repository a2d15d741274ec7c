// http_session: the HTTP request loop. Errors from the network are answered where an
// answer is still possible (400, 413, 431) and logged at debug; they never reach a handler.
#include "http_session.hpp"

#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>

#include <boost/beast/websocket/rfc6455.hpp>

#include "auth/session_service.hpp"
#include "log.hpp"
#include "ws_connection.hpp"
#include "ws_tls.hpp"
#include "ws_wire.hpp"

namespace shub {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {
// How long a TLS close may take to write its close_notify before the socket is just closed.
constexpr auto tls_close_timeout = std::chrono::seconds(2);
// A request head in one read.
constexpr std::size_t read_buffer_bytes = 2048;
}  // namespace

template <class Stream>
http_session<Stream>::http_session(net::ip::tcp::socket&& socket, tls_context_ptr tls, worker& w,
                                   hub_state& hub, const router& routes, bool loopback_plain,
                                   std::string client_ip)
    : stream_(open(std::move(socket), tls.get())),
      worker_(w),
      hub_(hub),
      routes_(routes),
      client_ip_(std::move(client_ip)),
      loopback_plain_(loopback_plain) {
  if constexpr (is_tls) tls_ = std::move(tls);
  // Beast reads at most the buffer's free capacity (512 bytes while it is empty): a
  // browser's upgrade, with its cookies, or one carrying its token, took two reads.
  buffer_.reserve(read_buffer_bytes);
}

template <class Stream>
Stream http_session<Stream>::open(net::ip::tcp::socket&& socket, net::ssl::context* ctx) {
  if constexpr (is_tls) {
    return Stream(std::move(socket), *ctx);
  } else {
    (void)ctx;
    return Stream(std::move(socket));
  }
}

template <class Stream>
void http_session<Stream>::run() {
  if constexpr (is_tls) {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_handshake, this->shared_from_this()));
  } else {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_read, this->shared_from_this()));
  }
}

template <class Stream>
void http_session<Stream>::do_handshake() {
  if constexpr (is_tls) {
    // A client that opens the connection and then says nothing, or dribbles its ClientHello,
    // holds a descriptor: the handshake has its own deadline.
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::seconds(hub_.cfg.tls_handshake_timeout_s));
    stream_.async_handshake(
        net::ssl::stream_base::server,
        beast::bind_front_handler(&http_session::on_handshake, this->shared_from_this()));
  }
}

template <class Stream>
void http_session<Stream>::on_handshake(beast::error_code ec) {
  if constexpr (is_tls) {
    if (!ec) return do_read();
    // A peer that left without a word (a port probe, a TCP health check) is worth a debug
    // line only; plain HTTP, an old protocol version, no shared cipher, a timeout: info.
    const bool left = ec == net::error::eof || ec == net::ssl::error::stream_truncated ||
                      ec == net::error::connection_reset;
    log::line(left ? log::level::debug : log::level::info, "tls_handshake_failed")
        .str("ip", client_ip_)
        .str("reason", ec == beast::error::timeout ? std::string("timeout") : ec.message())
        .emit();
    beast::get_lowest_layer(stream_).close();
  } else {
    (void)ec;
  }
}

template <class Stream>
void http_session<Stream>::do_read() {
  parser_.emplace();
  parser_->body_limit(static_cast<std::uint64_t>(hub_.cfg.max_body_bytes));
  parser_->header_limit(static_cast<std::uint32_t>(hub_.cfg.max_header_bytes));
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(hub_.cfg.http_timeout_s));
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
}

template <class Stream>
void http_session<Stream>::on_read(beast::error_code ec, std::size_t) {
  if (ec == beast::error::timeout && parser_->got_some()) {
    // Part of a request, and not the rest in --http-timeout-s: a slow or stalled client.
    log::debug("http_timeout").str("ip", client_ip_).emit();
  }
  if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
      ec == beast::error::timeout || ec == net::error::connection_reset) {
    return do_close();
  }
  if constexpr (is_tls) {
    // The TLS layer failed (a bad record, a peer that left without close_notify): nothing
    // can be answered on it.
    if (ec == net::ssl::error::stream_truncated ||
        ec.category() == net::error::get_ssl_category()) {
      log::debug("tls_read_failed").str("ip", client_ip_).str("error", ec.message()).emit();
      return beast::get_lowest_layer(stream_).close();
    }
  }
  if (!ec &&
      header_block_bytes(parser_->get()) > static_cast<std::size_t>(hub_.cfg.max_header_bytes)) {
    // Beast left the request line out of its count; the limit is on the whole block.
    ec = http::error::header_limit;
  }
  if (!ec && parser_->get().count(http::field::transfer_encoding) > 0 && !parser_->chunked()) {
    // RFC 9112 §6.3: unless chunked is the final coding the body's length is unknown, and
    // reading on would take the body for the next request (smuggling, behind a proxy).
    ec = http::error::bad_transfer_encoding;
  }
  hub_.requests_in_flight.fetch_add(1);  // until its answer is written (on_write)
  if (ec) {
    // The request cannot be read to its end: answer what we can and close.
    http_request dummy{http::verb::get, "/", 11};
    log::debug("http_bad_request").str("ip", client_ip_).str("error", ec.message()).emit();
    if (ec == http::error::body_limit) {
      return send(
          problem(http::status::payload_too_large, "payload_too_large",
                  "the body is larger than " + std::to_string(hub_.cfg.max_body_bytes) + " bytes"),
          dummy);
    }
    if (ec == http::error::header_limit) {
      return send(problem(http::status::request_header_fields_too_large, "headers_too_large"),
                  dummy);
    }
    return send(problem(http::status::bad_request, "invalid_request", ec.message()), dummy);
  }
  handle(std::make_shared<http_request>(parser_->release()));
}

template <class Stream>
void http_session<Stream>::handle(std::shared_ptr<http_request> req) {
  hub_.stats.http_requests.add();
  const std::string_view target = origin_form(req->target());
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

  if (boost::beast::websocket::is_upgrade(*req)) return upgrade(std::move(req), path);

  // CORS preflight: answered here for every path, allowed origins only.
  if (req->method() == http::verb::options && req->count(http::field::origin)) {
    const std::string_view origin = (*req)[http::field::origin];
    if (!hub_.origin_allowed(origin)) {
      return send(problem(http::status::forbidden, "origin_not_allowed"), *req);
    }
    http_response res{http::status::no_content, 11};
    res.set(http::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
    res.set(http::field::access_control_max_age, "600");
    return send(std::move(res), *req);
  }

  route_match m = routes_.match(req->method(), path);
  if (!m.found) {
    if (m.bad_escape) {
      return send(problem(http::status::bad_request, "invalid_request", "bad percent-escape"),
                  *req);
    }
    if (!m.allow.empty()) {
      http_response res = problem(http::status::method_not_allowed, "method_not_allowed");
      res.set(http::field::allow, m.allow);
      return send(std::move(res), *req);
    }
    return send(problem(http::status::not_found, "not_found"), *req);
  }

  auto ctx = std::make_shared<request_context>(
      request_context{*req, path, query, std::move(m.params), client_ip_, !loopback_plain_});
  const route* r = m.found;
  if (r->where == run_on::network) {
    // Answered after the handlers the request queued on this worker: a publish's frames
    // reach this worker's tabs before the publisher hears back.
    return net::post(stream_.get_executor(),
                     [self = this->shared_from_this(), req, res = r->handler(*ctx)]() mutable {
                       self->send(std::move(res), *req);
                     });
  }
  net::post(hub_.pool, [self = this->shared_from_this(), req, ctx, r] {
    http_response res;
    try {
      res = r->handler(*ctx);
    } catch (const std::exception& e) {
      // A handler bug must not take the process down; the client gets a 500.
      log::error("handler_exception").str("path", ctx->path).str("error", e.what()).emit();
      res = problem(http::status::internal_server_error, "internal_error");
    }
    net::post(self->stream_.get_executor(),
              [self, req, res = std::move(res)]() mutable { self->send(std::move(res), *req); });
  });
}

template <class Stream>
void http_session<Stream>::upgrade(std::shared_ptr<http_request> req, std::string_view path) {
  if (path != "/v1/ws") return send(problem(http::status::not_found, "not_found"), *req);
  // RFC 6455 §4.2.1's fields (method, Upgrade and Connection were checked by is_upgrade).
  const auto field = [&](http::field f) -> std::optional<std::string_view> {
    const auto it = req->find(f);
    if (it == req->end()) return std::nullopt;
    return std::string_view(it->value());
  };
  const auto key = field(http::field::sec_websocket_key);
  const auto version = field(http::field::sec_websocket_version);
  const auto check =
      ws::check_handshake(field(http::field::host).value_or(""), key.value_or(""),
                          version.value_or(""), key.has_value(), version.has_value());
  if (check.status != 0) {
    log::info("ws_handshake_refused").str("ip", client_ip_).str("error", check.reason).emit();
    if (check.status == 426) {
      http_response res =
          problem(http::status::upgrade_required, "upgrade_required", std::string(check.reason));
      res.set(http::field::sec_websocket_version, "13");
      return send(std::move(res), *req);
    }
    return send(problem(http::status::bad_request, "invalid_request", std::string(check.reason)),
                *req);
  }
  // Cross-site WebSocket hijacking: only configured browser origins may open a socket.
  const auto origin = req->find(http::field::origin);
  const bool allowed =
      origin == req->end() ? hub_.any_origin() : hub_.origin_allowed(origin->value());
  if (!allowed) {
    log::info("ws_origin_refused")
        .str("ip", client_ip_)
        .str("origin",
             origin == req->end() ? std::string_view{"(none)"} : std::string_view(origin->value()))
        .emit();
    return send(problem(http::status::forbidden, "origin_not_allowed"), *req);
  }
  if (hub_.draining.load()) {
    return send(problem(http::status::service_unavailable, "draining"), *req);
  }
  if (const auto wait = hub_.ws_connect_limiter.acquire(client_ip_, hub_.clock.now_ms())) {
    hub_.stats.http_rate_limited.add();
    http_response res = problem(http::status::too_many_requests, "rate_limited",
                                "too many WebSocket connections opened from this address");
    res.set(http::field::retry_after, std::to_string(wait));
    return send(std::move(res), *req);
  }
  if (!hub_.acquire_ip(client_ip_)) {
    hub_.stats.http_rate_limited.add();
    log::warn("ws_ip_limit").str("ip", client_ip_).emit();
    http_response res = problem(http::status::too_many_requests, "too_many_connections",
                                "too many WebSocket connections from this address");
    res.set(http::field::retry_after, "5");
    return send(std::move(res), *req);
  }
  std::string did;
  if (const auto c = req->find(http::field::cookie); c != req->end()) {
    did = std::string(cookie_value(c->value(), device_cookie).value_or(""));
  }
  const bool fresh = !plausible_device_id(did);
  if (fresh) did = auth::session_service::new_id();
  hub_.requests_in_flight.fetch_sub(1);  // the socket is the connection's from here on
  // Bytes the client sent after its request (its first frames) were read with it.
  std::string early = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  std::shared_ptr<ws_connection> conn;
  if constexpr (is_tls) {
    // The TLS session goes with the connection; its own socket member stays unopened.
    conn = std::make_shared<ws_connection>(
        net::ip::tcp::socket(worker_.context()),
        std::make_unique<ws_tls>(std::move(stream_), std::move(tls_)), worker_, hub_, client_ip_,
        std::move(did), fresh);
  } else {
    conn = std::make_shared<ws_connection>(stream_.release_socket(), nullptr, worker_, hub_,
                                           client_ip_, std::move(did), fresh);
  }
  conn->start(*req, std::move(early));
}

template <class Stream>
void http_session<Stream>::add_cors(http_response& res, const http_request& req) const {
  const auto it = req.find(http::field::origin);
  if (it == req.end()) return;
  if (res.find(http::field::vary) == res.end()) res.set(http::field::vary, "Origin");
  if (!hub_.origin_allowed(it->value())) return;
  res.set(http::field::access_control_allow_origin, it->value());
  res.set(http::field::access_control_allow_credentials, "true");
}

template <class Stream>
void http_session<Stream>::send(http_response res, const http_request& req) {
  const bool close = !req.keep_alive() || hub_.draining.load() ||
                     res.result() == http::status::payload_too_large ||
                     res.result() == http::status::request_header_fields_too_large ||
                     res.result() == http::status::bad_request;
  res.version(11);
  res.keep_alive(!close);
  res.set(http::field::server, "sessionhub");
  res.set("X-Content-Type-Options", "nosniff");
  add_cors(res, req);
  if (req.method() == http::verb::head) {
    const auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  } else if (res.result() != http::status::not_modified) {
    res.prepare_payload();
  }
  auto shared = std::make_shared<http_response>(std::move(res));
  http::async_write(stream_, *shared,
                    [self = this->shared_from_this(), shared, close](
                        beast::error_code ec, std::size_t n) { self->on_write(close, ec, n); });
}

template <class Stream>
void http_session<Stream>::on_write(bool close, beast::error_code ec, std::size_t) {
  hub_.requests_in_flight.fetch_sub(1);
  if (ec || close) return do_close();
  do_read();
}

template <class Stream>
void http_session<Stream>::do_close() {
  if constexpr (is_tls) {
    // close_notify, so the client knows the response is whole.
    send_close_notify(stream_, tls_close_timeout,
                      [self = this->shared_from_this()](beast::error_code) {
                        beast::get_lowest_layer(self->stream_).close();
                      });
  } else {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  }
}

template class http_session<beast::tcp_stream>;
template class http_session<tls_stream>;

}  // namespace shub
