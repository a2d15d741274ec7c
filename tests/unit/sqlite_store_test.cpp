// sqlite_store tests: every field round-trips, compare-and-set is exactly-once under
// threads, the lists and counts see only what they should, and a file database keeps its
// sessions across a reopen in WAL mode. In memory unless the test is about the file.
#include "auth/sqlite_store.hpp"

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

session make_session(const std::string& sid, const std::string& sub = "alice",
                     std::int64_t created_at = 1000) {
  session s;
  s.sid = sid;
  s.sub = sub;
  s.device_id = "dev-" + sub;
  s.idp_sid = "idp-" + sub;
  s.claims_json = R"({"role":"admin"})";
  s.amr_json = R"(["pwd","otp"])";
  s.created_at = created_at;
  s.auth_time = created_at - 5;
  s.idle_expires_at = created_at + 60'000;
  s.expires_at = created_at + 3'600'000;
  s.idle_timeout_ms = 60'000;
  s.version = 1;
  s.rt_generation = 1;
  s.rt_rotated_at = created_at;
  return s;
}

// A 32-byte "hash" that starts with and contains NUL bytes.
std::string hash_of(const std::string& seed) {
  std::string h(32, '\0');
  for (std::size_t i = 0; i < seed.size() && i + 1 < h.size(); ++i)
    h[i + 1] = seed[i];
  h[31] = '\xff';
  return h;
}

refresh_record record_for(const session& s, const std::string& seed) {
  return {hash_of(seed), s.sid, s.rt_generation};
}

void expect_same(const session& a, const session& b) {
  EXPECT_EQ(a.sid, b.sid);
  EXPECT_EQ(a.sub, b.sub);
  EXPECT_EQ(a.device_id, b.device_id);
  EXPECT_EQ(a.idp_sid, b.idp_sid);
  EXPECT_EQ(a.claims_json, b.claims_json);
  EXPECT_EQ(a.amr_json, b.amr_json);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.auth_time, b.auth_time);
  EXPECT_EQ(a.idle_expires_at, b.idle_expires_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.idle_timeout_ms, b.idle_timeout_ms);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.end_reason, b.end_reason);
  EXPECT_EQ(a.ended_at, b.ended_at);
  EXPECT_EQ(a.rt_generation, b.rt_generation);
  EXPECT_EQ(a.rt_rotated_at, b.rt_rotated_at);
  EXPECT_EQ(a.rt_successor, b.rt_successor);
}

std::vector<std::string> sids_of(const std::vector<session>& v) {
  std::vector<std::string> out;
  for (const auto& s : v)
    out.push_back(s.sid);
  return out;
}

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

TEST_F(SqliteStore, PingsAndNamesItsKind) {
  EXPECT_EQ(store_.ping(), store_status::ok);
  EXPECT_EQ(store_.kind(), "sqlite");
}

TEST_F(SqliteStore, RoundTripsEveryField) {
  session s = make_session("s1");
  s.version = 7;
  s.state = session_state::revoked;
  s.end_reason = "admin";
  s.ended_at = 4242;
  s.rt_generation = 9;
  s.rt_rotated_at = 3131;
  s.rt_successor = "\0sealed\0bytes\xff\x00"s;
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto got = store_.get("s1");
  ASSERT_EQ(got.status, store_status::ok);
  expect_same(got.value, s);
  EXPECT_EQ(got.value.rt_successor.size(), 15u);
}

TEST_F(SqliteStore, RoundTripsEmptyFields) {
  session s = make_session("s1");
  s.device_id.clear();
  s.idp_sid.clear();
  s.amr_json.clear();
  s.rt_successor.clear();
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto got = store_.get("s1");
  ASSERT_EQ(got.status, store_status::ok);
  expect_same(got.value, s);
}

TEST_F(SqliteStore, UnknownSidIsNotFound) {
  EXPECT_EQ(store_.get("nope").status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("nope")).status, store_status::not_found);
}

TEST_F(SqliteStore, DuplicateSidIsConflict) {
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  session other = make_session("s1", "bob");
  EXPECT_EQ(store_.create(other, record_for(other, "b")), store_status::conflict);
  EXPECT_EQ(store_.get("s1").value.sub, "alice");
  EXPECT_EQ(store_.find_refresh(hash_of("b")).status, store_status::not_found);
}

