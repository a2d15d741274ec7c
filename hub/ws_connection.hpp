// ws_connection: one browser tab's WebSocket (PROTOCOL §3), from the upgrade to the close.
// The hub speaks RFC 6455 itself on the bare socket (ws_wire.hpp): it waits for the socket
// to be readable, reads into its worker's one buffer and parses in place, so an idle tab
// holds no read buffer; it writes whole pre-encoded frames (the same bytes for every tab
// of an event) from a bounded send_queue, all queued frames in one gather write, corked
// by the worker until the handlers already queued have run. Frames that need the store
// (auth, resume, token, extend, logout, activity) run on the blocking pool and post their
// result back here, so all of this object's state is touched by its worker's thread only.
// Owns itself through shared_from_this(); the worker's channel index, connection set and
// flush list hold raw pointers that teardown() removes, again on the worker's thread.
// A connection from the TLS listener holds a ws_tls (ws_tls.hpp) and does its reads, writes
// and close through it (ws_connection_tls.cpp); everything else — the parser, the queue and
// its bound, the closing handshake — is the same code. The plain path pays one test of the
// null pointer where it reads, writes and closes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "auth/session_service.hpp"
#include "http_util.hpp"
#include "hub_state.hpp"
#include "send_queue.hpp"
#include "worker.hpp"
#include "ws_wire.hpp"

namespace shub {

// The hub's own close codes (PROTOCOL §3).
namespace close_code {
inline constexpr std::uint16_t auth_failed = 4001;
inline constexpr std::uint16_t forbidden = 4003;
inline constexpr std::uint16_t auth_timeout = 4008;
inline constexpr std::uint16_t slow_or_limited = 4009;
inline constexpr std::uint16_t session_ended = 4010;
}  // namespace close_code

struct ws_tls;

class ws_connection : public std::enable_shared_from_this<ws_connection>, private ws::frame_sink {
 public:
  static constexpr std::size_t no_slot = static_cast<std::size_t>(-1);

  // `tls`: the TLS session of a WSS connection (then `socket` is an unopened one); null on
  // the plain path.
  ws_connection(boost::asio::ip::tcp::socket&& socket, std::unique_ptr<ws_tls> tls, worker& w,
                hub_state& hub, std::string client_ip, std::string device_id, bool device_fresh);
  ~ws_connection();

  // Answers the upgrade `req` (already checked: path, handshake fields, Origin, limits) and
  // starts reading; `early` holds what the client sent after its request, if anything.
  void start(const http_request& req, std::string early);

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
  // Writes what is queued (the worker's flush). Worker thread only.
  void flush();

 private:
  friend class worker;
  // One byte each: room for tls_ without growing the object.
  enum class phase : std::uint8_t { waiting, authenticated, watching, closing, closed };
  // What happens once the queue is written out while closing.
  enum class after_close : std::uint8_t { wait_for_peer, close_socket, linger };

  void wait_readable();
  void on_readable(boost::system::error_code ec);
  void read_failed(boost::system::error_code ec);
  void parse(char* data, std::size_t size);
  bool on_message(ws::opcode op, std::string_view payload) override;
  bool on_ping(std::string_view payload) override;
  bool on_pong(std::string_view payload) override;
  bool on_close(std::uint16_t code, std::string_view reason) override;
  void on_frame(std::string_view text);
  void on_authenticated(const auth::session_outcome& out, bool resume, std::uint64_t since);
  void start_auth(std::string token, bool resume, std::uint64_t since);
  void start_watch();
  void start_token(std::string token);
  void start_activity(bool explicit_extend);
  void start_logout(std::string scope);
  void bad_frame(std::string_view message);
  // One whole frame of `op` around `payload`, queued as a reply (no latency recorded).
  static queued_frame frame(ws::opcode op, std::string_view payload);
  static const queued_frame& ping_frame();  // the same two bytes for every connection
  void reply(std::string_view json);
  void fail(std::string_view code, std::string_view message, std::uint16_t close);
  void enqueue(queued_frame f, bool is_event);
  void schedule_flush();
  void ping_along();
  void on_writable(boost::system::error_code ec);
  void written_out();
  void send_close(std::uint16_t code, std::string_view reason, after_close then);
  void subscribe(std::string channel);
  void teardown();
  // A write failed: the queue is dropped (its events counted) and the connection torn down.
  void write_failed(boost::system::error_code ec);
  // The queue's front frame is on the wire: noted as delivered (an event) and popped.
  void pop_written(std::int64_t now);
  // The TLS transport (ws_connection_tls.cpp).
  void tls_read();
  void on_tls_read(boost::system::error_code ec, std::size_t n);
  void tls_flush();
  void on_tls_written(boost::system::error_code ec);
  void tls_close();
  void tls_drain();
  void tls_shutdown_send();
  [[nodiscard]] std::size_t tls_in_flight() const;
  // Runs `work` on the blocking pool, then `done(result)` back on this connection's
  // thread — unless the connection started closing meanwhile.
  template <class Work, class Done>
  void blocking(Work work, Done done) {
    ++calls_in_flight_;
    worker_.run_blocking(hub_.pool,
                         [self = shared_from_this(), work = std::move(work),
                          done = std::move(done)]() -> worker::finish_fn {
                           return [self, result = work(), done] {
                             --self->calls_in_flight_;
                             if (self->phase_ < phase::closing) done(result);
                           };
                         });
  }

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<ws_tls> tls_;  // WSS only
  ws::frame_parser parser_;
  send_queue queue_;
  std::size_t front_written_ = 0;  // bytes of the queue's front already on the wire
  std::size_t flush_slot_ = no_slot;
  std::size_t worker_slot_ = no_slot;  // where the worker lists it
  worker& worker_;
  hub_state& hub_;
  std::string ip_;
  std::string did_;
  bool did_fresh_;
  phase phase_ = phase::waiting;
  after_close after_close_ = after_close::wait_for_peer;
  bool waiting_writable_ = false;  // the socket was full (a wait for room), or a TLS write is out
  bool parser_failed_ = false;     // a protocol violation: what follows is not parsed
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
