// wire: the loader's two kinds of connection, written for many thousands of them on one
// thread. A subscriber is a WebSocket client that reads in the reactor style: it waits for
// readability, then reads into its lane's shared buffer, so an idle connection holds no
// read buffer of its own. A publisher is a keep-alive HTTP/1.1 client for POSTs. Both speak
// only what the loader needs: unmasked server frames (RFC 6455 §5.1), masked client frames,
// Content-Length bodies.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace shub::load {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Microseconds on the steady clock: what publish payloads carry and deliveries compare to.
[[nodiscard]] std::int64_t now_us();

// Where a connection comes from and goes to.
struct endpoint_plan {
  tcp::endpoint server;
  net::ip::address source;  // bound before connecting (127.0.0.x spreads the port space)
};

// What one lane (one thread, one io_context) shares between its connections.
struct lane_buffers {
  std::vector<char> read = std::vector<char>(256 * 1024);
};

class subscriber;

// How a subscriber talks to one kind of server once the upgrade is done: called with each
// text message that is not a delivery, and once with an empty view right after the 101. It
// answers with send_text() and calls mark_subscribed() when the server has taken the
// subscription.
struct subscriber_script {
  std::function<void(subscriber&, std::string_view message)> on_message;
};

struct subscriber_events {
  // The subscription is in place (auth answered, room joined...).
  std::function<void(subscriber&)> subscribed;
  // A text message that carries a publish's "t" (microseconds, now_us()).
  std::function<void(subscriber&, std::int64_t sent_us)> delivery;
  // The connection failed or closed; `why` for the report.
  std::function<void(subscriber&, std::string_view why)> ended;
};

class subscriber : public std::enable_shared_from_this<subscriber> {
 public:
  subscriber(net::io_context& io, lane_buffers& buffers, const subscriber_script& script,
             const subscriber_events& events, int id, int group);
  // Connects and sends `request`, the whole HTTP upgrade request.
  void start(const endpoint_plan& plan, std::string request);
  void send_text(std::string_view text);
  void mark_subscribed();
  void close();
  // Ends the connection as failed (reported through `ended`), e.g. a handshake too slow.
  void fail(std::string_view why) { end(why); }
  // now_us() when start() was called.
  [[nodiscard]] std::int64_t started_us() const { return started_us_; }

  [[nodiscard]] int id() const { return id_; }
  [[nodiscard]] int group() const { return group_; }
  [[nodiscard]] bool is_subscribed() const { return subscribed_; }
  [[nodiscard]] bool is_open() const { return state_ != state::closed; }
  // Opaque per-connection value for the script (e.g. the access token's index).
  std::string note;

 private:
  enum class state { connecting, handshake, open, closed };
  void wait_readable();
  void on_readable();
  bool consume(const char* data, std::size_t size);  // false: connection ended
  bool parse_frames();
  void send_frame(std::uint8_t opcode, std::string_view payload);
  void flush();
  void end(std::string_view why);

  tcp::socket socket_;
  lane_buffers& buffers_;
  const subscriber_script& script_;
  const subscriber_events& events_;
  int id_, group_;
  state state_ = state::connecting;
  bool subscribed_ = false;
  std::string pending_;  // bytes of an incomplete frame or handshake
  std::string message_;  // a fragmented message being assembled
  std::string request_, out_, out_in_flight_;
  bool writing_ = false;
  std::uint32_t mask_seed_;
  std::int64_t started_us_ = 0;
};

// Keep-alive HTTP/1.1 client: one request at a time on its connection, reconnecting when
// the server closed it.
class http_client : public std::enable_shared_from_this<http_client> {
 public:
  using done_fn = std::function<void(int status, std::string body)>;  // status 0: failed
  http_client(net::io_context& io, tcp::endpoint server, std::string host_header);
  // `headers`: complete lines without the final CRLF, e.g. "Authorization: Bearer k".
  void post(std::string target, std::vector<std::string> headers, std::string body, done_fn done);
  [[nodiscard]] bool busy() const { return busy_; }

 private:
  void connect_then_write();
  void write();
  void read();
  void fail();

  tcp::socket socket_;
  tcp::endpoint server_;
  std::string host_;
  std::string request_, in_;
  done_fn done_;
  bool busy_ = false, connected_ = false, retried_ = false;
};

// Runs `io` until `done()` holds or `timeout` passes; true when done.
bool run_until(net::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout);

// Blocking one-shot POST on `io` (setup work: creating sessions). Status 0 on failure.
std::pair<int, std::string> post_sync(net::io_context& io, const tcp::endpoint& server,
                                      const std::string& target,
                                      const std::vector<std::string>& headers,
                                      const std::string& body);

// The integer after `"key":` in `text`, or -1.
[[nodiscard]] std::int64_t find_int(std::string_view text, std::string_view key);
// The string after `"key":"` in `text` (no unescaping), or empty.
[[nodiscard]] std::string find_string(std::string_view text, std::string_view key);

}  // namespace shub::load
