// session_service, the rest of a session's life after its creation and rotations: extending
// it, ending it (one session, or all of a user's, a device's or an identity provider
// session's), its expiries, and listing. Every change is a compare-and-set through modify().
#include <utility>

#include "session_rules.hpp"
#include "session_service.hpp"

namespace shub::auth {

template <class Change>
session_outcome session_service::modify(std::string_view sid, Change change) {
  for (int attempt = 0; attempt < max_cas_attempts; ++attempt) {
    session_outcome out;
    auto got = store_.get(sid);
    if (got.status == store_status::not_found) {
      out.why = denial::unknown;
      return out;
    }
    if (!got.ok()) break;
    session s = std::move(got.value);
    const std::uint64_t read_version = s.version;
    out.s = s;
    if (!change(s, out, clock_.now_ms())) return out;
    const store_status st = store_.update(s, read_version, nullptr);
    if (st == store_status::conflict) continue;
    if (st != store_status::ok) break;
    out.s = std::move(s);
    return out;
  }
  session_outcome failed;
  failed.why = denial::unavailable;
  return failed;
}

session_outcome session_service::extend(std::string_view sid) {
  return modify(sid, [this](session& s, session_outcome& out, std::int64_t now) {
    if (!s.active()) {
      out.why = denial::revoked;
      return false;
    }
    if (const auto reason = expiry_reason(s, now); !reason.empty()) {
      end_session(s, reason, now);
      out.why = denial_for_expiry(reason);
      out.ended_now = true;
      return true;
    }
    slide_idle(s, now);
    ++s.version;
    return true;
  });
}

session_outcome session_service::revoke(std::string_view sid, std::string_view reason) {
  return modify(sid, [reason](session& s, session_outcome& out, std::int64_t now) {
    if (!s.active()) return false;
    end_session(s, reason, now);
    out.ended_now = true;
    return true;
  });
}

session_outcome session_service::expire_if_due(std::string_view sid) {
  return modify(sid, [this](session& s, session_outcome& out, std::int64_t now) {
    if (!s.active()) return false;
    const auto reason = expiry_reason(s, now);
    if (reason.empty()) return false;
    end_session(s, reason, now);
    out.ended_now = true;
    return true;
  });
}

revocation_outcome session_service::revoke_all(store_result<std::vector<session>> listed,
                                               std::string_view reason) {
  revocation_outcome out;
  if (!listed.ok()) {
    out.why = denial::unavailable;
    return out;
  }
  for (const session& s : listed.value) {
    session_outcome one = revoke(s.sid, reason);
    if (one.why == denial::unavailable) out.why = denial::unavailable;
    if (one.ended_now) out.ended.push_back(std::move(one.s));
  }
  return out;
}

revocation_outcome session_service::revoke_user(std::string_view sub, std::string_view reason) {
  return revoke_all(store_.list_by_sub(sub), reason);
}

revocation_outcome session_service::revoke_device(std::string_view device_id,
                                                  std::string_view reason) {
  return revoke_all(store_.list_by_device(device_id), reason);
}

revocation_outcome session_service::revoke_idp_sid(std::string_view idp_sid,
                                                   std::string_view reason, std::string_view sub) {
  // Sessions created without one are stored with an empty idp_sid: never all of them.
  if (idp_sid.empty()) return {};
  auto listed = store_.list_by_idp_sid(idp_sid);
  if (!sub.empty() && listed.ok()) {
    std::erase_if(listed.value, [&](const session& s) { return s.sub != sub; });
  }
  return revoke_all(std::move(listed), reason);
}

revocation_outcome session_service::revoke_scope(const session& s, std::string_view scope,
                                                 std::string_view reason) {
  if (scope == "user") return revoke_user(s.sub, reason);
  if (scope == "device" && !s.device_id.empty()) return revoke_device(s.device_id, reason);
  revocation_outcome out;
  session_outcome one = revoke(s.sid, reason);
  if (one.why == denial::unavailable) out.why = denial::unavailable;
  if (one.ended_now) out.ended.push_back(std::move(one.s));
  return out;
}

store_result<std::vector<session>> session_service::list(std::string_view sub) {
  auto listed = store_.list_by_sub(sub);
  if (!listed.ok()) return listed;
  const std::int64_t now = clock_.now_ms();
  std::erase_if(listed.value, [&](const session& s) { return !expiry_reason(s, now).empty(); });
  return listed;
}

}  // namespace shub::auth
