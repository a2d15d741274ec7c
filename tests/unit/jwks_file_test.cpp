// jwks_file: an identity provider's JWKS file, read at start-up, re-read when replaced (in
// place or by rename), never more often than its check interval, and a broken new file
// leaves the previous keys in use and is reported once.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "auth/jwks_file.hpp"
#include "auth/keys.hpp"

namespace shub::auth {
namespace {

using namespace std::chrono_literals;
using kind = jwks_file::change::kind;

class JwksFile : public ::testing::Test {
 protected:
  JwksFile() {
    char tmpl[] = "/tmp/shub-jwks-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/idp.jwks";
  }
  ~JwksFile() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  // As an operator's `mv new.jwks idp.jwks`: a new inode, never a half-written file.
  void replace(const std::string& text) {
    const std::string tmp = dir_ + "/new.jwks";
    std::ofstream(tmp, std::ios::trunc) << text;
    std::filesystem::rename(tmp, path_);
  }
  static std::string jwks_of(const key& k) { return "{\"keys\":[" + k.public_jwk_json() + "]}"; }

  std::string dir_, path_;
  const key_ptr a_ = key::generate(jwt_alg::ES256);
  const key_ptr b_ = key::generate(jwt_alg::EdDSA);
};

TEST_F(JwksFile, RefusesAtStartWhatGivesNoKey) {
  std::string skipped;
  EXPECT_THROW(jwks_file(path_, 1s, skipped), std::runtime_error);  // no file
  write("not json");
  EXPECT_THROW(jwks_file(path_, 1s, skipped), std::runtime_error);
  write(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  EXPECT_THROW(jwks_file(path_, 1s, skipped), std::runtime_error);
  write("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}," + a_->public_jwk_json() + "]}");
  jwks_file f(path_, 1s, skipped);
  EXPECT_NE(skipped.find("unsupported"), std::string::npos) << skipped;
  EXPECT_TRUE(f.current()->find(a_->kid()));
}

TEST_F(JwksFile, ReloadsAChangedFileAtMostOncePerInterval) {
  write(jwks_of(*a_));
  std::string skipped;
  jwks_file f(path_, 1s, skipped);
  const auto t0 = std::chrono::steady_clock::now();
  jwks_file::change what;
  EXPECT_TRUE(f.keys(t0, what)->find(a_->kid()));
  EXPECT_EQ(what.what, kind::none);

  replace(jwks_of(*b_));
  // Not yet looked at: the check interval runs from the start.
  EXPECT_TRUE(f.keys(t0 + 100ms, what)->find(a_->kid()));
  EXPECT_EQ(what.what, kind::none);
  const auto keys = f.keys(t0 + 1100ms, what);
  EXPECT_EQ(what.what, kind::loaded);
  EXPECT_EQ(what.keys, 1u);
  EXPECT_TRUE(keys->find(b_->kid()));
  EXPECT_FALSE(keys->find(a_->kid()));

  // Unchanged: nothing to report however often it is checked.
  for (int i = 2; i < 5; ++i) {
    jwks_file::change again;
    (void)f.keys(t0 + i * 1100ms, again);
    EXPECT_EQ(again.what, kind::none);
  }

  // Rewritten in place (same inode, another size): seen too.
  write("{\"keys\":[" + a_->public_jwk_json() + "," + b_->public_jwk_json() + "]}");
  jwks_file::change both;
  EXPECT_EQ(f.keys(t0 + 10s, both)->keys().size(), 2u);
  EXPECT_EQ(both.what, kind::loaded);
}

TEST_F(JwksFile, ABrokenNewFileKeepsTheOldKeysAndIsReportedOnce) {
  write(jwks_of(*a_));
  std::string skipped;
  jwks_file f(path_, 1s, skipped);
  const auto t0 = std::chrono::steady_clock::now();

  replace(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]})");
  jwks_file::change what;
  EXPECT_TRUE(f.keys(t0 + 2s, what)->find(a_->kid()));
  EXPECT_EQ(what.what, kind::failed);
  EXPECT_NE(what.detail.find("no usable key"), std::string::npos) << what.detail;
  jwks_file::change again;
  EXPECT_TRUE(f.keys(t0 + 4s, again)->find(a_->kid()));
  EXPECT_EQ(again.what, kind::none);

  std::filesystem::remove(path_);
  jwks_file::change gone;
  EXPECT_TRUE(f.keys(t0 + 6s, gone)->find(a_->kid()));
  EXPECT_EQ(gone.what, kind::failed);
  jwks_file::change still_gone;
  (void)f.keys(t0 + 8s, still_gone);
  EXPECT_EQ(still_gone.what, kind::none);

  replace(jwks_of(*b_));
  jwks_file::change back;
  EXPECT_TRUE(f.keys(t0 + 10s, back)->find(b_->kid()));
  EXPECT_EQ(back.what, kind::loaded);
}

TEST_F(JwksFile, KeysHandedOutOutliveAReload) {
  write(jwks_of(*a_));
  std::string skipped;
  jwks_file f(path_, 1s, skipped);
  const auto t0 = std::chrono::steady_clock::now();
  jwks_file::change what;
  const auto held = f.keys(t0, what);
  replace(jwks_of(*b_));
  (void)f.keys(t0 + 2s, what);
  ASSERT_EQ(what.what, kind::loaded);
  EXPECT_TRUE(held->find(a_->kid()));  // a request in flight keeps the set it started with
  EXPECT_TRUE(held->find(a_->kid())->verify("x", a_->sign("x")));
}

}  // namespace
}  // namespace shub::auth
