// hostile_tokens_test: the shared corpus of forged and malformed access tokens
// (tests/support/token_corpus.hpp) against the real hub, at every door a token comes in by:
// GET /v1/validate and POST /v1/extend (Bearer), and on a WebSocket the auth and resume
// frames and the token frame of an authenticated socket. Every forgery is refused with the
// contract's code (401 token_invalid | token_expired | session_revoked; an error frame and
// close 4001) and one log line naming the reason, and none is ever logged itself; every edge
// that is fine passes everywhere. One hub serves the whole suite: it signs with a key this
// test wrote, so the corpus mints tokens of the hub's own key for the hub's own live session.
#include <gtest/gtest.h>

#include <map>

#include <rapidjson/document.h>

#include "auth/keys.hpp"
#include "harness.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"
#include "token_corpus.hpp"

namespace shub::itest {
namespace {

using auth::jwt_error;
using corpus::token_world;

constexpr std::int64_t leeway_s = 5;
constexpr std::size_t ws_max_frame = 4096;  // the hub's default --ws-max-frame-bytes
constexpr std::size_t max_header = 16384;   // the hub's default --max-header-bytes

// What the hub answers and logs for one refused token.
struct refusal {
  std::string code;    // the problem's and the error frame's code
  std::string reason;  // the log line's reason
};

refusal refusal_for(jwt_error e) {
  return {e == jwt_error::expired ? "token_expired" : "token_invalid",
          std::string(auth::to_string(e))};
}

struct hostile {
  std::string name;
  std::function<std::string(const token_world&)> token;
  refusal want;
};

// The hub of the suite, its key, and one live session (alice) the tokens claim.
struct suite_hub {
  temp_dir dir;
  auth::key_ptr key = auth::key::generate(auth::jwt_alg::ES256);
  std::unique_ptr<hub_process> hub;
  token_response alice;
  std::unique_ptr<token_world> world;
  std::unique_ptr<log_cursor> logs;
};

suite_hub* shared = nullptr;

int port() {
  return shared->hub->port();
}

// The world with the clock read now: a case's times are relative to the moment it is minted.
const token_world& world() {
  shared->world->now = now_ms() / 1000;
  return *shared->world;
}

// The corpus' forgeries and the ones only a hub with sessions can judge: a genuine signature
// over claims that do not match the store.
std::vector<hostile> forgeries() {
  std::vector<hostile> all;
  for (const auto& c : corpus::forged_tokens())
    all.push_back({c.name, c.token, refusal_for(c.expected)});
  const auto ours = [](const std::string& claims) {
    return [claims](const token_world& w) {
      std::string text = claims;
      for (const auto& [from, to] : {std::pair<std::string, std::string>{"$SID", w.sid},
                                     {"$TIMES", w.times()},
                                     {"$ISSAUD", w.iss_aud()}}) {
        for (std::size_t at; (at = text.find(from)) != std::string::npos;)
          text.replace(at, from.size(), to);
      }
      return corpus::sign(w.header(), text, w.hub.get());
    };
  };
  all.push_back({"our key, the live sid, another user",
                 ours(R"({$ISSAUD,"sub":"mallory","sid":"$SID",$TIMES})"),
                 {"token_invalid", "token_invalid"}});
  all.push_back({"our key, a sid the store never had",
                 ours(R"({$ISSAUD,"sub":"alice","sid":"no-such-session",$TIMES})"),
                 {"session_revoked", "revoked"}});
  all.push_back({"our key, no sid",
                 ours(R"({$ISSAUD,"sub":"alice",$TIMES})"),
                 {"token_invalid", "missing_claim"}});
  all.push_back({"our key, no sub",
                 ours(R"({$ISSAUD,"sid":"$SID",$TIMES})"),
                 {"token_invalid", "missing_claim"}});
  all.push_back({"our key, sid a number",
                 ours(R"({$ISSAUD,"sub":"alice","sid":7,$TIMES})"),
                 {"token_invalid", "missing_claim"}});
  return all;
}

std::optional<json> next_log(std::string_view msg) {
  return shared->logs->next(msg);
}

testing::AssertionResult logged(std::string_view msg, std::string_view field,
                                std::string_view value) {
  const auto line = next_log(msg);
  if (!line) return testing::AssertionFailure() << "no \"msg\":\"" << msg << "\" line";
  const auto got = json_string(*line, std::string(field).c_str());
  if (got != value)
    return testing::AssertionFailure()
           << "logged " << to_text(*line) << ", want " << field << " " << value;
  return testing::AssertionSuccess();
}

bool valid_utf8(std::string_view text) {
  rapidjson::Document doc;
  const std::string quoted = json_quote(text);
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(quoted.data(), quoted.size());
  return !doc.HasParseError();
}

// ---- HTTP --------------------------------------------------------------------------------

// How `token` travels in an Authorization header. CR and LF are HTTP's own framing, not part
// of any header value; whitespace around a field value is not part of it either (RFC 9110
// §5.5), nor is more than one space after "Bearer" (RFC 6750 §2.1: 1*SP).
enum class on_http { as_is, unsendable, stripped };

on_http http_form(const std::string& token) {
  if (token.find_first_of("\r\n") != std::string::npos) return on_http::unsendable;
  std::size_t b = 0, e = token.size();
  while (b < e && token[b] == ' ')
    ++b;
  while (e > b && (token[e - 1] == ' ' || token[e - 1] == '\t'))
    --e;
  return b == 0 && e == token.size() ? on_http::as_is : on_http::stripped;
}

bool has_control_bytes(const std::string& token) {
  for (const char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7F) return true;
  }
  return false;
}

// How many tokens met each kind of answer, printed by the tests that loop over the corpus.
struct tally {
  std::map<std::string, int> by_answer;
  void add(const std::string& answer) { ++by_answer[answer]; }
  void print(const char* door) const {
    std::string text;
    for (const auto& [answer, count] : by_answer)
      text += " " + answer + ": " + std::to_string(count);
    std::printf("%s:%s\n", door, text.c_str());
  }
};

// One token on both Bearer endpoints: the answer, and the log line that says why.
void expect_http_refusal(const std::string& name, const std::string& token, const refusal& want,
                         tally* counts = nullptr) {
  const on_http form = http_form(token);
  const auto count = [&](const char* answer) {
    if (counts) counts->add(answer);
  };
  if (form == on_http::unsendable) return count("not expressible in a header");
  for (const std::string path : {"/v1/validate", "/v1/extend"}) {
    const auto res =
        http_request(port(), path == "/v1/extend" ? "POST" : "GET", path, {bearer(token)});
    if (form == on_http::stripped) {
      // The whitespace is HTTP's, not the token's: what is left is the genuine token.
      EXPECT_EQ(res.status, 200) << name << " " << path << "\n" << res.describe();
      count("200 once HTTP's whitespace is stripped");
    } else if (has_control_bytes(token)) {
      // Not a header value at all: the request is refused before any handler sees it.
      EXPECT_TRUE(is_problem(res, 400, "invalid_request")) << name << " " << path;
      EXPECT_TRUE(logged("http_bad_request", "ip", "127.0.0.1")) << name << " " << path;
      count("400");
    } else if (token.size() + 512 > max_header) {
      EXPECT_TRUE(is_problem(res, 431, "headers_too_large")) << name << " " << path;
      EXPECT_TRUE(logged("http_bad_request", "ip", "127.0.0.1")) << name << " " << path;
      count("431");
    } else {
      EXPECT_TRUE(is_token_refusal(res, want.code)) << name << " " << path;
      const auto line = next_log("auth_failed");
      ASSERT_TRUE(line) << name << " " << path << ": no auth_failed line";
      // "Bearer" with nothing after it is no token at all, and logged as such.
      EXPECT_EQ(json_string(*line, "reason").value_or(""),
                token.empty() ? std::string("token_invalid") : want.reason)
          << name << " " << path;
      EXPECT_EQ(json_string(*line, "path").value_or(""), path) << name;
      count("401");
    }
  }
}

// ---- WebSocket ---------------------------------------------------------------------------

struct ws_result {
  bool ready = false;
  std::string error_code;  // of the error frame, if one came
  std::vector<std::string> events;
  int close = 0;  // the close frame's code; 0: none within the time; -1: dropped without one
};

ws_result read_until_close(raw_ws& ws, std::chrono::milliseconds timeout = 3s) {
  ws_result r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return r;
    const auto f = ws.next(left);
    if (!f) {
      if (ws.closed_by_hub(0ms)) r.close = -1;
      return r;
    }
    if (f->opcode == 0x8) {
      r.close = f->close_code();
      return r;
    }
    if (f->opcode != 0x1) continue;
    const json doc = parse_json(f->payload);
    const auto type = json_string(doc, "type").value_or("");
    if (type == "ready") r.ready = true;
    if (type == "error") r.error_code = json_string(doc, "code").value_or("");
    if (type == "event") r.events.push_back(json_string(doc, "event").value_or(""));
  }
}

