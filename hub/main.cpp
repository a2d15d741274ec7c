// sessionhub: the binary. `sessionhub [options]` runs the hub (see --help);
// `sessionhub hash-password` reads a password on standard input and prints the users-file
// hash for it; `sessionhub generate-key [ES256|EdDSA|RS256]` prints a new private signing key
// (PEM) for --signing-key, the one key every replica of a cluster shares;
// `sessionhub generate-cluster-key` prints a CURVE secret for --cluster-curve-secret-file.
#include <cstring>
#include <iostream>
#include <string>

#include "auth/keys.hpp"
#include "auth/password.hpp"
#include "hub/cluster_bridge.hpp"
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

int generate_key_command(int argc, char** argv) {
  const std::string name = argc >= 3 ? argv[2] : "ES256";
  const auto alg = shub::auth::alg_from_name(name);
  if (argc > 3 || !alg || *alg == shub::auth::jwt_alg::HS256) {
    std::cerr << "usage: sessionhub generate-key [ES256|EdDSA|RS256]\n";
    return 2;
  }
  std::cout << shub::auth::key::generate(*alg)->private_pem();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "hash-password") == 0) return hash_password_command();
  if (argc >= 2 && std::strcmp(argv[1], "generate-key") == 0)
    return generate_key_command(argc, argv);
  if (argc == 2 && std::strcmp(argv[1], "generate-cluster-key") == 0) {
    std::cout << shub::cluster_bridge::generate_secret() << "\n";
    return 0;
  }
  int exit_code = 0;
  const auto cfg = shub::parse_config(argc, argv, exit_code);
  if (!cfg) return exit_code;
  return shub::run_server(*cfg);
}
