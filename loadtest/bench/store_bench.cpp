// store_bench: what one session_store call costs on each backend, side by side in one run:
// SQLite on a file database in WAL mode (as in production, not ":memory:") and Redis (a
// redis-server of this benchmark on loopback, no persistence). Each store is filled once
// with `population` sessions; the update benchmark is a refresh rotation's store write: a
// compare-and-set on the version plus a new refresh record. Threads work on disjoint
// sessions, so every write wins.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/redis_store.hpp"
#include "auth/sqlite_store.hpp"
#include "redis_server.hpp"

namespace {

using shub::auth::refresh_record;
using shub::auth::session;
using shub::auth::session_store;

constexpr int population = 10'000;

// 32 bytes like a SHA-256, unique per n.
std::string hash_for(std::uint64_t n) {
  std::string h(32, '\x5a');
  for (int i = 0; i < 8; ++i)
    h[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return h;
}

std::string sid_for(int i) {
  return "sid-" + std::to_string(i);
}

struct bench_db {
  std::string dir;
  std::unique_ptr<shub::testing::redis_server> redis;
  std::unique_ptr<session_store> store;
  std::vector<session> sessions;  // the last written state of each, for the next CAS
  std::atomic<std::uint64_t> next_hash{0};

  explicit bench_db(bool on_redis) {
    std::string tmpl = "/tmp/store_bench.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    if (on_redis) {
      redis = std::make_unique<shub::testing::redis_server>();
      auto o = shub::auth::redis_options::parse_url(redis->url());
      o.pool = 16;
      store = std::make_unique<shub::auth::redis_store>(o);
    } else {
      store = std::make_unique<shub::auth::sqlite_store>(dir + "/sessions.db");
    }
    // Live sessions (created now, expiring in a day), as a rotation finds them.
    const std::int64_t created = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    for (int i = 0; i < population; ++i) {
      session s;
      s.sid = sid_for(i);
      s.sub = "user-" + std::to_string(i % 1000);
      s.device_id = "device-" + std::to_string(i);
      s.idp_sid = "idp-" + std::to_string(i);
      s.claims_json = R"({"role":"member","tenant":"acme"})";
      s.amr_json = R"(["pwd"])";
      s.created_at = created + i;
      s.auth_time = s.created_at;
      s.idle_expires_at = s.created_at + 1'800'000;
      s.expires_at = s.created_at + 86'400'000;
      s.idle_timeout_ms = 1'800'000;
      s.rt_generation = 1;
      s.rt_rotated_at = s.created_at;
      s.rt_successor = std::string(160, '\x01');
      if (store->create(s, {hash_for(next_hash++), s.sid, 1}) != shub::auth::store_status::ok) {
        throw std::runtime_error("populating the benchmark store failed");
      }
      sessions.push_back(std::move(s));
    }
  }
  ~bench_db() {
    store.reset();
    redis.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

bench_db& sqlite_db() {
  static bench_db instance(false);
  return instance;
}

bench_db& redis_db() {
  static bench_db instance(true);
  return instance;
}

using db_fn = bench_db& (*)();

void BM_Get(benchmark::State& state, db_fn db) {
  auto& d = db();
  std::vector<std::string> sids;
  for (int i = 0; i < population; ++i)
    sids.push_back(sid_for((i * 7919) % population));
  std::size_t i = static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) {
    auto r = d.store->get(sids[i++ % sids.size()]);
    if (!r.ok()) state.SkipWithError("get failed");
    benchmark::DoNotOptimize(r);
  }
}

void BM_UpdateCas(benchmark::State& state, db_fn db) {
  auto& d = db();
  const auto threads = static_cast<std::size_t>(state.threads());
  const auto me = static_cast<std::size_t>(state.thread_index());
  const std::size_t mine = d.sessions.size() / threads;
  std::size_t i = 0;
  for (auto _ : state) {
    session& s = d.sessions[me + threads * ((i++ * 7919) % mine)];
    const std::uint64_t read = s.version;
    ++s.version;
    ++s.rt_generation;
    s.rt_rotated_at += 1000;
    s.idle_expires_at += 1000;
    const refresh_record rt{hash_for(d.next_hash++), s.sid, s.rt_generation};
    if (d.store->update(s, read, &rt) != shub::auth::store_status::ok) {
      state.SkipWithError("update failed");
    }
  }
}

void BM_FindRefresh(benchmark::State& state, db_fn db) {
  auto& d = db();
  std::vector<std::string> hashes;
  for (int i = 0; i < population; ++i)
    hashes.push_back(hash_for((i * 7919) % population));
  std::size_t i = static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) {
    auto r = d.store->find_refresh(hashes[i++ % hashes.size()]);
    if (!r.ok()) state.SkipWithError("find_refresh failed");
    benchmark::DoNotOptimize(r);
  }
}

BENCHMARK_CAPTURE(BM_Get, sqlite, &sqlite_db);
BENCHMARK_CAPTURE(BM_Get, redis, &redis_db);
BENCHMARK_CAPTURE(BM_FindRefresh, sqlite, &sqlite_db);
BENCHMARK_CAPTURE(BM_FindRefresh, redis, &redis_db);
BENCHMARK_CAPTURE(BM_UpdateCas, sqlite, &sqlite_db)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK_CAPTURE(BM_UpdateCas, redis, &redis_db)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
