// sessionhub: the binary. `sessionhub [options]` runs the hub (see --help);
// `sessionhub hash-password` reads a password on standard input and prints the users-file
// hash for it.
#include <cstring>
#include <iostream>
#include <string>

#include "auth/password.hpp"
#include "hub/config.hpp"
#include "hub/server.hpp"

namespace {

int hash_password_command() {
  std::string password;
  if (!std::getline(std::cin, password)) {
    std::cerr << "sessionhub hash-password: no password on standard input\n";
    return 2;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    std::cerr << "sessionhub hash-password: the password is empty\n";
    return 2;
  }
  std::cout << shub::auth::hash_password(password) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "hash-password") == 0) return hash_password_command();
  int exit_code = 0;
  const auto cfg = shub::parse_config(argc, argv, exit_code);
  if (!cfg) return exit_code;
  return shub::run_server(*cfg);
}
