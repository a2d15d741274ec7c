// sqlite_store's own tests (the shared contract is store_contract_test.cpp): purge, and a
// file database keeps its sessions across a reopen in WAL mode, waits for another writer,
// and refuses a newer schema.
#include "auth/sqlite_store.hpp"

#include "test_sessions.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace shub::auth {
namespace {

using namespace std::string_literals;
using namespace shub::auth::test;

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = "/tmp/sqlite_store_test.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A second, independent connection to the same file, for looking behind the store's back.
std::string query_text(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

class SqliteStore : public ::testing::Test {
 protected:
  sqlite_store store_{":memory:"};
};

TEST(SqliteStoreStatus, NamesEveryStatus) {
  EXPECT_EQ(to_string(store_status::ok), "ok");
  EXPECT_EQ(to_string(store_status::not_found), "not_found");
  EXPECT_EQ(to_string(store_status::conflict), "conflict");
  EXPECT_EQ(to_string(store_status::unavailable), "unavailable");
}

TEST_F(SqliteStore, PurgeRemovesEndedAndExpiredWithTheirTokens) {
  session ended_old = make_session("ended_old");
  ended_old.state = session_state::revoked;
  ended_old.ended_at = 100;
  session ended_recent = make_session("ended_recent");
  ended_recent.state = session_state::revoked;
  ended_recent.ended_at = 900;
  session expired = make_session("expired");
  expired.expires_at = 200;
  session live = make_session("live");
  live.expires_at = 10'000;
  for (const auto* s : {&ended_old, &ended_recent, &expired, &live}) {
    ASSERT_EQ(store_.create(*s, record_for(*s, s->sid)), store_status::ok);
  }
  const auto purged = store_.purge(500);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged.value, 2);
  EXPECT_EQ(store_.get("ended_old").status, store_status::not_found);
  EXPECT_EQ(store_.get("expired").status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("ended_old")).status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("expired")).status, store_status::not_found);
  EXPECT_TRUE(store_.get("ended_recent").ok());
  EXPECT_TRUE(store_.get("live").ok());
  EXPECT_TRUE(store_.find_refresh(hash_of("live")).ok());
  EXPECT_EQ(store_.purge(500).value, 0);
}

TEST(SqliteStoreFile, KeepsSessionsAcrossReopen) {
  temp_dir dir;
  const std::string path = dir.file("sessions.db");
  session s = make_session("s1");
  s.rt_successor = "\0\1\2"s;
  {
    sqlite_store store(path);
    ASSERT_EQ(store.create(s, record_for(s, "a")), store_status::ok);
    s.version = 2;
    s.rt_generation = 2;
    const refresh_record rt = record_for(s, "b");
    ASSERT_EQ(store.update(s, 1, &rt), store_status::ok);
  }
  sqlite_store store(path);
  const auto got = store.get("s1");
  ASSERT_EQ(got.status, store_status::ok);
  expect_same(got.value, s);
  EXPECT_EQ(store.find_refresh(hash_of("b")).value.generation, 2u);
  EXPECT_EQ(store.find_refresh(hash_of("a")).value.generation, 1u);
}

TEST(SqliteStoreFile, UsesWalAndRecordsTheSchemaVersion) {
  temp_dir dir;
  const std::string path = dir.file("sessions.db");
  sqlite_store store(path);
  const session s = make_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "a")), store_status::ok);
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
  EXPECT_EQ(query_text(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_text(path, "PRAGMA user_version"), "1");
}

// Another writer holding the lock briefly is waited for (busy_timeout), not an error.
TEST(SqliteStoreFile, WaitsForAnotherWriter) {
  temp_dir dir;
  const std::string path = dir.file("sessions.db");
  sqlite_store store(path);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  const session s = make_session("s1");
  EXPECT_EQ(store.create(s, record_for(s, "a")), store_status::ok);
  release.join();
  sqlite3_close(other);
  EXPECT_TRUE(store.get("s1").ok());
}

TEST(SqliteStoreFile, OpenFailureNamesThePath) {
  const std::string path = "/nonexistent-sessionhub-dir/sessions.db";
  try {
    sqlite_store store(path);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(SqliteStoreFile, RefusesANewerSchema) {
  temp_dir dir;
  const std::string path = dir.file("sessions.db");
  { sqlite_store store(path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(sqlite_store{path}, std::runtime_error);
}

}  // namespace
}  // namespace shub::auth
