// jwks_file: the keys of a JWKS file that an operator may replace while the hub runs (an
// identity provider rotating its signing keys). The file is read at start-up and looked at
// again on use, at most once per `check_every`: when its inode, size or modification time
// changed it is read again. A new file that cannot be read, does not parse or holds no
// usable key leaves the previous keys in place, and the caller hears about it once per
// version of the file (so that it can log it), not once per use.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "keys.hpp"

namespace shub::auth {

class jwks_file {
 public:
  // What a call to keys() found, for the caller's log.
  struct change {
    enum class kind { none, loaded, failed } what = kind::none;
    std::size_t keys = 0;  // loaded: how many keys the file gave
    std::string detail;    // loaded: keys skipped and why; failed: the reason
  };

  // Reads the file. Throws std::runtime_error with the reason when it cannot be read, is
  // not a JWKS, or holds no usable key (start-up only). `skipped` gets the keys left out.
  jwks_file(std::string path, std::chrono::milliseconds check_every, std::string& skipped);

  // The current keys, reloading first when the check is due and the file changed.
  // Thread-safe; the key_set returned stays valid for as long as the caller holds it.
  [[nodiscard]] std::shared_ptr<const key_set> keys(std::chrono::steady_clock::time_point now,
                                                    change& what);
  // The current keys without looking at the file.
  [[nodiscard]] std::shared_ptr<const key_set> current();
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  struct signature {
    std::uint64_t inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const signature&) const = default;
  };
  // Reads and parses the file; nullptr with `error` set when it gives no key.
  [[nodiscard]] std::shared_ptr<const key_set> load(std::string& error, std::string& skipped) const;
  [[nodiscard]] bool stat_file(signature& out) const;

  const std::string path_;
  const std::chrono::milliseconds check_every_;
  std::mutex mutex_;
  std::shared_ptr<const key_set> keys_;
  signature seen_;            // of the file the current keys came from, or last refused
  bool seen_failed_ = false;  // the file at seen_ was refused: read it again on each check
  std::chrono::steady_clock::time_point next_check_;
};

}  // namespace shub::auth
