// session_bench: the session rules end to end on a file-backed SQLite store (WAL), as the
// hub runs them: a full refresh rotation (lookup, decide, mint and sign the new access
// token, seal the successor, compare-and-set), a racing tab's repeat within the grace,
// validation of an access token against the store, and session creation.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "auth/clock.hpp"
#include "auth/session_service.hpp"
#include "auth/sqlite_store.hpp"

namespace {

using namespace shub::auth;

struct fixture {
  std::filesystem::path dir;
  std::unique_ptr<sqlite_store> store;
  key_set keys;
  system_clock clock;
  std::unique_ptr<session_service> svc;

  explicit fixture(jwt_alg alg = jwt_alg::ES256) {
    dir = std::filesystem::temp_directory_path() /
          ("shub-bench-" + session_service::new_id().substr(0, 8));
    std::filesystem::create_directories(dir);
    store = std::make_unique<sqlite_store>((dir / "bench.db").string());
    keys.add(key::generate(alg));
    svc = std::make_unique<session_service>(*store, keys, clock, session_policy{});
  }
  ~fixture() {
    svc.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  session_outcome login() {
    create_request req;
    req.sub = "user-" + session_service::new_id();
    return svc->create(req);
  }
};

void BM_RefreshRotation(benchmark::State& state) {
  fixture f;
  std::string token = f.login().tokens.refresh_token;
  for (auto _ : state) {
    auto out = f.svc->refresh(token);
    if (!out.ok() || !out.rotated) state.SkipWithError("rotation failed");
    token = std::move(out.tokens.refresh_token);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RefreshRotation)->Unit(benchmark::kMicrosecond);

void BM_RefreshWithinGrace(benchmark::State& state) {
  fixture f;
  const std::string previous = f.login().tokens.refresh_token;
  (void)f.svc->refresh(previous);
  for (auto _ : state) {
    const auto out = f.svc->refresh(previous);  // the racing tab: same pair, no write
    if (!out.ok() || out.rotated) state.SkipWithError("grace failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RefreshWithinGrace)->Unit(benchmark::kMicrosecond);

void BM_ValidateAccessToken(benchmark::State& state) {
  fixture f;
  const std::string access = f.login().tokens.access_token;
  for (auto _ : state) {
    if (!f.svc->validate(access).ok()) state.SkipWithError("validate failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateAccessToken)->Unit(benchmark::kMicrosecond);

void BM_CreateSession(benchmark::State& state) {
  fixture f;
  for (auto _ : state) {
    if (!f.login().ok()) state.SkipWithError("create failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateSession)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
