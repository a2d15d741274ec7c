// ws_connection: one browser tab's WebSocket (PROTOCOL §3), from the upgrade to the close.
// Reads one client frame at a time and writes from a bounded send_queue with one write in
// flight (Beast's chat-multi shape). Frames that need the store (auth, resume, token,
// extend, logout, activity) run on the blocking pool and post their result back here, so
// all of this object's state is touched by its worker's thread only. Owns itself through
// shared_from_this(); the worker's channel index and connection set hold raw pointers that
// teardown() removes, again on the worker's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "auth/session_service.hpp"
#include "http_util.hpp"
#include "hub_state.hpp"
#include "send_queue.hpp"

namespace shub {

class worker;

// The hub's own close codes (PROTOCOL §3).
namespace close_code {
inline constexpr std::uint16_t auth_failed = 4001;
inline constexpr std::uint16_t forbidden = 4003;
inline constexpr std::uint16_t auth_timeout = 4008;
inline constexpr std::uint16_t slow_or_limited = 4009;
inline constexpr std::uint16_t session_ended = 4010;
}  // namespace close_code

class ws_connection : public std::enable_shared_from_this<ws_connection> {
 public:
  ws_connection(boost::asio::ip::tcp::socket&& socket, worker& w, hub_state& hub,
                std::string client_ip, std::string device_id, bool device_fresh);
  ~ws_connection();

  // Completes the handshake for `req` (already checked: path, Origin, limits).
  void start(http_request req);

  // Worker thread only.
  [[nodiscard]] bool mark(std::uint64_t seq) {
    if (last_seq_ == seq) return false;
    last_seq_ = seq;
    return true;
  }
  void send(const frame_ptr& frame, std::int64_t published_us);
  void end_session();  // close 4010 once the frames queued so far are written
  void close(std::uint16_t code, std::string_view reason);
  void tick(std::int64_t now_ms);

 private:
  enum class phase { handshake, waiting, authenticated, watching, closing, closed };

  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void on_frame(std::string_view text);
  void on_authenticated(const auth::session_outcome& out, bool resume, std::uint64_t since);
  void start_auth(std::string token, bool resume, std::uint64_t since);
  void start_watch();
  void start_token(std::string token);
  void start_activity(bool explicit_extend);
  void start_logout(std::string scope);
  void bad_frame(std::string_view message);
  void reply(std::string frame);
  void fail(std::string_view code, std::string_view message, std::uint16_t close);
  void enqueue(queued_frame f, bool is_event);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void subscribe(std::string channel);
  void teardown();
  // Runs `work` on the blocking pool, then `done(result)` back on this connection's
  // thread — unless the connection started closing meanwhile.
  template <class Work, class Done>
  void blocking(Work work, Done done) {
    ++calls_in_flight_;
    boost::asio::post(hub_.pool, [self = shared_from_this(), work = std::move(work),
                                  done = std::move(done)]() mutable {
      auto result = work();
      auto executor = self->ws_.get_executor();
      boost::asio::post(executor, [self = std::move(self), result = std::move(result),
                                   done = std::move(done)]() mutable {
        --self->calls_in_flight_;
        if (self->phase_ < phase::closing) done(result);
      });
    });
  }

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  send_queue queue_;
  worker& worker_;
  hub_state& hub_;
  std::string ip_;
  std::string did_;
  bool did_fresh_;
  phase phase_ = phase::handshake;
  bool writing_ = false;
  bool torn_down_ = false;
  bool attached_ = false;                // counted in the session's timers
  bool counted_auth_ = false;            // in the authenticated gauge
  bool counted_watch_ = false;           // in the watching gauge
  std::uint16_t close_after_queue_ = 0;  // close with this once the queue is written
  std::string close_reason_;
  std::string sid_, sub_;
  std::string session_device_;  // the session's own device id (may differ from did_)
  std::int64_t token_exp_s_ = 0;
  std::vector<std::string> channels_;
  std::uint64_t last_seq_ = 0;
  std::int64_t opened_ms_ = 0;
  std::int64_t last_recv_ms_ = 0;
  std::int64_t last_ping_ms_ = 0;
  std::int64_t closing_since_ms_ = 0;
  double rate_tokens_ = 0;
  std::int64_t rate_updated_ms_ = 0;
  std::int64_t bad_frames_ = 0;
  int calls_in_flight_ = 0;
};

}  // namespace shub
