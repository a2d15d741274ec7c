// users: the development identity provider behind POST /v1/login.
// A users file holds `username:scrypt-hash` lines (blank lines and # comments ignored);
// `sessionhub hash-password` makes the hashes. Unknown users cost as much as known ones,
// so response time does not tell which usernames exist.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace shub {

class user_directory {
 public:
  // Throws std::runtime_error naming the file and line on an unreadable file or bad line.
  static user_directory load(const std::string& path);
  [[nodiscard]] bool verify(std::string_view username, std::string_view password) const;
  [[nodiscard]] std::size_t size() const { return users_.size(); }

 private:
  std::unordered_map<std::string, std::string> users_;
  std::string dummy_hash_;
};

}  // namespace shub
