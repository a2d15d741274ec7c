// fuzz_ws_frame_parser: ws::frame_parser (hub/ws_wire.hpp) fed what a client sends after
// the upgrade, with the hub's --ws-max-frame-bytes. The same bytes are parsed twice: as one
// read, and as many small reads (sizes from a fixed cycle), as the socket may deliver
// them. Both must yield the same messages, pings, pongs, close and violation; a text
// message handed out is valid UTF-8; a close code handed out is one a peer may send; and
// the parser never holds more than one message's worth between reads.
// Like ws_connection, the sink stops at a close: the rest of the input is not parsed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "hub/config.hpp"
#include "hub/ws_wire.hpp"

namespace {

using namespace shub;

const std::uint64_t max_message = static_cast<std::uint64_t>(config{}.ws_max_frame_bytes);

class recorder final : public ws::frame_sink {
 public:
  std::vector<std::string> events;

  bool on_message(ws::opcode op, std::string_view payload) override {
    FUZZ_CHECK(payload.size() <= max_message);
    if (op == ws::opcode::text) FUZZ_CHECK(ws::valid_utf8(payload));
    FUZZ_CHECK(op == ws::opcode::text || op == ws::opcode::binary);
    events.push_back((op == ws::opcode::text ? "text:" : "binary:") + std::string(payload));
    return true;
  }
  bool on_ping(std::string_view payload) override {
    FUZZ_CHECK(payload.size() <= 125);
    events.push_back("ping:" + std::string(payload));
    return true;
  }
  bool on_pong(std::string_view payload) override {
    FUZZ_CHECK(payload.size() <= 125);
    events.push_back("pong:" + std::string(payload));
    return true;
  }
  bool on_close(std::uint16_t code, std::string_view reason) override {
    FUZZ_CHECK(code == ws::code::no_status ? reason.empty() : ws::valid_close_code(code));
    FUZZ_CHECK(ws::valid_utf8(reason));
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
    return false;
  }
};

// Parses `input` in reads of the given sizes (cycled; empty: one read of everything).
std::vector<std::string> parse(std::string_view input, const std::vector<std::size_t>& reads) {
  std::string bytes(input);  // the parser unmasks in place
  ws::frame_parser parser(max_message);
  recorder sink;
  std::size_t at = 0;
  for (std::size_t i = 0; at < bytes.size(); ++i) {
    const std::size_t n =
        reads.empty() ? bytes.size() : std::min(reads[i % reads.size()], bytes.size() - at);
    const std::size_t events_before = sink.events.size();
    const auto v = parser.feed(bytes.data() + at, n, sink);
    at += n;
    if (v) {
      FUZZ_CHECK(v->code != 0 && !v->reason.empty());
      sink.events.push_back("violation:" + std::to_string(v->code) + ":" + std::string(v->reason));
      break;
    }
    if (sink.events.size() > events_before && sink.events.back().starts_with("close:")) break;
    FUZZ_CHECK(parser.buffered() <= max_message + 125);
  }
  return sink.events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto whole = parse(input, {});
  const auto pieces = parse(input, {1, 2, 7, 3, 64, 5, 13, 1, 200});
  FUZZ_CHECK(whole == pieces);
  return 0;
}
