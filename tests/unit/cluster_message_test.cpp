// cluster_message: the replica-to-replica payload round-trips, malformed payloads are refused
// with a reason, and the sequence tracker's verdicts (duplicate, gap, new epoch).
#include "hub/cluster_message.hpp"

#include <gtest/gtest.h>

namespace shub::cluster {
namespace {

message event_message(std::uint64_t seq, std::string origin = "hub1", std::string epoch = "e1") {
  message m;
  m.origin = std::move(origin);
  m.epoch = std::move(epoch);
  m.seq = seq;
  m.sent_us = 1'700'000'000'000'000;
  m.channels = {"session:s1", "user:alice"};
  m.ends_sid = "s1";
  m.session = session_view{"s1", 7, 1000, 2000, false};
  m.frame = R"({"type":"event","id":"x-1","event":"logout","data":{"a":"b\nc"}})";
  return m;
}

message heartbeat(std::uint64_t seq, std::string origin = "hub1", std::string epoch = "e1") {
  message m;
  m.heartbeat = true;
  m.origin = std::move(origin);
  m.epoch = std::move(epoch);
  m.seq = seq;
  return m;
}

TEST(ClusterMessage, EventRoundTripsEveryField) {
  const message m = event_message(42);
  message out;
  std::string error;
  ASSERT_TRUE(decode(topic_of(m), encode_payload(m), out, error)) << error;
  EXPECT_FALSE(out.heartbeat);
  EXPECT_EQ(out.origin, "hub1");
  EXPECT_EQ(out.epoch, "e1");
  EXPECT_EQ(out.seq, 42u);
  EXPECT_EQ(out.sent_us, m.sent_us);
  EXPECT_EQ(out.channels, m.channels);
  EXPECT_EQ(out.ends_sid, "s1");
  ASSERT_TRUE(out.session);
  EXPECT_EQ(out.session->sid, "s1");
  EXPECT_EQ(out.session->version, 7u);
  EXPECT_EQ(out.session->idle_expires_at, 1000);
  EXPECT_EQ(out.session->expires_at, 2000);
  EXPECT_FALSE(out.session->active);
  EXPECT_EQ(out.frame, m.frame);  // byte for byte, newline inside included
}

TEST(ClusterMessage, EventWithoutSessionOrEnd) {
  message m = event_message(1);
  m.session.reset();
  m.ends_sid.clear();
  message out;
  std::string error;
  ASSERT_TRUE(decode(topic_event, encode_payload(m), out, error)) << error;
  EXPECT_FALSE(out.session);
  EXPECT_TRUE(out.ends_sid.empty());
}

TEST(ClusterMessage, HeartbeatRoundTrips) {
  const message hb = heartbeat(9);
  EXPECT_EQ(topic_of(hb), topic_heartbeat);
  message out;
  std::string error;
  ASSERT_TRUE(decode(topic_heartbeat, encode_payload(hb), out, error)) << error;
  EXPECT_TRUE(out.heartbeat);
  EXPECT_EQ(out.seq, 9u);
}

TEST(ClusterMessage, RefusesMalformedPayloads) {
  const std::string good = encode_payload(event_message(3));
  const std::string header = good.substr(0, good.find('\n'));
  struct bad_case {
    std::string name, topic, payload;
  };
  const std::vector<bad_case> cases = {
      {"unknown topic", "other", good},
      {"event without frame", std::string(topic_event), header},
      {"event with empty frame", std::string(topic_event), header + "\n"},
      {"heartbeat with frame", std::string(topic_heartbeat), good},
      {"not JSON", std::string(topic_event), "nope\n{}"},
      {"JSON array", std::string(topic_event), "[]\n{}"},
      {"wrong version", std::string(topic_heartbeat),
       R"({"v":2,"origin":"a","epoch":"e","seq":1,"sent_us":1})"},
      {"no origin", std::string(topic_heartbeat), R"({"v":1,"epoch":"e","seq":1,"sent_us":1})"},
      {"empty origin", std::string(topic_heartbeat),
       R"({"v":1,"origin":"","epoch":"e","seq":1,"sent_us":1})"},
      {"negative seq", std::string(topic_heartbeat),
       R"({"v":1,"origin":"a","epoch":"e","seq":-1,"sent_us":1})"},
      {"event seq 0", std::string(topic_event),
       R"({"v":1,"origin":"a","epoch":"e","seq":0,"sent_us":1,"channels":[]})"
       "\n{}"},
      {"channels not array", std::string(topic_event),
       R"({"v":1,"origin":"a","epoch":"e","seq":1,"sent_us":1,"channels":"x"})"
       "\n{}"},
      {"empty channel", std::string(topic_event),
       R"({"v":1,"origin":"a","epoch":"e","seq":1,"sent_us":1,"channels":[""]})"
       "\n{}"},
      {"session not object", std::string(topic_event),
       R"({"v":1,"origin":"a","epoch":"e","seq":1,"sent_us":1,"channels":[],"session":1})"
       "\n{}"},
      {"session without active", std::string(topic_event),
       R"({"v":1,"origin":"a","epoch":"e","seq":1,"sent_us":1,"channels":[],)"
       R"("session":{"sid":"s","version":1,"idle_expires_at":1,"expires_at":2}})"
       "\n{}"},
      {"invalid UTF-8", std::string(topic_heartbeat),
       "{\"v\":1,\"origin\":\"\xff\",\"epoch\":\"e\",\"seq\":1,\"sent_us\":1}"},
  };
  for (const auto& c : cases) {
    message out;
    std::string error;
    EXPECT_FALSE(decode(c.topic, c.payload, out, error)) << c.name;
    EXPECT_FALSE(error.empty()) << c.name;
  }
  std::string many = R"({"v":1,"origin":"a","epoch":"e","seq":1,"sent_us":1,"channels":[)";
  for (std::size_t i = 0; i <= max_channels; ++i)
    many += std::string(i ? "," : "") + "\"c\"";
  many += "]}\n{}";
  message out;
  std::string error;
  EXPECT_FALSE(decode(topic_event, many, out, error));
}

TEST(SequenceTracker, FirstContactIsANewEpochAndDelivers) {
  sequence_tracker t;
  const auto v = t.observe(event_message(5));
  EXPECT_TRUE(v.new_epoch);
  EXPECT_TRUE(v.deliver);
  EXPECT_EQ(v.missed, 0u);
  EXPECT_EQ(t.origins(), 1u);
}

TEST(SequenceTracker, InOrderDeliversDuplicatesAreDropped) {
  sequence_tracker t;
  (void)t.observe(event_message(1));
  auto v = t.observe(event_message(2));
  EXPECT_TRUE(v.deliver);
  EXPECT_FALSE(v.new_epoch);
  EXPECT_EQ(v.missed, 0u);
  v = t.observe(event_message(2));
  EXPECT_TRUE(v.duplicate);
  EXPECT_FALSE(v.deliver);
  v = t.observe(event_message(1));
  EXPECT_TRUE(v.duplicate);
}

TEST(SequenceTracker, GapsAreCountedAndTheEventStillDelivered) {
  sequence_tracker t;
  (void)t.observe(event_message(1));
  const auto v = t.observe(event_message(5));
  EXPECT_TRUE(v.deliver);
  EXPECT_EQ(v.missed, 3u);
  EXPECT_TRUE(t.observe(event_message(6)).deliver);
}

TEST(SequenceTracker, HeartbeatRevealsALostLastEvent) {
  sequence_tracker t;
  (void)t.observe(event_message(1));
  auto v = t.observe(heartbeat(1));
  EXPECT_EQ(v.missed, 0u);
  EXPECT_FALSE(v.deliver);
  v = t.observe(heartbeat(3));
  EXPECT_EQ(v.missed, 2u);
  // The events the heartbeat announced as lost are not delivered if they show up late.
  EXPECT_TRUE(t.observe(event_message(3)).duplicate);
  EXPECT_TRUE(t.observe(event_message(4)).deliver);
}

TEST(SequenceTracker, ARestartedOriginStartsAgain) {
  sequence_tracker t;
  (void)t.observe(event_message(10, "hub1", "e1"));
  const auto v = t.observe(event_message(1, "hub1", "e2"));
  EXPECT_TRUE(v.new_epoch);
  EXPECT_TRUE(v.deliver);
  EXPECT_TRUE(t.observe(event_message(2, "hub1", "e2")).deliver);
}

TEST(SequenceTracker, OriginsAreIndependent) {
  sequence_tracker t;
  (void)t.observe(event_message(1, "hub1"));
  (void)t.observe(event_message(1, "hub2"));
  EXPECT_TRUE(t.observe(event_message(2, "hub1")).deliver);
  EXPECT_TRUE(t.observe(event_message(2, "hub2")).deliver);
  EXPECT_EQ(t.origins(), 2u);
}

TEST(SequenceTracker, HeartbeatFirstContactSetsTheBaseline) {
  sequence_tracker t;
  const auto v = t.observe(heartbeat(7));
  EXPECT_TRUE(v.new_epoch);
  EXPECT_FALSE(v.deliver);
  const auto next = t.observe(event_message(8));
  EXPECT_TRUE(next.deliver);
  EXPECT_EQ(next.missed, 0u);
}

}  // namespace
}  // namespace shub::cluster
