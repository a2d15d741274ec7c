// crypto: the digests against FIPS 180-4's examples, alternating and from several threads at
// once (each thread keeps its own context; the algorithms are fetched once for all).
#include "auth/crypto.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace shub::auth {
namespace {

constexpr const char* two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

TEST(Crypto, DigestsMatchTheStandardsExamples) {
  for (int round = 0; round < 3; ++round) {  // the same contexts, used again and in turn
    EXPECT_EQ(to_hex(sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(to_hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(to_hex(sha256(two_blocks)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(to_hex(sha1(two_blocks)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(to_hex(sha256("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
}

TEST(Crypto, DigestsAgreeAcrossThreads) {
  const std::string expected = sha256(two_blocks);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (sha256(two_blocks) != expected) ++wrong[t];
        if (to_hex(sha1("abc")) != "a9993e364706816aba3e25717850c26c9cd0d89d") ++wrong[t];
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (const int w : wrong)
    EXPECT_EQ(w, 0);
}

}  // namespace
}  // namespace shub::auth
