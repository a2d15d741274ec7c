// clock: the one source of "now" for everything in auth/.
// Expiry, rotation grace and idle timeouts all read time through this interface so that
// tests can drive them with a fake clock instead of sleeping.
#pragma once

#include <atomic>
#include <cstdint>

namespace shub::auth {

class clock {
 public:
  virtual ~clock() = default;
  // Unix epoch milliseconds.
  [[nodiscard]] virtual std::int64_t now_ms() const = 0;
  [[nodiscard]] std::int64_t now_s() const { return now_ms() / 1000; }
};

class system_clock final : public clock {
 public:
  [[nodiscard]] std::int64_t now_ms() const override;
};

// A clock that moves only when told to; safe to read from several threads.
class fake_clock final : public clock {
 public:
  explicit fake_clock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  [[nodiscard]] std::int64_t now_ms() const override { return now_.load(); }
  void set_ms(std::int64_t ms) { now_.store(ms); }
  void advance_ms(std::int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace shub::auth
