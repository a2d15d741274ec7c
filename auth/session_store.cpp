// session_store: names of the store outcomes, for logs and stats. The interface itself is
// in session_store.hpp; the backends beside it (sqlite_store, ...).
#include "session_store.hpp"

namespace shub::auth {

std::string_view to_string(store_status s) {
  switch (s) {
    case store_status::ok:
      return "ok";
    case store_status::not_found:
      return "not_found";
    case store_status::conflict:
      return "conflict";
    case store_status::unavailable:
      return "unavailable";
  }
  return "unknown";
}

store_result<refresh_lookup> session_store::find_refresh_and_session(std::string_view hash,
                                                                     std::string_view) {
  auto rec = find_refresh(hash);
  if (!rec.ok()) return {rec.status, {}};
  auto s = get(rec.value.sid);
  if (!s.ok()) return {s.status, {}};
  return {store_status::ok, {std::move(rec.value), std::move(s.value)}};
}

}  // namespace shub::auth
