// signing_keys: loading, generating and persisting the hub's signing keys.
#include "signing_keys.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "auth/redis_store.hpp"
#include "log.hpp"

namespace shub {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

auth::key_ptr load_pem(const std::string& path) {
  std::string error;
  auto k = auth::key::from_private_pem(read_file(path), error);
  if (!k) throw std::runtime_error(path + ": " + error);
  return k;
}

// Publishes a new private key at `path` unless one is already there; false when another
// process (a replica starting beside this one on the same directory) got there first.
// Written to a temporary file of this process and hard-linked into place: a crash leaves no
// key or the whole key, never half of one, and two writers never mix their bytes.
bool create_private(const std::string& path, const std::string& pem) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    ::chmod(tmp.c_str(), 0600);
    out << pem;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  throw std::runtime_error("cannot create " + path + ": " + std::strerror(err));
}

}  // namespace

std::string generated_key_path(const std::string& store_spec) {
  constexpr std::string_view prefix = "sqlite:";
  if (store_spec.rfind(prefix, 0) != 0) return {};
  const std::string db = store_spec.substr(prefix.size());
  if (db == ":memory:" || db.empty()) return {};
  const auto dir = std::filesystem::path(db).parent_path();
  return (dir.empty() ? std::filesystem::path("signing-key.pem") : dir / "signing-key.pem")
      .string();
}

auth::key_set load_signing_keys(const config& cfg) {
  auth::key_set keys;
  if (!cfg.hs256_secret_file.empty()) {
    std::string error;
    std::string secret = read_file(cfg.hs256_secret_file);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
      secret.pop_back();
    auto k = auth::key::from_hmac_secret(secret, error);
    if (!k) throw std::runtime_error(cfg.hs256_secret_file + ": " + error);
    keys.add(std::move(k));
  } else if (!cfg.signing_key.empty()) {
    keys.add(load_pem(cfg.signing_key));
  } else {
    const auto alg = auth::alg_from_name(cfg.signing_alg);
    if (!alg || *alg == auth::jwt_alg::HS256) {
      throw std::runtime_error("--signing-alg must be ES256, EdDSA or RS256");
    }
    if (auth::redis_options::is_url(cfg.store)) {
      // Every replica on a shared store must sign with the same key, which no replica can
      // generate for the others.
      throw std::runtime_error(
          "--store redis:// needs --signing-key: replicas sharing a store share one key "
          "(make one with `sessionhub generate-key > signing-key.pem`)");
    }
    const std::string path = generated_key_path(cfg.store);
    if (path.empty()) {
      keys.add(auth::key::generate(*alg));
      log::warn("signing_key_ephemeral")
          .str("detail", "no --signing-key and no store directory: tokens die with the process")
          .emit();
    } else if (std::filesystem::exists(path)) {
      keys.add(load_pem(path));
    } else if (auto k = auth::key::generate(*alg); create_private(path, k->private_pem())) {
      log::info("signing_key_generated").str("path", path).str("kid", k->kid()).emit();
      keys.add(std::move(k));
    } else {
      keys.add(load_pem(path));  // made by another process meanwhile
    }
  }
  if (!cfg.previous_signing_key.empty()) keys.add(load_pem(cfg.previous_signing_key));
  return keys;
}

}  // namespace shub
