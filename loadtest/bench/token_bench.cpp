// token_bench: JWT signing and verification per algorithm on a realistic access-token
// claims set (~300 bytes), as the hub mints them on login/refresh and checks them on
// validate and WebSocket auth.
#include <benchmark/benchmark.h>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"

namespace {

using namespace shub::auth;

constexpr const char* claims =
    R"({"iss":"sessionhub","sub":"user-4711@example.com","aud":"sessionhub","exp":1900000000,)"
    R"("iat":1700000000,"nbf":1700000000,"jti":"dGhpcyBpcyBhIGp0aQ","sid":"c2Vzc2lvbi1pZC14eXo",)"
    R"("auth_time":1700000000,"amr":["pwd"],"tenant":"acme","roles":["analyst","crm-user"]})";

key_ptr make_key(jwt_alg alg) {
  if (alg != jwt_alg::HS256) return key::generate(alg);
  std::string error;
  return key::from_hmac_secret(std::string(32, 's'), error);
}

jwt_expectations expectations() {
  jwt_expectations e;
  e.typ = "at+jwt";
  e.issuer = "sessionhub";
  e.audience = "sessionhub";
  e.now_s = 1'700'000'100;
  return e;
}

void BM_Sign(benchmark::State& state) {
  const auto k = make_key(static_cast<jwt_alg>(state.range(0)));
  state.SetLabel(std::string(alg_name(k->alg())));
  for (auto _ : state)
    benchmark::DoNotOptimize(jwt_sign(*k, "at+jwt", claims));
  state.SetItemsProcessed(state.iterations());
}

void BM_Verify(benchmark::State& state) {
  const auto k = make_key(static_cast<jwt_alg>(state.range(0)));
  state.SetLabel(std::string(alg_name(k->alg())));
  const key_set keys({k});
  const auto token = jwt_sign(*k, "at+jwt", claims);
  const auto e = expectations();
  for (auto _ : state) {
    if (!jwt_verify(token, keys, e).ok()) state.SkipWithError("verify failed");
  }
  state.SetItemsProcessed(state.iterations());
}

// A forged token is refused at the signature: what a flood of garbage costs the hub.
void BM_VerifyForged(benchmark::State& state) {
  const auto k = key::generate(jwt_alg::ES256);
  const key_set keys({k});
  std::string token = jwt_sign(*k, "at+jwt", claims);
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  const auto e = expectations();
  for (auto _ : state)
    benchmark::DoNotOptimize(jwt_verify(token, keys, e).error);
  state.SetItemsProcessed(state.iterations());
}

#define EACH_ALG                              \
  Arg(static_cast<int>(jwt_alg::ES256))       \
      ->Arg(static_cast<int>(jwt_alg::EdDSA)) \
      ->Arg(static_cast<int>(jwt_alg::RS256)) \
      ->Arg(static_cast<int>(jwt_alg::HS256)) \
      ->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_Sign)->EACH_ALG;
BENCHMARK(BM_Verify)->EACH_ALG;
BENCHMARK(BM_VerifyForged)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
