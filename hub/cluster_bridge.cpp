// cluster_bridge: the ZeroMQ thread. Its loop polls the peers' SUB sockets, the ZAP socket
// (CURVE only) and the wake eventfd; it sends queued events and heartbeats on the PUB.
#include "cluster_bridge.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <zmq.hpp>

#include "auth/base64url.hpp"
#include "auth/crypto.hpp"
#include "log.hpp"

namespace shub {

namespace {

using clock = std::chrono::steady_clock;

struct curve_keys {
  std::string secret;  // Z85, 40 characters
  std::string public_key;
};

std::optional<curve_keys> load_curve_keys(const std::string& path) {
  if (path.empty()) return std::nullopt;
  if (!zmq_has("curve"))
    throw std::runtime_error("--cluster-curve-secret-file: this libzmq has no CURVE support");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string secret;
  in >> secret;
  std::array<char, 41> pub{};
  if (secret.size() != 40 || zmq_curve_public(pub.data(), secret.c_str()) != 0) {
    throw std::runtime_error(path +
                             ": not a Z85 CURVE secret key (40 characters; make one with "
                             "`sessionhub generate-cluster-key`)");
  }
  return curve_keys{secret, std::string(pub.data(), 40)};
}

void set_common(zmq::socket_t& s, const config& cfg) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(cfg.cluster_heartbeat_ms));
  s.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(cfg.cluster_peer_timeout_ms));
  s.set(zmq::sockopt::heartbeat_ttl, static_cast<int>(cfg.cluster_peer_timeout_ms));
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 2000);
  s.set(zmq::sockopt::tcp_keepalive, 1);
}

}  // namespace

struct cluster_bridge::impl {
  zmq::context_t ctx{1};
  zmq::socket_t pub{ctx, zmq::socket_type::pub};
  std::vector<zmq::socket_t> subs;
  std::optional<zmq::socket_t> zap;  // CURVE: the authentication handler
  std::string bound;                 // the PUB endpoint as bound (port 0 resolved)
  std::optional<curve_keys> keys;
  cluster::sequence_tracker tracker;
  clock::time_point next_heartbeat{};
};

cluster_bridge::cluster_bridge(const config& cfg, std::string replica_id, hub_stats& stats,
                               event_handler on_event, repair_handler on_repair)
    : cfg_(cfg),
      replica_id_(std::move(replica_id)),
      epoch_(auth::base64url_encode(auth::random_bytes(9))),
      stats_(stats),
      on_event_(std::move(on_event)),
      on_repair_(std::move(on_repair)),
      impl_(std::make_unique<impl>()) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  try {
    impl_->keys = load_curve_keys(cfg.cluster_curve_secret_file);
    if (impl_->keys) {
      // ZAP: libzmq asks this socket about every client that connects to a CURVE server.
      impl_->zap.emplace(impl_->ctx, zmq::socket_type::rep);
      impl_->zap->bind("inproc://zeromq.zap.01");
    }
    set_common(impl_->pub, cfg);
    impl_->pub.set(zmq::sockopt::sndhwm, static_cast<int>(cfg.cluster_hwm));
    if (impl_->keys) {
      impl_->pub.set(zmq::sockopt::curve_server, 1);
      impl_->pub.set(zmq::sockopt::curve_secretkey, impl_->keys->secret);
      impl_->pub.set(zmq::sockopt::zap_domain, "sessionhub");
    }
    impl_->pub.bind(cfg.cluster_bind);
    impl_->bound = impl_->pub.get(zmq::sockopt::last_endpoint);
    for (const auto& endpoint : cfg.cluster_peers) {
      zmq::socket_t& s = impl_->subs.emplace_back(impl_->ctx, zmq::socket_type::sub);
      set_common(s, cfg);
      s.set(zmq::sockopt::rcvhwm, static_cast<int>(cfg.cluster_hwm));
      s.set(zmq::sockopt::maxmsgsize, cfg.cluster_max_message_bytes);
      if (impl_->keys) {
        s.set(zmq::sockopt::curve_serverkey, impl_->keys->public_key);
        s.set(zmq::sockopt::curve_publickey, impl_->keys->public_key);
        s.set(zmq::sockopt::curve_secretkey, impl_->keys->secret);
      }
      s.set(zmq::sockopt::subscribe, "shub.");
      s.connect(endpoint);
      peers_.push_back(peer_state{endpoint, {}, false, {}, false, false});
    }
  } catch (const zmq::error_t& e) {
    ::close(wake_fd_);
    throw std::runtime_error(std::string("cluster: ") + e.what());
  } catch (...) {
    ::close(wake_fd_);
    throw;
  }
}

