// wire: see wire.hpp.
#include "wire.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace shub::load {

namespace {

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
// Lets the kernel pick the source port at connect time, per destination: without it a
// bound socket takes a port that no other destination may reuse.
using bind_no_port = net::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;

bool iequal_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// The value of header `name` (lowercase) in a header block, or empty.
std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view line =
        head.substr(start, (end == std::string_view::npos ? head.size() : end) - start);
    if (iequal_prefix(line, name) && line.size() > name.size() && line[name.size()] == ':') {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ')
        v.remove_prefix(1);
      return v;
    }
    pos = end;
  }
  return {};
}

int status_of(std::string_view head) {
  // "HTTP/1.1 101 Switching Protocols"
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return 0;
  int status = 0;
  std::from_chars(head.data() + 9, head.data() + 12, status);
  return status;
}

}  // namespace

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t find_int(std::string_view text, std::string_view key) {
  std::string needle = "\"";
  needle.append(key).append("\":");
  const std::size_t pos = text.find(needle);
  if (pos == std::string_view::npos) return -1;
  const char* first = text.data() + pos + needle.size();
  std::int64_t v = -1;
  const auto r = std::from_chars(first, text.data() + text.size(), v);
  return r.ec == std::errc() ? v : -1;
}

std::string find_string(std::string_view text, std::string_view key) {
  std::string needle = "\"";
  needle.append(key).append("\":\"");
  const std::size_t pos = text.find(needle);
  if (pos == std::string_view::npos) return {};
  const std::size_t start = pos + needle.size();
  const std::size_t end = text.find('"', start);
  return end == std::string_view::npos ? std::string()
                                       : std::string(text.substr(start, end - start));
}

// --- subscriber ---------------------------------------------------------------------------

subscriber::subscriber(net::io_context& io, lane_buffers& buffers, const subscriber_script& script,
                       const subscriber_events& events, int id, int group)
    : socket_(io),
      buffers_(buffers),
      script_(script),
      events_(events),
      id_(id),
      group_(group),
      mask_seed_(static_cast<std::uint32_t>(id) * 2654435761u + 1u) {}

void subscriber::start(const endpoint_plan& plan, std::string request) {
  request_ = std::move(request);
  started_us_ = now_us();
  boost::system::error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec) socket_.set_option(bind_no_port(true), ec);
  if (!ec) socket_.bind(tcp::endpoint(plan.source, 0), ec);
  if (ec) return end("socket: " + ec.message());
  socket_.async_connect(plan.server, [self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return self->end("connect: " + ec.message());
    self->socket_.set_option(tcp::no_delay(true), ec);
    self->socket_.non_blocking(true, ec);
    self->state_ = state::handshake;
    self->out_ = std::move(self->request_);
    self->flush();
    self->wait_readable();
  });
}

void subscriber::wait_readable() {
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       if (self->state_ == state::closed) return;
                       if (ec) return self->end("wait: " + ec.message());
                       self->on_readable();
                     });
}

void subscriber::on_readable() {
  for (int i = 0; i < 8; ++i) {
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(net::buffer(buffers_.read), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) break;
    if (ec) return end(ec == net::error::eof ? "closed by the server" : "read: " + ec.message());
    if (!consume(buffers_.read.data(), n)) return;
    if (n < buffers_.read.size()) break;
  }
  if (state_ != state::closed) wait_readable();
}

bool subscriber::consume(const char* data, std::size_t size) {
  if (pending_.empty()) {
    pending_.assign(data, size);  // usually a few whole frames: copied once, parsed, cleared
  } else {
    pending_.append(data, size);
  }
  if (state_ == state::handshake) {
    const std::size_t head_end = pending_.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (pending_.size() > 16 * 1024) end("handshake: no end of headers");
      return state_ != state::closed;
    }
    const std::string_view head(pending_.data(), head_end);
    if (status_of(head) != 101) {
      end("handshake: " + std::string(head.substr(0, head.find("\r\n"))));
      return false;
    }
    pending_.erase(0, head_end + 4);
    state_ = state::open;
    script_.on_message(*this, {});
    if (state_ == state::closed) return false;
  }
  return parse_frames();
}