// What a socket must see when `frame` carries a refused token: 1007 when the frame itself is
// not UTF-8 text, 1009 when it is over the frame limit, else the error frame and 4001.
void expect_ws_refusal(const std::string& name, raw_ws& ws, const std::string& frame,
                       const refusal& want, const char* frame_type, tally* counts = nullptr) {
  const auto count = [&](const char* answer) {
    if (counts) counts->add(answer);
  };
  ws.send_text(frame);
  const ws_result r = read_until_close(ws);
  EXPECT_FALSE(r.ready) << name;
  if (!valid_utf8(frame)) {
    EXPECT_EQ(r.close, 1007) << name;
    EXPECT_TRUE(logged("ws_protocol_error", "error", "text is not valid UTF-8")) << name;
    count("1007");
  } else if (frame.size() > ws_max_frame) {
    EXPECT_EQ(r.close, 1009) << name;
    EXPECT_TRUE(logged("ws_protocol_error", "error", "message too big")) << name;
    count("1009");
  } else {
    EXPECT_EQ(r.close, 4001) << name;
    EXPECT_EQ(r.error_code, want.code) << name;
    const auto line = next_log("ws_auth_failed");
    ASSERT_TRUE(line) << name << ": no ws_auth_failed line";
    EXPECT_EQ(json_string(*line, "reason").value_or(""), want.reason) << name;
    EXPECT_EQ(json_string(*line, "frame").value_or(""), frame_type) << name;
    count("4001");
  }
}

