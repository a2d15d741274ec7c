// session_service: the session rules of PROTOCOL §2 over a session_store.
// Every write is a compare-and-set on the session's version; on conflict the operation
// re-reads and decides again, so a racing tab that lost a rotation lands in rule 2 (the
// same successor pair) instead of rule 3 (reuse). Here: creation, rotation and tokens;
// session_lifecycle.cpp: extending, ending and listing.
#include "session_service.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base64url.hpp"
#include "crypto.hpp"
#include "session_rules.hpp"

namespace shub::auth {

namespace {

// A refresh token is the sid's 16 bytes and 32 random ones, base64url: 64 characters. One
// of 43 (the 32 random bytes alone) is from before the sid rode along, and still accepted.
constexpr std::size_t sid_bytes = 16;
constexpr std::size_t refresh_token_chars = 64;
constexpr std::size_t sidless_refresh_token_chars = 43;

constexpr std::array registered_claims = {"iss", "sub", "aud", "exp",      "iat",
                                          "nbf", "jti", "sid", "auth_time"};

// A token we could have issued (anything else is not looked up), and the session it says it
// belongs to ("" when it does not say): a guess that lets the store read the token's record
// and its session at once. The record, found by the hash of the whole token, decides.
std::optional<std::string> parse_refresh_token(std::string_view token) {
  if (token.size() != refresh_token_chars && token.size() != sidless_refresh_token_chars) {
    return std::nullopt;
  }
  const auto raw = base64url_decode(token);
  if (!raw) return std::nullopt;
  if (token.size() == sidless_refresh_token_chars) return std::string();
  return base64url_encode(std::string_view(*raw).substr(0, sid_bytes));
}

// The successor pair sealed under the previous refresh token: "refresh\naccess\nexp_s".
std::string pack_successor(const token_pair& t, std::int64_t exp_s) {
  return t.refresh_token + "\n" + t.access_token + "\n" + std::to_string(exp_s);
}

bool unpack_successor(std::string_view packed, token_pair& t, std::int64_t& exp_s) {
  const auto a = packed.find('\n');
  if (a == std::string_view::npos) return false;
  const auto b = packed.find('\n', a + 1);
  if (b == std::string_view::npos) return false;
  t.refresh_token = std::string(packed.substr(0, a));
  t.access_token = std::string(packed.substr(a + 1, b - a - 1));
  try {
    exp_s = std::stoll(std::string(packed.substr(b + 1)));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

bool is_registered_claim(std::string_view name) {
  return std::find(registered_claims.begin(), registered_claims.end(), name) !=
         registered_claims.end();
}

std::string_view to_string(denial d) {
  switch (d) {
    case denial::none:
      return "none";
    case denial::unavailable:
      return "unavailable";
    case denial::unknown:
      return "unknown";
    case denial::revoked:
      return "revoked";
    case denial::reused:
      return "reused";
    case denial::idle_expired:
      return "idle_expired";
    case denial::absolute_expired:
      return "absolute_expired";
    case denial::token_expired:
      return "token_expired";
    case denial::token_invalid:
      return "token_invalid";
  }
  return "unknown";
}

session_service::session_service(session_store& store, const key_set& keys, const clock& clock,
                                 session_policy policy)
    : store_(store), keys_(keys), clock_(clock), policy_(std::move(policy)) {}

std::string session_service::new_id() {
  return base64url_encode(random_bytes(16));
}

std::string session_service::new_refresh_token(std::string_view sid) {
  auto raw = base64url_decode(sid);
  if (!raw || raw->size() != sid_bytes || base64url_encode(*raw) != sid) {
    return base64url_encode(random_bytes(32));  // not one of our ids: the token cannot carry it
  }
  return base64url_encode(*raw + random_bytes(32));
}

std::string_view session_service::expiry_reason(const session& s, std::int64_t now_ms) const {
  if (now_ms >= s.expires_at) return "absolute_timeout";
  if (now_ms >= s.idle_expires_at) return "idle_timeout";
  return {};
}

std::string session_service::mint_access_token(const session& s, std::int64_t now_ms,
                                               std::int64_t& exp) const {
  const std::int64_t now_s = now_ms / 1000;
  // An access token never outlives its session's absolute expiry.
  exp = std::min(now_s + policy_.access_ttl_s, s.expires_at / 1000);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("iss");
  w.String(policy_.issuer);
  w.Key("sub");
  w.String(s.sub);
  w.Key("aud");
  w.String(policy_.audience);
  w.Key("exp");
  w.Int64(exp);
  w.Key("iat");
  w.Int64(now_s);
  w.Key("nbf");
  w.Int64(now_s);
  w.Key("jti");
  w.String(new_id());
  w.Key("sid");
  w.String(s.sid);
  w.Key("auth_time");
  w.Int64(s.auth_time / 1000);
  rapidjson::Document amr;
  const bool has_amr = !s.amr_json.empty() && !amr.Parse(s.amr_json).HasParseError();
  if (has_amr) {
    w.Key("amr");
    amr.Accept(w);
  }
  rapidjson::Document custom;
  if (!custom.Parse(s.claims_json).HasParseError() && custom.IsObject()) {
    for (const auto& m : custom.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (is_registered_claim(name) || (has_amr && name == "amr")) continue;
      w.Key(m.name.GetString(), m.name.GetStringLength());
      m.value.Accept(w);
    }
  }
  w.EndObject();
  return jwt_sign(*keys_.signer(), "at+jwt", std::string_view(buf.GetString(), buf.GetSize()));
}

session_outcome session_service::create(const create_request& req) {
  session_outcome out;
  const std::int64_t now = clock_.now_ms();
  session s;
  s.sub = req.sub;
  s.device_id = req.device_id;
  s.idp_sid = req.idp_sid;
  s.claims_json = req.claims_json.empty() ? "{}" : req.claims_json;
  s.amr_json = req.amr_json;
  s.created_at = now;
  s.auth_time = now;
  const std::int64_t idle_s = req.idle_timeout_s > 0 ? req.idle_timeout_s : policy_.idle_timeout_s;
  const std::int64_t max_s = req.max_age_s > 0 ? req.max_age_s : policy_.max_age_s;
  s.idle_timeout_ms = idle_s * 1000;
  s.expires_at = now + max_s * 1000;
  slide_idle(s, now);
  s.version = 1;
  s.rt_generation = 1;
  s.rt_rotated_at = now;

  // A sid collision is a 2^-64 event; one retry with a fresh id covers it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    s.sid = new_id();
    const std::string refresh_token = new_refresh_token(s.sid);
    const refresh_record rec{sha256(refresh_token), s.sid, s.rt_generation};
    const store_status st = store_.create(s, rec);
    if (st == store_status::conflict) continue;
    if (st != store_status::ok) {
      out.why = denial::unavailable;
      return out;
    }
    std::int64_t exp_s = 0;
    out.tokens.access_token = mint_access_token(s, now, exp_s);
    out.tokens.refresh_token = refresh_token;
    out.tokens.expires_in = exp_s - now / 1000;
    remember_minted(s, out.tokens.access_token, exp_s, now);
    out.s = std::move(s);
    return out;
  }
  out.why = denial::unavailable;
  return out;
}

session_outcome session_service::refresh(std::string_view refresh_token) {
  session_outcome out;
  const auto sid_hint = parse_refresh_token(refresh_token);
  if (!sid_hint) {
    out.why = denial::unknown;
    return out;
  }
  const std::string hash = sha256(refresh_token);
  for (int attempt = 0; attempt < max_cas_attempts; ++attempt) {
    out = session_outcome{};
    auto got = store_.find_refresh_and_session(hash, *sid_hint);
    if (got.status == store_status::not_found) {
      out.why = denial::unknown;
      return out;
    }
    if (!got.ok()) break;
    const refresh_record& rec = got.value.rec;
    session s = std::move(got.value.s);
    const std::uint64_t read_version = s.version;
    const std::int64_t now = clock_.now_ms();
    out.s = s;
    if (!s.active()) {
      out.why = denial::revoked;
      return out;
    }

    const refresh_record* new_rec = nullptr;
    refresh_record successor_rec;
    if (const auto reason = expiry_reason(s, now); !reason.empty()) {
      // Rule 4: past an expiry; this call ends the session if nobody has yet.
      end_session(s, reason, now);
      out.why = denial_for_expiry(reason);
      out.ended_now = true;
    } else if (rec.generation == s.rt_generation) {
      // Rule 1 (+ rule 5): the current token; mint the successor pair.
      token_pair next;
      next.refresh_token = new_refresh_token(s.sid);
      ++s.rt_generation;
      s.rt_rotated_at = now;
      slide_idle(s, now);
      ++s.version;
      std::int64_t exp_s = 0;
      next.access_token = mint_access_token(s, now, exp_s);
      next.expires_in = exp_s - now / 1000;
      s.rt_successor = seal(refresh_token, pack_successor(next, exp_s));
      successor_rec = refresh_record{sha256(next.refresh_token), s.sid, s.rt_generation};
      new_rec = &successor_rec;
      out.tokens = std::move(next);
      out.rotated = true;
    } else if (rec.generation + 1 == s.rt_generation &&
               now - s.rt_rotated_at <= policy_.reuse_interval_s * 1000) {
      // Rule 2: the previous token within the grace gets the same successor pair.
      const auto packed = open(refresh_token, s.rt_successor);
      std::int64_t exp_s = 0;
      if (!packed || !unpack_successor(*packed, out.tokens, exp_s)) {
        out.why = denial::unknown;
        return out;
      }
      out.tokens.expires_in = std::max<std::int64_t>(0, exp_s - now / 1000);
      return out;
    } else {
      // Rule 3: an older token, or the previous one after the grace: reuse.
      end_session(s, "refresh_token_reuse", now);
      out.why = denial::reused;
      out.ended_now = true;
    }

    const store_status st = store_.update(s, read_version, new_rec);
    if (st == store_status::conflict) continue;
    if (st != store_status::ok) break;
    if (out.rotated) {
      remember_minted(s, out.tokens.access_token, now / 1000 + out.tokens.expires_in, now);
    }
    out.s = std::move(s);
    return out;
  }
  out = session_outcome{};
  out.why = denial::unavailable;
  return out;
}

void session_service::remember_minted(const session& s, std::string_view access_token,
                                      std::int64_t exp_s, std::int64_t now_ms) {
  verified_.insert(access_token, verified_token{s.sid, s.sub, exp_s}, now_ms / 1000);
}

std::optional<verified_token> session_service::recall(std::string_view access_token) {
  return verified_.find(access_token, clock_.now_s(), policy_.leeway_s);
}

session_outcome session_service::validate(std::string_view access_token) {
  session_outcome out;
  const std::int64_t now_s = clock_.now_s();
  // A token verified before (another tab of the session, a resource server asking again)
  // skips the signature check; its expiry is still checked, its session still read.
  std::optional<verified_token> known = recall(access_token);
  if (!known) {
    jwt_expectations expect;
    expect.typ = "at+jwt";
    expect.issuer = policy_.issuer;
    expect.audience = policy_.audience;
    expect.now_s = now_s;
    expect.leeway_s = policy_.leeway_s;
    const jwt_result r = jwt_verify(access_token, keys_, expect);
    if (!r.ok()) {
      out.token_error = r.error;
      out.why = r.error == jwt_error::expired ? denial::token_expired : denial::token_invalid;
      return out;
    }
    const auto& claims = r.jwt->claims;
    const auto sid = claims.FindMember("sid");
    const auto sub = claims.FindMember("sub");
    if (sid == claims.MemberEnd() || !sid->value.IsString() || sub == claims.MemberEnd() ||
        !sub->value.IsString()) {
      out.token_error = jwt_error::missing_claim;
      out.why = denial::token_invalid;
      return out;
    }
    const auto exp = claims.FindMember("exp");
    known =
        verified_token{std::string(sid->value.GetString(), sid->value.GetStringLength()),
                       std::string(sub->value.GetString(), sub->value.GetStringLength()),
                       exp == claims.MemberEnd() ? 0
                       : exp->value.IsInt64()    ? exp->value.GetInt64()
                       : exp->value.IsNumber()   ? static_cast<std::int64_t>(exp->value.GetDouble())
                                                 : 0};
    verified_.insert(access_token, *known, now_s);
  }
  const std::string_view sid_v = known->sid;
  const std::string_view sub_v = known->sub;
  const std::int64_t token_exp = known->exp;
  out = expire_if_due(sid_v);
  out.token_exp = token_exp;
  if (out.why == denial::unavailable) return out;
  if (out.why == denial::unknown) {  // purged from the store: long over
    out.why = denial::revoked;
    return out;
  }
  if (out.s.sub != sub_v) {
    out = session_outcome{};
    out.why = denial::token_invalid;
    return out;
  }
  if (out.ended_now) {
    out.why = denial_for_expiry(out.s.end_reason);
  } else if (!out.s.active()) {
    out.why = denial::revoked;
  }
  return out;
}

session_outcome session_service::identify_refresh(std::string_view refresh_token) {
  session_outcome out;
  if (!parse_refresh_token(refresh_token)) {
    out.why = denial::unknown;
    return out;
  }
  const auto rec = store_.find_refresh(sha256(refresh_token));
  if (!rec.ok()) {
    out.why = rec.status == store_status::not_found ? denial::unknown : denial::unavailable;
    return out;
  }
  out = expire_if_due(rec.value.sid);
  if (!out.ok()) return out;
  const std::int64_t now = clock_.now_ms();
  const bool current = rec.value.generation == out.s.rt_generation;
  const bool previous_in_grace = rec.value.generation + 1 == out.s.rt_generation &&
                                 now - out.s.rt_rotated_at <= policy_.reuse_interval_s * 1000;
  if (!out.s.active() || out.ended_now) {
    out.why = denial::revoked;
  } else if (!current && !previous_in_grace) {
    out.why = denial::unknown;  // a stale token proves nothing; refresh would call it reuse
  }
  return out;
}

}  // namespace shub::auth