cluster_bridge::~cluster_bridge() {
  stop();
  impl_.reset();  // sockets before the context, then the context
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void cluster_bridge::start() {
  log::info("cluster_started")
      .str("bind", impl_->bound)
      .num("peers", static_cast<std::int64_t>(cfg_.cluster_peers.size()))
      .str("epoch", epoch_)
      .str("curve", impl_->keys ? "on" : "off")
      .emit();
  thread_ = std::thread([this] { run(); });
}

void cluster_bridge::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void cluster_bridge::send(cluster::message m) {
  m.heartbeat = false;
  m.origin = replica_id_;
  m.epoch = epoch_;
  bool was_empty = false;
  {
    std::lock_guard lock(queue_mutex_);
    m.seq = ++next_seq_;
    if (queue_.size() >= static_cast<std::size_t>(cfg_.cluster_hwm)) {
      stats_.cluster_dropped.add();  // the peers see the hole in the sequence
      return;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(m));
  }
  if (was_empty) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
}

std::vector<peer_view> cluster_bridge::peers() const {
  const auto now = clock::now();
  std::vector<peer_view> out;
  std::lock_guard lock(peers_mutex_);
  for (const auto& p : peers_) {
    peer_view v;
    v.endpoint = p.endpoint;
    v.replica = p.replica;
    v.up = p.up;
    v.last_seen_ms_ago =
        p.seen ? std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_seen).count()
               : -1;
    out.push_back(std::move(v));
  }
  return out;
}

std::string cluster_bridge::generate_secret() {
  std::array<char, 41> pub{}, secret{};
  if (zmq_curve_keypair(pub.data(), secret.data()) != 0)
    throw std::runtime_error("this libzmq cannot make CURVE keys");
  return std::string(secret.data(), 40);
}