bool subscriber::parse_frames() {
  std::size_t used = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(pending_.data());
  const std::size_t size = pending_.size();
  while (state_ == state::open && size - used >= 2) {
    const unsigned char b0 = p[used], b1 = p[used + 1];
    const bool fin = (b0 & 0x80) != 0;
    const int opcode = b0 & 0x0f;
    std::uint64_t len = b1 & 0x7f;
    std::size_t header = 2;
    if (len == 126) {
      if (size - used < 4) break;
      len = (std::uint64_t{p[used + 2]} << 8) | p[used + 3];
      header = 4;
    } else if (len == 127) {
      if (size - used < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | p[used + 2 + i];
      header = 10;
    }
    if ((b1 & 0x80) != 0) {
      end("protocol: a masked server frame");
      return false;
    }
    if (len > (1u << 24)) {
      end("protocol: a frame over 16 MiB");
      return false;
    }
    if (size - used - header < len) break;
    const std::string_view payload(pending_.data() + used + header, static_cast<std::size_t>(len));
    used += header + static_cast<std::size_t>(len);

    std::string_view message;
    bool whole = false;
    if (opcode == 0x1 || opcode == 0x2) {
      if (fin) {
        message = payload;
        whole = true;
      } else {
        message_.assign(payload);
      }
    } else if (opcode == 0x0) {
      message_.append(payload);
      if (fin) {
        message = message_;
        whole = true;
      }
    } else if (opcode == 0x8) {
      int code = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                           static_cast<unsigned char>(payload[1])
                                     : 1005;
      end("closed by the server with " + std::to_string(code) + " " +
          std::string(payload.size() > 2 ? payload.substr(2) : std::string_view{}));
      return false;
    } else if (opcode == 0x9) {
      send_frame(0xA, payload);
    }
    if (whole) {
      const std::int64_t t = find_int(message, "t");
      if (t >= 0) {
        events_.delivery(*this, t);
      } else {
        script_.on_message(*this, message);
      }
      if (opcode == 0x0) message_.clear();
    }
  }
  if (state_ == state::closed) return false;
  pending_.erase(0, used);
  if (pending_.capacity() > 64 * 1024 && pending_.size() < 1024) pending_.shrink_to_fit();
  return true;
}

void subscriber::send_text(std::string_view text) {
  send_frame(0x1, text);
}

void subscriber::mark_subscribed() {
  if (subscribed_) return;
  subscribed_ = true;
  events_.subscribed(*this);
}

void subscriber::send_frame(std::uint8_t opcode, std::string_view payload) {
  if (state_ == state::closed) return;
  std::array<unsigned char, 14> h{};
  std::size_t n = 0;
  h[n++] = static_cast<unsigned char>(0x80 | opcode);
  if (payload.size() < 126) {
    h[n++] = static_cast<unsigned char>(0x80 | payload.size());
  } else if (payload.size() <= 0xffff) {
    h[n++] = 0x80 | 126;
    h[n++] = static_cast<unsigned char>(payload.size() >> 8);
    h[n++] = static_cast<unsigned char>(payload.size());
  } else {
    h[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i)
      h[n++] = static_cast<unsigned char>(payload.size() >> (8 * i));
  }
  // xorshift: a fresh mask per frame (the server unmasks; the loader needs no secrecy).
  mask_seed_ ^= mask_seed_ << 13;
  mask_seed_ ^= mask_seed_ >> 17;
  mask_seed_ ^= mask_seed_ << 5;
  std::array<unsigned char, 4> mask{};
  std::memcpy(mask.data(), &mask_seed_, 4);
  for (unsigned char m : mask)
    h[n++] = m;
  out_.append(reinterpret_cast<const char*>(h.data()), n);
  const std::size_t at = out_.size();
  out_.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out_[at + i] ^= static_cast<char>(mask[i & 3]);
  flush();
}

void subscriber::flush() {
  if (writing_ || out_.empty() || state_ == state::closed || state_ == state::connecting) return;
  writing_ = true;
  out_in_flight_.swap(out_);
  out_.clear();
  net::async_write(socket_, net::buffer(out_in_flight_),
                   [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                     self->writing_ = false;
                     self->out_in_flight_.clear();
                     if (ec) return self->end("write: " + ec.message());
                     self->flush();
                   });
}

void subscriber::close() {
  if (state_ == state::closed) return;
  state_ = state::closed;
  boost::system::error_code ec;
  socket_.close(ec);
}

void subscriber::end(std::string_view why) {
  if (state_ == state::closed) return;
  state_ = state::closed;
  boost::system::error_code ec;
  socket_.close(ec);
  events_.ended(*this, why);
}

// --- http_client --------------------------------------------------------------------------

http_client::http_client(net::io_context& io, tcp::endpoint server, std::string host_header)
    : socket_(io), server_(server), host_(std::move(host_header)) {}

void http_client::post(std::string target, std::vector<std::string> headers, std::string body,
                       done_fn done) {
  busy_ = true;
  retried_ = false;
  done_ = std::move(done);
  request_ = "POST " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\n";
  for (const auto& h : headers)
    request_ += h + "\r\n";
  request_ += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body;
  if (connected_) {
    write();
  } else {
    connect_then_write();
  }
}

void http_client::connect_then_write() {
  boost::system::error_code ec;
  socket_.close(ec);
  socket_.async_connect(server_, [self = shared_from_this()](boost::system::error_code ec) {
    if (ec) {
      self->connected_ = false;
      return self->fail();
    }
    self->socket_.set_option(tcp::no_delay(true), ec);
    self->connected_ = true;
    self->write();
  });
}

void http_client::write() {
  in_.clear();
  net::async_write(socket_, net::buffer(request_),
                   [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                     if (ec) return self->fail();
                     self->read();
                   });
}

void http_client::read() {
  auto buf = std::make_shared<std::array<char, 8192>>();
  socket_.async_read_some(net::buffer(*buf), [self = shared_from_this(), buf](
                                                 boost::system::error_code ec, std::size_t n) {
    if (ec) return self->fail();
    self->in_.append(buf->data(), n);
    const std::size_t head_end = self->in_.find("\r\n\r\n");
    if (head_end == std::string::npos) return self->read();
    const std::string_view head(self->in_.data(), head_end);
    const std::size_t body_at = head_end + 4;
    std::string body;
    const std::string_view length = header_value(head, "content-length");
    if (!length.empty()) {
      std::size_t want = 0;
      std::from_chars(length.data(), length.data() + length.size(), want);
      if (self->in_.size() - body_at < want) return self->read();
      body = self->in_.substr(body_at, want);
    } else if (iequal_prefix(header_value(head, "transfer-encoding"), "chunked")) {
      if (self->in_.size() < body_at + 5 ||
          self->in_.compare(self->in_.size() - 5, 5, "0\r\n\r\n") != 0) {
        return self->read();
      }
      body = self->in_.substr(body_at);  // still chunk-framed: callers only need the status
    }
    const int status = status_of(head);
    if (iequal_prefix(header_value(head, "connection"), "close")) {
      self->connected_ = false;
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    }
    self->busy_ = false;
    auto done = std::move(self->done_);
    done(status, std::move(body));
  });
}

void http_client::fail() {
  connected_ = false;
  // A kept-alive connection the server closed meanwhile: one fresh attempt.
  if (!retried_) {
    retried_ = true;
    return connect_then_write();
  }
  busy_ = false;
  auto done = std::move(done_);
  done(0, {});
}

bool run_until(net::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    // Out of work: run_for returns at once, so wait a little rather than spin.
    if (io.run_for(std::chrono::milliseconds(5)) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return true;
}

std::pair<int, std::string> post_sync(net::io_context& io, const tcp::endpoint& server,
                                      const std::string& target,
                                      const std::vector<std::string>& headers,
                                      const std::string& body) {
  auto client = std::make_shared<http_client>(io, server, "127.0.0.1");
  struct result {
    bool finished = false;
    int status = 0;
    std::string body;
  };
  auto out = std::make_shared<result>();  // outlives a timeout: the handler may still run
  client->post(target, headers, body, [out](int status, std::string text) {
    *out = {true, status, std::move(text)};
  });
  if (!run_until(
          io, [&] { return out->finished; }, std::chrono::seconds(10))) {
    return {0, "timeout"};
  }
  return {out->status, out->body};
}

}  // namespace shub::load