std::string auth_frame(const std::string& token) {
  return R"({"type":"auth","token":)" + json_quote(token) + "}";
}

std::string resume_frame(const std::string& token) {
  return R"({"type":"resume","token":)" + json_quote(token) + R"(,"version":0})";
}

std::string token_frame(const std::string& token) {
  return R"({"type":"token","token":)" + json_quote(token) + "}";
}

// A socket authenticated as alice with her genuine token.
std::unique_ptr<raw_ws> alice_socket() {
  auto ws = std::make_unique<raw_ws>(port(), std::string{},
                                     raw_ws::frame(0x81, auth_frame(shared->alice.access_token)));
  if (ws->status() != 101) throw std::runtime_error("upgrade refused: " + ws->head());
  for (int i = 0; i < 5; ++i) {
    const auto f = ws->next(3s);
    if (!f) break;
    if (f->opcode == 0x1 && json_string(parse_json(f->payload), "type") == "ready") return ws;
  }
  throw std::runtime_error("alice's socket got no ready");
}

class HostileTokens : public testing::Test {
 public:
  static void SetUpTestSuite() {
    shared = new suite_hub;
    const std::string pem = shared->dir.path() + "/signing.pem";
    {
      FILE* f = std::fopen(pem.c_str(), "w");
      const std::string text = shared->key->private_pem();
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    // Hundreds of sockets from one address in a few seconds: the connect limit is not under
    // test here. Debug level: a request refused before routing is logged at debug.
    shared->hub = std::make_unique<hub_process>(
        with_args({"--signing-key", pem, "--ws-connect-rate-limit", "0", "--clock-leeway-s",
                   std::to_string(leeway_s), "--log-level", "debug"}));
    shared->alice = create_session_ok(shared->hub->port(), "alice");
    shared->logs = std::make_unique<log_cursor>(*shared->hub);
    shared->world = std::make_unique<token_world>(shared->key);
    shared->world->sub = "alice";
    shared->world->sid = shared->alice.sid;
    shared->world->leeway = leeway_s;
    // A "just outside" or "just inside" case must stay so between minting and checking.
    shared->world->edge = 3;
  }
  static void TearDownTestSuite() {
    delete shared;
    shared = nullptr;
  }

 protected:
  void SetUp() override { shared->logs->skip_to_end(); }

  // After every test: the hub runs, answers, still honours alice's genuine token, and never
  // printed any of the tokens it was shown.
  void expect_healthy(const std::vector<std::string>& shown) {
    ASSERT_TRUE(shared->hub->running()) << shared->hub->output();
    EXPECT_EQ(http_request(port(), "GET", "/healthz").status, 200);
    EXPECT_EQ(validate(port(), shared->alice.access_token).status, 200);
    const std::string output = shared->hub->output();
    for (const auto& token : shown) {
      if (token.size() < 48) continue;
      const std::string tail = token.substr(token.size() - 32);
      EXPECT_EQ(output.find(tail), std::string::npos) << "a token in the log: " << token;
    }
  }

  // Every forgery in the first frame of a socket of its own (`frame`: auth or resume).
  void every_forgery_in_a_first_frame(std::string (*frame)(const std::string&),
                                      const char* frame_type) {
    std::vector<std::string> shown;
    tally counts;
    for (const auto& c : forgeries()) {
      const std::string token = c.token(world());
      raw_ws ws(port());
      ASSERT_EQ(ws.status(), 101) << ws.head();
      expect_ws_refusal(c.name, ws, frame(token), c.want, frame_type, &counts);
      shown.push_back(token);
    }
    counts.print((std::string(frame_type) + " frames").c_str());
    expect_healthy(shown);
  }
};

TEST_F(HostileTokens, ValidateAndExtendRefuseEveryForgery) {
  std::vector<std::string> shown;
  tally counts;
  for (const auto& c : forgeries()) {
    const std::string token = c.token(world());
    expect_http_refusal(c.name, token, c.want, &counts);
    shown.push_back(token);
  }
  counts.print("validate + extend");
  expect_healthy(shown);
}

TEST_F(HostileTokens, AuthFramesCloseEveryForgery4001) {
  every_forgery_in_a_first_frame(auth_frame, "auth");
}

TEST_F(HostileTokens, ResumeFramesCloseEveryForgery4001) {
  every_forgery_in_a_first_frame(resume_frame, "resume");
}

TEST_F(HostileTokens, TokenFramesOnAnAuthenticatedSocketCloseEveryForgery4001) {
  std::vector<std::string> shown;
  tally counts;
  for (const auto& c : forgeries()) {
    const std::string token = c.token(world());
    const auto ws = alice_socket();
    expect_ws_refusal(c.name, *ws, token_frame(token), c.want, "token", &counts);
    shown.push_back(token);
  }
  counts.print("token frames");
  expect_healthy(shown);
}

TEST_F(HostileTokens, EdgesThatAreFinePassEverywhere) {
  const auto alice_tab = alice_socket();
  for (const auto& c : corpus::accepted_tokens()) {
    const std::string token = c.token(world());
    const auto v = validate(port(), token);
    EXPECT_EQ(v.status, 200) << c.name << "\n" << v.describe();
    EXPECT_EQ(json_string(v.json_body(), "sid"), shared->alice.sid) << c.name;
    EXPECT_EQ(extend(port(), token).status, 200) << c.name;
    for (const auto& frame : {auth_frame(token), resume_frame(token)}) {
      raw_ws ws(port());
      ws.send_text(frame);
      const auto f = ws.next(3s);
      ASSERT_TRUE(f) << c.name << " " << frame.substr(0, 20);
      EXPECT_EQ(json_string(parse_json(f->payload), "type"), "ready") << c.name << f->payload;
    }
    alice_tab->send_text(token_frame(token));
  }
  // A refused token frame would close alice's tab within this time; an accepted one says
  // nothing.
  const ws_result r = read_until_close(*alice_tab, 1s);
  EXPECT_EQ(r.close, 0) << "alice's tab was closed: " << r.error_code;
  EXPECT_EQ(r.error_code, "");
  expect_healthy({});
}

TEST_F(HostileTokens, ARevokedSessionsGenuineTokenIsRefusedAsRevoked) {
  const auto mallory = create_session_ok(port(), "mallory");
  ASSERT_EQ(delete_session(port(), mallory.sid).status, 204);
  const std::string token = mallory.access_token;
  const refusal revoked{"session_revoked", "revoked"};
  shared->logs->skip_to_end();
  expect_http_refusal("revoked", token, revoked);
  {
    raw_ws ws(port());
    expect_ws_refusal("revoked, auth", ws, auth_frame(token), revoked, "auth");
  }
  {
    const auto ws = alice_socket();
    expect_ws_refusal("revoked, token frame", *ws, token_frame(token), revoked, "token");
  }
  {
    // PROTOCOL §3: a resume learns the final state, the logout it missed, then 4010.
    raw_ws ws(port());
    ws.send_text(resume_frame(token));
    const ws_result r = read_until_close(ws);
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.events, std::vector<std::string>{"logout"});
    EXPECT_EQ(r.close, 4010);
    EXPECT_TRUE(logged("ws_auth_failed", "reason", "revoked"));
  }
  expect_healthy({token});
}

TEST_F(HostileTokens, AnotherHubsGenuineTokenIsRefused) {
  hub_process other;  // its own directory, so its own generated key
  const auto stranger = create_session_ok(other.port(), "alice");
  const refusal unknown{"token_invalid", "unknown_kid"};
  expect_http_refusal("another hub's token", stranger.access_token, unknown);
  raw_ws ws(port());
  expect_ws_refusal("another hub's token", ws, auth_frame(stranger.access_token), unknown, "auth");
  expect_healthy({stranger.access_token});
}

}  // namespace
}  // namespace shub::itest