void cluster_bridge::run() {
  impl& z = *impl_;
  const auto heartbeat_every = std::chrono::milliseconds(cfg_.cluster_heartbeat_ms);
  const auto peer_timeout = std::chrono::milliseconds(cfg_.cluster_peer_timeout_ms);

  auto publish = [&](const cluster::message& m) {
    const std::string_view topic = cluster::topic_of(m);
    const std::string payload = cluster::encode_payload(m);
    try {
      // PUB never blocks: over the high-water mark a peer's copy is dropped (and then
      // noticed by that peer as a gap).
      (void)z.pub.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)z.pub.send(zmq::buffer(payload), zmq::send_flags::dontwait);
      stats_.cluster_sent.add();
    } catch (const zmq::error_t& e) {
      log::warn("cluster_send_failed").str("error", e.what()).emit();
    }
  };

  // Sends what is queued, then (when due) a heartbeat carrying the last sequence number
  // taken. Both are read under one lock, so every number up to the heartbeat's was either
  // sent before it or dropped: a peer never mistakes a queued event for a lost one.
  std::deque<cluster::message> batch;
  auto flush = [&](bool with_heartbeat) {
    std::uint64_t last = 0;
    {
      std::lock_guard lock(queue_mutex_);
      batch.swap(queue_);
      last = next_seq_;
    }
    for (const auto& m : batch)
      publish(m);
    batch.clear();
    if (!with_heartbeat) return;
    cluster::message hb;
    hb.heartbeat = true;
    hb.origin = replica_id_;
    hb.epoch = epoch_;
    hb.seq = last;
    hb.sent_us = wall_clock_us();
    publish(hb);
  };

  auto answer_zap = [&] {
    // ZAP 1.0 (RFC 27): version, request id, domain, address, identity, mechanism, key.
    std::vector<zmq::message_t> request;
    while (true) {
      zmq::message_t part;
      if (!z.zap->recv(part, zmq::recv_flags::dontwait)) return;
      const bool more = part.more();
      request.push_back(std::move(part));
      if (!more) break;
    }
    const bool allowed = request.size() == 7 && request[5].to_string_view() == "CURVE" &&
                         request[6].size() == 32 && [&] {
                           std::array<char, 41> z85{};
                           zmq_z85_encode(z85.data(), request[6].data<std::uint8_t>(), 32);
                           return std::string_view(z85.data(), 40) == z.keys->public_key;
                         }();
    if (!allowed) {
      log::warn("cluster_peer_refused")
          .str("address", request.size() > 3 ? request[3].to_string() : std::string())
          .str("reason", "client key is not the cluster's")
          .emit();
    }
    const std::string id = request.size() > 1 ? request[1].to_string() : std::string();
    const std::array<std::string, 6> reply = {
        "1.0", id, allowed ? "200" : "400", allowed ? "OK" : "unknown key", "", ""};
    for (std::size_t i = 0; i < reply.size(); ++i) {
      (void)z.zap->send(zmq::buffer(reply[i]),
                        i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };

  auto receive = [&](std::size_t index) {
    zmq::socket_t& s = z.subs[index];
    for (int budget = 0; budget < 1024; ++budget) {
      zmq::message_t topic, payload;
      if (!s.recv(topic, zmq::recv_flags::dontwait)) return;
      if (!topic.more() || !s.recv(payload, zmq::recv_flags::dontwait) || payload.more()) {
        // Drain whatever is left of a message that is not topic + payload.
        while (payload.more() && s.recv(payload, zmq::recv_flags::dontwait)) {
        }
        stats_.cluster_rejected.add();
        log::warn("cluster_message_refused")
            .str("peer", cfg_.cluster_peers[index])
            .str("error", "a message is a topic frame and a payload frame")
            .emit();
        continue;
      }
      cluster::message m;
      std::string error;
      if (!cluster::decode(topic.to_string_view(), payload.to_string_view(), m, error)) {
        stats_.cluster_rejected.add();
        log::warn("cluster_message_refused")
            .str("peer", cfg_.cluster_peers[index])
            .str("error", error)
            .emit();
        continue;
      }
      {
        std::lock_guard lock(peers_mutex_);
        peer_state& p = peers_[index];
        if (m.origin == replica_id_) {
          // This replica's own PUB listed as a peer (harmless), or another replica with
          // the same --replica-id (sequence tracking cannot work: say so once).
          if (m.epoch != epoch_ && !p.warned_self) {
            p.warned_self = true;
            log::error("cluster_duplicate_replica_id")
                .str("peer", p.endpoint)
                .str("replica", replica_id_)
                .emit();
          }
          continue;
        }
        p.last_seen = clock::now();
        p.seen = true;
        if (!p.up || p.replica != m.origin) {
          p.up = true;
          p.replica = m.origin;
          log::info("cluster_peer_up").str("peer", p.endpoint).str("replica", m.origin).emit();
        }
      }
      stats_.cluster_received.add();
      const auto v = z.tracker.observe(m);
      if (v.duplicate) {
        stats_.cluster_duplicates.add();
        continue;
      }
      if (v.new_epoch) {
        stats_.cluster_epochs.add();
        log::info("cluster_peer_epoch").str("replica", m.origin).str("epoch", m.epoch).emit();
        on_repair_("epoch");
      }
      if (v.missed > 0) {
        stats_.cluster_gaps.add(static_cast<std::int64_t>(v.missed));
        log::warn("cluster_gap")
            .str("replica", m.origin)
            .num("missed", static_cast<std::int64_t>(v.missed))
            .emit();
        on_repair_("gap");
      }
      if (v.deliver) {
        stats_.cluster_latency.record_us(wall_clock_us() - m.sent_us);
        on_event_(std::move(m));
      }
    }
  };

  // A peer that went silent may have died between a store write and its publish: look.
  auto check_liveness = [&] {
    const auto now = clock::now();
    bool lost = false;
    std::lock_guard lock(peers_mutex_);
    for (auto& p : peers_) {
      if (p.up && now - p.last_seen > peer_timeout) {
        p.up = false;
        lost = true;
        log::warn("cluster_peer_down")
            .str("peer", p.endpoint)
            .str("replica", p.replica)
            .num("silent_ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_seen).count())
            .emit();
      }
    }
    if (lost) on_repair_("peer_down");
  };

  std::vector<zmq::pollitem_t> items;
  for (auto& s : z.subs)
    items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
  const std::size_t wake_index = items.size();
  items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
  const std::size_t zap_index = items.size();
  if (z.zap) items.push_back({z.zap->handle(), 0, ZMQ_POLLIN, 0});

  z.next_heartbeat = clock::now();
  while (!stopping_.load()) {
    const auto now = clock::now();
    if (now >= z.next_heartbeat) {
      flush(true);
      check_liveness();
      z.next_heartbeat = now + heartbeat_every;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(z.next_heartbeat - now).count();
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(std::max<long>(wait, 1)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) log::error("cluster_poll_failed").str("error", e.what()).emit();
      continue;
    }
    if (items[wake_index].revents & ZMQ_POLLIN) {
      std::uint64_t n = 0;
      (void)!::read(wake_fd_, &n, sizeof n);
    }
    flush(false);
    for (std::size_t i = 0; i < z.subs.size(); ++i) {
      if (items[i].revents & ZMQ_POLLIN) receive(i);
    }
    if (z.zap && (items[zap_index].revents & ZMQ_POLLIN)) answer_zap();
  }
  // One last heartbeat is pointless: peers will see our epoch change when we come back.
}

}  // namespace shub
