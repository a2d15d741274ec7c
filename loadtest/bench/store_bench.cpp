// store_bench: what one session_store call costs on the embedded SQLite backend, on a file
// database in WAL mode (as in production, not ":memory:"). The store is filled once with
// `population` sessions and shared by every benchmark; the update benchmark is a refresh
// rotation's store write: a compare-and-set on the version plus a new refresh record.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/sqlite_store.hpp"

namespace {

using shub::auth::refresh_record;
using shub::auth::session;
using shub::auth::sqlite_store;

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
  std::unique_ptr<sqlite_store> store;
  std::vector<session> sessions;  // the last written state of each, for the next CAS
  std::uint64_t next_hash = 0;

  bench_db() {
    std::string tmpl = "/tmp/store_bench.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    store = std::make_unique<sqlite_store>(dir + "/sessions.db");
    for (int i = 0; i < population; ++i) {
      session s;
      s.sid = sid_for(i);
      s.sub = "user-" + std::to_string(i % 1000);
      s.device_id = "device-" + std::to_string(i);
      s.idp_sid = "idp-" + std::to_string(i);
      s.claims_json = R"({"role":"member","tenant":"acme"})";
      s.amr_json = R"(["pwd"])";
      s.created_at = 1'700'000'000'000 + i;
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
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

bench_db& db() {
  static bench_db instance;
  return instance;
}

void BM_SqliteGet(benchmark::State& state) {
  auto& d = db();
  std::vector<std::string> sids;
  for (int i = 0; i < population; ++i)
    sids.push_back(sid_for((i * 7919) % population));
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = d.store->get(sids[i++ % sids.size()]);
    if (!r.ok()) state.SkipWithError("get failed");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_SqliteGet);

void BM_SqliteUpdateCas(benchmark::State& state) {
  auto& d = db();
  std::size_t i = 0;
  for (auto _ : state) {
    session& s = d.sessions[(i++ * 7919) % d.sessions.size()];
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
BENCHMARK(BM_SqliteUpdateCas);

void BM_SqliteFindRefresh(benchmark::State& state) {
  auto& d = db();
  std::vector<std::string> hashes;
  for (int i = 0; i < population; ++i)
    hashes.push_back(hash_for((i * 7919) % population));
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = d.store->find_refresh(hashes[i++ % hashes.size()]);
    if (!r.ok()) state.SkipWithError("find_refresh failed");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_SqliteFindRefresh);

}  // namespace

BENCHMARK_MAIN();
