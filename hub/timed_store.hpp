// timed_store: a session_store decorator that feeds the store figures of /v1/stats.
// Every call's latency goes into the store histogram, and whether the store answered sets
// `store.up`. Wrapping keeps the stores themselves free of the hub's stats.
#pragma once

#include <memory>
#include <string>

#include "auth/session_store.hpp"
#include "stats.hpp"

namespace shub {

class timed_store final : public auth::session_store {
 public:
  timed_store(std::unique_ptr<auth::session_store> inner, hub_stats& stats)
      : inner_(std::move(inner)), stats_(stats) {}

  [[nodiscard]] std::string_view kind() const override { return inner_->kind(); }
  [[nodiscard]] auth::store_status ping() override;
  [[nodiscard]] auth::store_status create(const auth::session& s,
                                          const auth::refresh_record& rt) override;
  [[nodiscard]] auth::store_result<auth::session> get(std::string_view sid) override;
  [[nodiscard]] auth::store_result<auth::refresh_record> find_refresh(
      std::string_view hash) override;
  [[nodiscard]] auth::store_result<auth::refresh_lookup> find_refresh_and_session(
      std::string_view hash, std::string_view sid_hint) override;
  [[nodiscard]] auth::store_status update(const auth::session& s, std::uint64_t expected_version,
                                          const auth::refresh_record* new_rt) override;
  [[nodiscard]] auth::store_result<std::vector<auth::session>> list_by_sub(
      std::string_view sub) override;
  [[nodiscard]] auth::store_result<std::vector<auth::session>> list_by_device(
      std::string_view device_id) override;
  [[nodiscard]] auth::store_result<std::vector<auth::session>> list_by_idp_sid(
      std::string_view idp_sid) override;
  [[nodiscard]] auth::store_result<std::int64_t> count_active(std::int64_t now_ms) override;
  [[nodiscard]] auth::store_result<bool> remember_jti(std::string_view id,
                                                      std::int64_t expires_at_ms,
                                                      std::int64_t now_ms) override;
  [[nodiscard]] auth::store_result<std::int64_t> purge(std::int64_t before_ms) override;
  [[nodiscard]] std::string last_error() const override { return inner_->last_error(); }

 private:
  template <class F>
  auto timed(F&& call);

  std::unique_ptr<auth::session_store> inner_;
  hub_stats& stats_;
};

struct config;

// Opens the store named by --store (sqlite:<path>, sqlite::memory:, redis://...) with its
// options. Throws std::runtime_error with the reason when it cannot.
[[nodiscard]] std::unique_ptr<auth::session_store> open_store(const config& cfg);

}  // namespace shub
