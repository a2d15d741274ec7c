// The shared corpus of forged and malformed access tokens (tests/support/token_corpus.hpp)
// against jwt_verify with a fixed clock: every forgery refused for its exact reason, every
// edge that is fine accepted, and genuine tokens of every algorithm the hub signs with. The
// same corpus runs against the real hub in tests/integration/hostile_tokens_test.cpp.
#include <gtest/gtest.h>

#include <set>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "token_corpus.hpp"

namespace shub::auth {
namespace {

using corpus::token_world;

const token_world& world() {
  static const token_world w(key::generate(jwt_alg::ES256));
  return w;
}

TEST(JwtCorpus, EveryForgeryIsRefusedForItsReason) {
  const token_world& w = world();
  const key_set keys({w.hub});
  const auto expect = corpus::expectations(w);
  ASSERT_EQ(jwt_verify(w.good(), keys, expect).error, jwt_error::none);
  int refused = 0;
  for (const auto& c : corpus::forged_tokens()) {
    const auto r = jwt_verify(c.token(w), keys, expect);
    EXPECT_EQ(to_string(r.error), to_string(c.expected)) << c.name;
    EXPECT_FALSE(r.jwt) << c.name;
    EXPECT_NE(c.expected, jwt_error::none) << c.name << ": a forgery must have a reason";
    refused += r.error != jwt_error::none ? 1 : 0;
  }
  std::printf("%d of %zu forged or malformed tokens refused\n", refused,
              corpus::forged_tokens().size());
  EXPECT_GE(corpus::forged_tokens().size(), 120u);
}

TEST(JwtCorpus, EdgesThatAreFinePass) {
  const token_world& w = world();
  const key_set keys({w.hub});
  const auto expect = corpus::expectations(w);
  for (const auto& c : corpus::accepted_tokens()) {
    const auto r = jwt_verify(c.token(w), keys, expect);
    EXPECT_TRUE(r.ok()) << c.name << ": " << to_string(r.error);
  }
}

TEST(JwtCorpus, CaseNamesAreUnique) {
  std::set<std::string> names;
  for (const auto* list : {&corpus::forged_tokens(), &corpus::accepted_tokens()})
    for (const auto& c : *list)
      EXPECT_TRUE(names.insert(c.name).second) << "two cases named " << c.name;
}

TEST(JwtCorpus, GenuineTokensOfEveryAlgorithmPass) {
  const token_world& w = world();
  std::string error;
  const auto hs = key::from_hmac_secret(std::string(32, 's'), error);
  for (const key_ptr& k : {w.hub, w.rsa, w.ed, hs}) {
    const key_set keys({k});
    const auto token = jwt_sign(*k, "at+jwt", w.claims());
    const auto r = jwt_verify(token, keys, corpus::expectations(w));
    EXPECT_TRUE(r.ok()) << alg_name(k->alg()) << " " << to_string(r.error);
  }
}

TEST(JwtCorpus, DeeplyNestedClaimsDoNotCrash) {
  const token_world& w = world();
  const std::string nested = std::string(2000, '[') + std::string(2000, ']');
  const auto token = corpus::sign(w.header(), w.claims("\"n\":" + nested), w.hub.get());
  const auto r = jwt_verify(token, key_set({w.hub}), corpus::expectations(w));
  EXPECT_TRUE(r.ok() || r.error == jwt_error::malformed || r.error == jwt_error::too_large);
}

}  // namespace
}  // namespace shub::auth