TEST_F(SqliteStore, DuplicateRefreshHashIsConflictAndWritesNothing) {
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const session other = make_session("s2");
  EXPECT_EQ(store_.create(other, record_for(other, "a")), store_status::conflict);
  EXPECT_EQ(store_.get("s2").status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("a")).value.sid, "s1");
}

TEST_F(SqliteStore, FindsRefreshByBinaryHash) {
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto got = store_.find_refresh(hash_of("a"));
  ASSERT_EQ(got.status, store_status::ok);
  EXPECT_EQ(got.value.hash, hash_of("a"));
  EXPECT_EQ(got.value.sid, "s1");
  EXPECT_EQ(got.value.generation, 1u);
  // Hashes that agree up to a NUL byte are still different keys.
  EXPECT_EQ(store_.find_refresh(hash_of("ab")).status, store_status::not_found);
}

TEST_F(SqliteStore, UpdateWithCurrentVersionReplacesTheSession) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  s.version = 2;
  s.idle_expires_at += 1000;
  s.claims_json = "{}";
  s.rt_successor = "x\0y"s;
  ASSERT_EQ(store_.update(s, 1, nullptr), store_status::ok);
  expect_same(store_.get("s1").value, s);
}

TEST_F(SqliteStore, UpdateWithStaleVersionIsConflictAndWritesNothing) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  session moved = s;
  moved.version = 2;
  ASSERT_EQ(store_.update(moved, 1, nullptr), store_status::ok);

  // Stale with the indexed columns as stored, and stale with one of them changed.
  session stale = s;
  stale.version = 2;
  stale.rt_generation = 2;
  const refresh_record rt = record_for(stale, "b");
  EXPECT_EQ(store_.update(stale, 1, &rt), store_status::conflict);
  stale.sub = "mallory";
  EXPECT_EQ(store_.update(stale, 1, &rt), store_status::conflict);
  expect_same(store_.get("s1").value, moved);
  EXPECT_EQ(store_.find_refresh(hash_of("b")).status, store_status::not_found);
}

// Changing an indexed column (sub, device, idp sid, state) moves the session in the lists.
TEST_F(SqliteStore, UpdateOfIndexedColumnsMovesTheSessionBetweenLists) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  s.version = 2;
  s.sub = "bob";
  s.device_id = "dev-2";
  s.idp_sid = "idp-2";
  s.created_at = 7;
  ASSERT_EQ(store_.update(s, 1, nullptr), store_status::ok);
  expect_same(store_.get("s1").value, s);
  EXPECT_TRUE(store_.list_by_sub("alice").value.empty());
  EXPECT_TRUE(store_.list_by_device("dev-alice").value.empty());
  EXPECT_TRUE(store_.list_by_idp_sid("idp-alice").value.empty());
  EXPECT_EQ(sids_of(store_.list_by_sub("bob").value), std::vector<std::string>{"s1"});
  EXPECT_EQ(sids_of(store_.list_by_device("dev-2").value), std::vector<std::string>{"s1"});
  EXPECT_EQ(sids_of(store_.list_by_idp_sid("idp-2").value), std::vector<std::string>{"s1"});
  s.version = 3;
  s.state = session_state::revoked;
  ASSERT_EQ(store_.update(s, 2, nullptr), store_status::ok);
  EXPECT_TRUE(store_.list_by_sub("bob").value.empty());
  EXPECT_EQ(store_.get("s1").value.state, session_state::revoked);
}

TEST_F(SqliteStore, UpdateOfUnknownSidIsNotFound) {
  const session s = make_session("ghost");
  const refresh_record rt = record_for(s, "b");
  EXPECT_EQ(store_.update(s, 1, &rt), store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("b")).status, store_status::not_found);
}

TEST_F(SqliteStore, UpdateRecordsTheNewRefreshToken) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  s.version = 2;
  s.rt_generation = 2;
  const refresh_record rt = record_for(s, "b");
  ASSERT_EQ(store_.update(s, 1, &rt), store_status::ok);
  const auto old_rt = store_.find_refresh(hash_of("a"));
  const auto new_rt = store_.find_refresh(hash_of("b"));
  ASSERT_TRUE(old_rt.ok());
  ASSERT_TRUE(new_rt.ok());
  EXPECT_EQ(old_rt.value.generation, 1u);
  EXPECT_EQ(new_rt.value.generation, 2u);
  EXPECT_EQ(new_rt.value.sid, "s1");
}

