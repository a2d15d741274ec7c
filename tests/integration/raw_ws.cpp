// raw_ws: see raw_ws.hpp.
#include "raw_ws.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace shub::itest {

namespace {

bool named(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

}  // namespace

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("connect: " + why);
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool recv_before(int fd, std::chrono::steady_clock::time_point deadline, std::string& in,
                 bool& ended) {
  if (ended) return false;
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ended = true;
      return false;
    }
    in.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

int raw_frame::close_code() const {
  if (payload.size() < 2) return 1005;
  return (static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]);
}

std::string raw_ws::request(std::string_view extra,
                            std::initializer_list<std::string_view> without) {
  const std::string_view lines[] = {
      "host: 127.0.0.1",           "upgrade: websocket",
      "connection: Upgrade",       "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version: 13", "sec-websocket-protocol: sessionhub.v1",
  };
  std::string r = "GET /v1/ws HTTP/1.1\r\n";
  for (const auto line : lines) {
    bool skip = false;
    for (const auto w : without)
      skip = skip || named(line, w);
    if (!skip) r.append(line).append("\r\n");
  }
  const std::string origin = "origin: " + std::string(test_origin);
  bool skip_origin = false;
  for (const auto w : without)
    skip_origin = skip_origin || named(origin, w);
  if (!skip_origin) r.append(origin).append("\r\n");
  r.append(extra);
  r += "\r\n";
  return r;
}

std::string raw_ws::frame(std::uint8_t first, std::string_view payload, bool masked) {
  std::string f;
  f.push_back(static_cast<char>(first));
  const char m = masked ? static_cast<char>(0x80) : 0;
  const std::uint64_t len = payload.size();
  if (len < 126) {
    f.push_back(static_cast<char>(m | static_cast<char>(len)));
  } else if (len <= 0xFFFF) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(len >> 8));
    f.push_back(static_cast<char>(len));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>(len >> shift));
  }
  const char key[4] = {0x0a, 0x1b, 0x2c, 0x3d};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0)));
  return f;
}

raw_ws::raw_ws(int port, std::string req, std::string_view pipelined)
    : fd_(connect_loopback(port)) {
  if (req.empty()) req = request();
  req.append(pipelined);
  send(req);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::size_t end;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) throw std::runtime_error("no answer to the upgrade request: " + in_);
  }
  head_ = in_.substr(0, end + 4);
  in_.erase(0, end + 4);
  if (head_.size() > 12) status_ = std::atoi(head_.c_str() + 9);
}

raw_ws::~raw_ws() {
  if (fd_ >= 0) ::close(fd_);
}

void raw_ws::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the hub closed: what it said is still readable
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool raw_ws::fill(std::chrono::steady_clock::time_point deadline) {
  return recv_before(fd_, deadline, in_, ended_);
}

std::optional<raw_frame> raw_ws::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (in_.size() >= 2) {
      const auto b0 = static_cast<std::uint8_t>(in_[0]);
      const auto b1 = static_cast<std::uint8_t>(in_[1]);
      std::uint64_t len = b1 & 0x7F;
      const std::size_t extended = len == 126 ? 2 : len == 127 ? 8 : 0;
      // Servers never mask; a mask is skipped rather than refused, for the reading's sake.
      const std::size_t header = 2 + extended + ((b1 & 0x80) != 0 ? 4 : 0);
      if (in_.size() >= header) {
        if (extended > 0) {
          len = 0;
          for (std::size_t i = 2; i < 2 + extended; ++i)
            len = (len << 8) | static_cast<std::uint8_t>(in_[i]);
        }
        if (in_.size() >= header + len) {
          raw_frame f;
          f.opcode = b0 & 0x0F;
          f.fin = (b0 & 0x80) != 0;
          f.payload = in_.substr(header, static_cast<std::size_t>(len));
          in_.erase(0, header + static_cast<std::size_t>(len));
          return f;
        }
      }
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

int raw_ws::close_code(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const auto f = next(std::max(left, 0ms));
    if (!f) return ended_ ? -1 : 0;
    if (f->opcode == 0x8) return f->close_code();
  }
}

bool raw_ws::closed_by_hub(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(deadline)) {
  }
  return ended_;
}

}  // namespace shub::itest
