// users: loading the users file and checking passwords against it.
#include "users.hpp"

#include <fstream>
#include <stdexcept>

#include "auth/password.hpp"

namespace shub {

user_directory user_directory::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read users file " + path);
  user_directory dir;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string::npos || line.compare(colon + 1, 8, "$scrypt$") != 0) {
      throw std::runtime_error(path + ":" + std::to_string(number) +
                               ": expected username:$scrypt$... (see sessionhub hash-password)");
    }
    dir.users_[line.substr(0, colon)] = line.substr(colon + 1);
  }
  dir.dummy_hash_ = auth::hash_password("no user has this password");
  return dir;
}

bool user_directory::verify(std::string_view username, std::string_view password) const {
  const auto it = users_.find(std::string(username));
  if (it == users_.end()) {
    (void)auth::verify_password(password, dummy_hash_);  // same cost as a real check
    return false;
  }
  return auth::verify_password(password, it->second);
}

}  // namespace shub