// A failure inside the transaction (here a refresh hash already taken) rolls back the
// session write too, and the store goes on working.
TEST_F(SqliteStore, FailedUpdateRollsBackAndStoreStaysUsable) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  session next = s;
  next.version = 2;
  next.sub = "changed";
  const refresh_record dup = record_for(next, "a");
  EXPECT_EQ(store_.update(next, 1, &dup), store_status::unavailable);
  expect_same(store_.get("s1").value, s);

  const refresh_record fresh = record_for(next, "b");
  EXPECT_EQ(store_.update(next, 1, &fresh), store_status::ok);
  EXPECT_EQ(store_.get("s1").value.sub, "changed");
  EXPECT_EQ(store_.ping(), store_status::ok);
}

TEST_F(SqliteStore, ListsOnlyActiveSessionsOldestFirst) {
  // Created out of order; s3 and s4 share a created_at, so sid breaks the tie.
  const std::vector<session> all = {
      make_session("s4", "alice", 300), make_session("s1", "alice", 100),
      make_session("s3", "alice", 300), make_session("s2", "alice", 200),
      make_session("b1", "bob", 150)};
  int n = 0;
  for (const auto& s : all) {
    ASSERT_EQ(store_.create(s, record_for(s, std::to_string(n++))), store_status::ok);
  }
  session ended = store_.get("s2").value;
  ended.state = session_state::revoked;
  ended.end_reason = "user_logout";
  ended.ended_at = 500;
  ended.version = 2;
  ASSERT_EQ(store_.update(ended, 1, nullptr), store_status::ok);

  const std::vector<std::string> want = {"s1", "s3", "s4"};
  const auto by_sub = store_.list_by_sub("alice");
  ASSERT_TRUE(by_sub.ok());
  EXPECT_EQ(sids_of(by_sub.value), want);
  expect_same(by_sub.value[0], all[1]);
  EXPECT_EQ(sids_of(store_.list_by_device("dev-alice").value), want);
  EXPECT_EQ(sids_of(store_.list_by_idp_sid("idp-alice").value), want);
  EXPECT_EQ(sids_of(store_.list_by_sub("bob").value), std::vector<std::string>{"b1"});
  const auto none = store_.list_by_sub("carol");
  EXPECT_TRUE(none.ok());
  EXPECT_TRUE(none.value.empty());
}

TEST_F(SqliteStore, CountActiveRespectsBothExpiries) {
  session live = make_session("live");
  live.idle_expires_at = 2000;
  live.expires_at = 5000;
  session idle_gone = make_session("idle");
  idle_gone.idle_expires_at = 1000;
  idle_gone.expires_at = 5000;
  session abs_gone = make_session("abs");
  abs_gone.idle_expires_at = 2000;
  abs_gone.expires_at = 1000;
  session revoked = make_session("rev");
  revoked.state = session_state::revoked;
  revoked.idle_expires_at = 2000;
  revoked.expires_at = 5000;
  for (const auto* s : {&live, &idle_gone, &abs_gone, &revoked}) {
    ASSERT_EQ(store_.create(*s, record_for(*s, s->sid)), store_status::ok);
  }
  EXPECT_EQ(store_.count_active(500).value, 3);
  EXPECT_EQ(store_.count_active(1000).value, 1);  // strictly after now
  EXPECT_EQ(store_.count_active(1999).value, 1);
  EXPECT_EQ(store_.count_active(2000).value, 0);
  EXPECT_TRUE(store_.count_active(0).ok());
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

// Each round every thread reads the same version, then all race to bump it: one wins.
TEST_F(SqliteStore, ConcurrentCompareAndSetHasOneWinnerPerRound) {
  constexpr int threads = 8;
  constexpr int rounds = 50;
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  std::vector<std::atomic<int>> wins(rounds);
  std::atomic<int> errors{0};
  std::barrier sync(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        auto got = store_.get("s1");
        sync.arrive_and_wait();
        if (!got.ok()) {
          ++errors;
        } else {
          session next = got.value;
          const std::uint64_t read = next.version;
          ++next.version;
          ++next.rt_generation;
          const refresh_record rt = record_for(next, std::to_string(r) + "/" + std::to_string(t));
          const store_status st = store_.update(next, read, &rt);
          if (st == store_status::ok) {
            ++wins[r];
          } else if (st != store_status::conflict) {
            ++errors;
          }
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : pool)
    th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int r = 0; r < rounds; ++r)
    EXPECT_EQ(wins[r].load(), 1) << "round " << r;
  EXPECT_EQ(store_.get("s1").value.version, 1u + rounds);
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
