// sqlite_store: the embedded session_store on SQLite 3.
// WAL journal (readers never block the writer), prepared statements prepared once, one
// connection serialised by a mutex (SQLite allows one writer anyway, and a rotation is a
// few microseconds), each update one IMMEDIATE transaction so compare-and-set is atomic.
// `sqlite::memory:` (path ":memory:") keeps everything in memory for tests.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "session_store.hpp"

namespace shub::auth {

class sqlite_store final : public session_store {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" allowed) and its schema.
  // Throws std::runtime_error when the file cannot be opened (start-up only).
  explicit sqlite_store(const std::string& path);
  ~sqlite_store() override;

  [[nodiscard]] std::string_view kind() const override { return "sqlite"; }
  [[nodiscard]] store_status ping() override;
  [[nodiscard]] store_status create(const session& s, const refresh_record& rt) override;
  [[nodiscard]] store_result<session> get(std::string_view sid) override;
  [[nodiscard]] store_result<refresh_record> find_refresh(std::string_view hash) override;
  [[nodiscard]] store_status update(const session& s, std::uint64_t expected_version,
                                    const refresh_record* new_rt) override;
  [[nodiscard]] store_result<std::vector<session>> list_by_sub(std::string_view sub) override;
  [[nodiscard]] store_result<std::vector<session>> list_by_device(
      std::string_view device_id) override;
  [[nodiscard]] store_result<std::vector<session>> list_by_idp_sid(
      std::string_view idp_sid) override;
  [[nodiscard]] store_result<std::int64_t> count_active(std::int64_t now_ms) override;
  [[nodiscard]] store_result<bool> remember_jti(std::string_view id, std::int64_t expires_at_ms,
                                                std::int64_t now_ms) override;
  [[nodiscard]] store_result<std::int64_t> purge(std::int64_t before_ms) override;

 private:
  struct impl;
  std::mutex mutex_;
  std::unique_ptr<impl> impl_;
};

}  // namespace shub::auth
