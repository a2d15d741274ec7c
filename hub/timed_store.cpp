// timed_store: latency and liveness of every store call, plus opening a store by its spec.
#include "timed_store.hpp"

#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "auth/redis_store.hpp"
#include "auth/sqlite_store.hpp"
#include "config.hpp"
#include "log.hpp"

namespace shub {

namespace {

auth::store_status status_of(auth::store_status s) {
  return s;
}
template <class T>
auth::store_status status_of(const auth::store_result<T>& r) {
  return r.status;
}

}  // namespace

template <class F>
auto timed_store::timed(F&& call) {
  const auto start = std::chrono::steady_clock::now();
  auto result = call();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  stats_.store_latency.record_us(us);
  const bool up = status_of(result) != auth::store_status::unavailable;
  // One line per change of state, not one per failed call.
  if (stats_.store_up.exchange(up, std::memory_order_relaxed) != up) {
    if (up) {
      log::info("store_available").str("store", std::string(inner_->kind())).emit();
    } else {
      log::error("store_unavailable")
          .str("store", std::string(inner_->kind()))
          .str("error", inner_->last_error())
          .str("detail", "refresh, validate and extend answer 503 until it is back")
          .emit();
    }
  }
  return result;
}

auth::store_status timed_store::ping() {
  return timed([&] { return inner_->ping(); });
}
auth::store_status timed_store::create(const auth::session& s, const auth::refresh_record& rt) {
  return timed([&] { return inner_->create(s, rt); });
}
auth::store_result<auth::session> timed_store::get(std::string_view sid) {
  return timed([&] { return inner_->get(sid); });
}
auth::store_result<auth::refresh_record> timed_store::find_refresh(std::string_view hash) {
  return timed([&] { return inner_->find_refresh(hash); });
}
auth::store_result<auth::refresh_lookup> timed_store::find_refresh_and_session(
    std::string_view hash, std::string_view sid_hint) {
  return timed([&] { return inner_->find_refresh_and_session(hash, sid_hint); });
}
auth::store_status timed_store::update(const auth::session& s, std::uint64_t expected_version,
                                       const auth::refresh_record* new_rt) {
  return timed([&] { return inner_->update(s, expected_version, new_rt); });
}
auth::store_result<std::vector<auth::session>> timed_store::list_by_sub(std::string_view sub) {
  return timed([&] { return inner_->list_by_sub(sub); });
}
auth::store_result<std::vector<auth::session>> timed_store::list_by_device(
    std::string_view device_id) {
  return timed([&] { return inner_->list_by_device(device_id); });
}
auth::store_result<std::vector<auth::session>> timed_store::list_by_idp_sid(
    std::string_view idp_sid) {
  return timed([&] { return inner_->list_by_idp_sid(idp_sid); });
}
auth::store_result<std::int64_t> timed_store::count_active(std::int64_t now_ms) {
  return timed([&] { return inner_->count_active(now_ms); });
}
auth::store_result<bool> timed_store::remember_jti(std::string_view id, std::int64_t expires_at_ms,
                                                   std::int64_t now_ms) {
  return timed([&] { return inner_->remember_jti(id, expires_at_ms, now_ms); });
}
auth::store_result<std::int64_t> timed_store::purge(std::int64_t before_ms) {
  return timed([&] { return inner_->purge(before_ms); });
}

std::unique_ptr<auth::session_store> open_store(const config& cfg) {
  const std::string& spec = cfg.store;
  constexpr std::string_view sqlite = "sqlite:";
  if (spec.rfind(sqlite, 0) == 0) {
    const std::string path = spec.substr(sqlite.size());
    if (path.empty()) throw std::runtime_error("--store sqlite: needs a path or :memory:");
    if (path != ":memory:") {
      const auto dir = std::filesystem::path(path).parent_path();
      std::error_code ec;
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
    }
    return std::make_unique<auth::sqlite_store>(path);
  }
  if (auth::redis_options::is_url(spec)) {
    auth::redis_options o;
    try {
      o = auth::redis_options::parse_url(spec);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("--store: ") + e.what());
    }
    o.timeout = std::chrono::milliseconds(cfg.redis_timeout_ms);
    o.pool = cfg.redis_pool > 0 ? cfg.redis_pool : cfg.store_threads + 4;
    return std::make_unique<auth::redis_store>(std::move(o));
  }
  throw std::runtime_error("--store " + spec +
                           ": use sqlite:<path>, redis://host:port[/db] or "
                           "redis+unix:///path/to/redis.sock[?db=N]");
}

}  // namespace shub
