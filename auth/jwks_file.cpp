// jwks_file: a JWKS file re-read when it changes (see jwks_file.hpp).
#include "jwks_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace shub::auth {

namespace {

constexpr std::uint64_t max_file_bytes = 1 << 20;  // a JWKS is a few KiB

}  // namespace

jwks_file::jwks_file(std::string path, std::chrono::milliseconds check_every, std::string& skipped)
    : path_(std::move(path)), check_every_(check_every) {
  std::string error;
  if (!stat_file(seen_)) {
    throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
  }
  keys_ = load(error, skipped);
  if (!keys_) throw std::runtime_error(path_ + ": " + error);
  next_check_ = std::chrono::steady_clock::now() + check_every_;
}

bool jwks_file::stat_file(signature& out) const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return false;
  out.inode = static_cast<std::uint64_t>(st.st_ino);
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return true;
}

std::shared_ptr<const key_set> jwks_file::load(std::string& error, std::string& skipped) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    error = std::string("cannot open: ") + std::strerror(errno);
    return nullptr;
  }
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_file_bytes) {
      error = "larger than 1 MiB";
      return nullptr;
    }
  }
  if (in.bad()) {
    error = "read error";
    return nullptr;
  }
  auto set = std::make_shared<key_set>(key_set::from_jwks(text, skipped));
  if (set->empty()) {
    error = skipped.empty() ? "no keys" : "no usable key: " + skipped;
    skipped.clear();
    return nullptr;
  }
  return set;
}

std::shared_ptr<const key_set> jwks_file::current() {
  std::lock_guard lock(mutex_);
  return keys_;
}

std::shared_ptr<const key_set> jwks_file::keys(std::chrono::steady_clock::time_point now,
                                               change& what) {
  std::lock_guard lock(mutex_);
  if (now < next_check_) return keys_;
  next_check_ = now + check_every_;
  signature now_seen;
  if (!stat_file(now_seen)) {
    const signature gone{};
    if (!(seen_failed_ && seen_ == gone)) {
      what.what = change::kind::failed;
      what.detail = std::string("cannot read the file: ") + std::strerror(errno);
    }
    seen_ = gone;
    seen_failed_ = true;
    return keys_;
  }
  if (now_seen == seen_ && !seen_failed_) return keys_;
  std::string error, skipped;
  auto loaded = load(error, skipped);
  if (loaded) {
    keys_ = std::move(loaded);
    what.what = change::kind::loaded;
    what.keys = keys_->keys().size();
    what.detail = std::move(skipped);
    seen_failed_ = false;
  } else {
    // A file refused once is read again on each check (it may have been caught half
    // written), but reported again only when it changes.
    if (!(seen_failed_ && now_seen == seen_)) {
      what.what = change::kind::failed;
      what.detail = std::move(error);
    }
    seen_failed_ = true;
  }
  seen_ = now_seen;
  return keys_;
}

}  // namespace shub::auth
