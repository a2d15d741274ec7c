// channel_index and send_queue: the worker-local subscription map and the bounded queue.
#include "hub/channel_index.hpp"

#include <gtest/gtest.h>

#include "hub/send_queue.hpp"

namespace shub {
namespace {

struct sub {
  int id;
};

TEST(ChannelIndex, SubscribeFindUnsubscribe) {
  channel_index<sub> idx;
  sub a{1}, b{2}, c{3};
  idx.subscribe("session:s1", &a);
  idx.subscribe("session:s1", &b);
  idx.subscribe("user:u1", &a);
  idx.subscribe("user:u2", &c);
  EXPECT_EQ(idx.find("session:s1").size(), 2u);
  EXPECT_EQ(idx.find("user:u1").size(), 1u);
  EXPECT_TRUE(idx.find("user:nobody").empty());
  idx.unsubscribe("session:s1", &a);
  ASSERT_EQ(idx.find("session:s1").size(), 1u);
  EXPECT_EQ(idx.find("session:s1")[0], &b);
  idx.unsubscribe("session:s1", &b);
  EXPECT_TRUE(idx.find("session:s1").empty());
  EXPECT_EQ(idx.channel_count(), 2u);  // empty channels are dropped
  idx.unsubscribe("user:u2", &a);      // not subscribed there: no effect
  EXPECT_EQ(idx.find("user:u2").size(), 1u);
}

TEST(ChannelIndex, ManySubscribersRemoveInAnyOrder) {
  channel_index<sub> idx;
  std::vector<sub> subs(1000);
  for (auto& s : subs)
    idx.subscribe("user:big", &s);
  for (std::size_t i = 0; i < subs.size(); i += 2)
    idx.unsubscribe("user:big", &subs[i]);
  EXPECT_EQ(idx.find("user:big").size(), 500u);
  for (const sub* s : idx.find("user:big"))
    EXPECT_EQ((s - subs.data()) % 2, 1);
}

TEST(SendQueue, BoundedInFramesAndBytes) {
  send_queue q(3, 100);
  auto frame = [](std::size_t n) { return std::make_shared<const std::string>(n, 'x'); };
  EXPECT_TRUE(q.push({frame(40)}));
  EXPECT_TRUE(q.push({frame(40)}));
  EXPECT_FALSE(q.push({frame(30)}));  // 110 bytes > 100
  EXPECT_TRUE(q.push({frame(20)}));
  EXPECT_FALSE(q.push({frame(1)}));  // 4 frames > 3
  EXPECT_EQ(q.bytes(), 100u);
  q.pop();
  EXPECT_EQ(q.bytes(), 60u);
  EXPECT_TRUE(q.push({frame(1)}));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueue, SharedFramesAreNotCopied) {
  send_queue a(8, 1024), b(8, 1024);
  const auto f = std::make_shared<const std::string>("{\"type\":\"event\"}");
  ASSERT_TRUE(a.push({f}));
  ASSERT_TRUE(b.push({f}));
  EXPECT_EQ(a.front().data.get(), b.front().data.get());
  EXPECT_EQ(f.use_count(), 3);
}

}  // namespace
}  // namespace shub
