// jwt_seeds: writes fuzz_jwt's seed corpus into a directory, one file per seed, named for
// what it shows. Tokens are signed with the fixed keys (jwt_keys.cpp) and issued at
// fixed_now_s, as the hub mints them (auth/session_service.cpp); the rest are the target's
// "header \n claims [\n signer]" inputs, whose odd headers and claims it signs itself.
//   jwt_seeds <dir>
// ES256 signatures are randomised, so a rerun changes those files' bytes, not their meaning.
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "auth/base64url.hpp"
#include "jwt_keys.hpp"

namespace {

using namespace shub;
using auth::base64url_encode;

std::string header(const auth::key& k, const std::string& alg = "", const std::string& extra = "") {
  return R"({"alg":")" + (alg.empty() ? std::string(auth::alg_name(k.alg())) : alg) +
         R"(","typ":"at+jwt","kid":")" + k.kid() + "\"" + extra + "}";
}

// The claims of a hub access token minted at fixed_now_s, members replaced by `extra` where
// the caller gives a whole object instead.
std::string claims(const std::string& whole = "") {
  if (!whole.empty()) return whole;
  return R"({"iss":"sessionhub","sub":"alice","aud":"sessionhub","exp":1700000900,)"
         R"("iat":1700000000,"nbf":1700000000,"jti":"3yq0vGk2bqv7cYk3o0N1Ww",)"
         R"("sid":"hU2b9sQkTn3Y0ZrZkXc1aQ","auth_time":1699999000,"amr":["pwd"]})";
}

std::string sign(const std::string& h, const std::string& c, const auth::key& k) {
  std::string t = base64url_encode(h) + "." + base64url_encode(c);
  return t + "." + base64url_encode(k.sign(t));
}

std::string with(const std::string& members) {
  return R"({"iss":"sessionhub","sub":"alice","aud":"sessionhub",)" + members + "}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: jwt_seeds <dir>\n";
    return 2;
  }
  const auto& k = fuzz::keys();
  const std::string now_claims = R"("iat":1700000000,"exp":1700000900)";
  std::vector<std::pair<std::string, std::string>> seeds = {
      // Genuine tokens of every algorithm.
      {"valid-es256", sign(header(*k.es256), claims(), *k.es256)},
      {"valid-eddsa", sign(header(*k.eddsa), claims(), *k.eddsa)},
      {"valid-rs256", sign(header(*k.rs256), claims(), *k.rs256)},
      {"valid-hs256", sign(header(*k.hs256), claims(), *k.hs256)},
      {"valid-typ-application",
       sign(R"({"alg":"EdDSA","typ":"application/AT+JWT","kid":")" + k.eddsa->kid() + "\"}",
            claims(), *k.eddsa)},
      {"valid-aud-array",
       sign(header(*k.eddsa),
            R"({"iss":"sessionhub","sub":"alice","aud":["other","sessionhub"],)" + now_claims + "}",
            *k.eddsa)},
      // Refused after a valid signature.
      {"expired", sign(header(*k.hs256), with(R"("iat":1699990000,"exp":1699990900)"), *k.hs256)},
      {"not-yet-valid",
       sign(header(*k.hs256), with(now_claims + R"(,"nbf":1700000600)"), *k.hs256)},
      {"issued-in-future",
       sign(header(*k.hs256), with(R"("iat":1700000600,"exp":1700000900)"), *k.hs256)},
      {"exp-fraction",
       sign(header(*k.hs256), with(R"("iat":1700000000,"exp":1700000004.999)"), *k.hs256)},
      {"exp-fraction-expired",
       sign(header(*k.hs256), with(R"("iat":1699990000,"exp":1699999995.9)"), *k.hs256)},
      {"exp-string",
       sign(header(*k.hs256), with(R"("iat":1700000000,"exp":"1700000900")"), *k.hs256)},
      {"wrong-issuer",
       sign(header(*k.hs256),
            R"({"iss":"evil","sub":"alice","aud":"sessionhub",)" + now_claims + "}", *k.hs256)},
      {"claims-array", sign(header(*k.hs256), "[1,2,3]", *k.hs256)},
      {"claims-duplicate",
       sign(header(*k.hs256), with(now_claims + R"(,"sub":"mallory")"), *k.hs256)},
      // Refused before the signature.
      {"alg-none",
       base64url_encode(R"({"alg":"none","typ":"at+jwt","kid":")" + k.es256->kid() + "\"}") + "." +
           base64url_encode(claims()) + ".AA"},
      {"alg-mismatch", sign(header(*k.es256, "EdDSA"), claims(), *k.eddsa)},
      {"hs256-with-rsa-kid", sign(header(*k.rs256, "HS256"), claims(), *k.hs256)},
      {"unknown-kid", sign(R"({"alg":"HS256","typ":"at+jwt","kid":"nope"})", claims(), *k.hs256)},
      {"crit", sign(header(*k.hs256, "", R"(,"crit":["exp"])"), claims(), *k.hs256)},
      {"jku", sign(header(*k.hs256, "", R"(,"jku":"https://evil.example/jwks.json")"), claims(),
                   *k.hs256)},
      {"typ-jwt",
       sign(R"({"alg":"HS256","typ":"JWT","kid":")" + k.hs256->kid() + "\"}", claims(), *k.hs256)},
      {"header-duplicate-alg", sign(header(*k.hs256, "", R"(,"alg":"none")"), claims(), *k.hs256)},
      {"bad-signature",
       [&] {
         const std::string t = sign(header(*k.es256), claims(), *k.es256);
         return t.substr(0, t.size() - 4) + "AAAA";
       }()},
      {"padding", sign(header(*k.hs256), claims(), *k.hs256) + "="},
      {"four-segments", sign(header(*k.hs256), claims(), *k.hs256) + ".e30"},
      {"empty-segments", ".."},
      {"too-large", std::string(8193, 'A')},
      // Inputs the target signs itself: header \n claims [\n E|D].
      {"signed-hs256", header(*k.hs256) + "\n" + claims()},
      {"signed-es256", header(*k.es256) + "\n" + claims() + "\nE"},
      {"signed-eddsa", header(*k.eddsa) + "\n" + claims() + "\nD"},
      {"signed-odd-header", R"({"kid":")" + k.hs256->kid() +
                                R"(","alg":"HS256","typ":"at\u002Bjwt","x5c":[],"zip":"DEF",)"
                                R"("b64":false,"nested":{"a":[null,true,1e308]}})" +
                                "\n" + claims()},
      // A NUL byte ended RapidJSON's text: header and claims with one parsed, junk and all.
      {"signed-nul-in-header", header(*k.hs256) + std::string(1, '\0') + "junk\n" + claims()},
      {"nul-in-claims", sign(header(*k.hs256), claims() + std::string(1, '\0') + "junk", *k.hs256)},
      // RapidJSON skipped any of the bytes EF BB BF (a byte-order mark) before the text.
      {"signed-bom-header", "\xBF" + header(*k.hs256) + "\n" + claims()},
      {"bom-claims", sign(header(*k.hs256), "\xEF\xBB\xBF" + claims(), *k.hs256)},
      {"signed-typ-number", header(*k.hs256, "", R"(,"typ":7)") + "\n" + claims()},
      {"signed-unicode",
       header(*k.hs256) + "\n" + with(now_claims + R"(,"name":"\u00e9\ud83d\ude00","x":"\u0000")")},
      {"signed-big-numbers",
       header(*k.hs256) + "\n" + with(R"("iat":-9223372036854775808,"exp":9223372036854775807)")},
      {"signed-exp-huge-double", header(*k.hs256) + "\n" + with(R"("iat":1700000000,"exp":1e300)")},
      {"signed-deep-nesting",
       header(*k.hs256) + "\n" +
           with(now_claims + R"(,"x":)" + std::string(2000, '[') + std::string(2000, ']'))},
      {"signed-many-members", header(*k.hs256) + "\n" +
                                  [] {
                                    std::string c = with(R"("iat":1700000000,"exp":1700000900)");
                                    c.pop_back();
                                    for (int i = 0; i < 70; ++i)
                                      c += ",\"m" + std::to_string(i) + "\":" + std::to_string(i);
                                    return c + "}";
                                  }()},
  };
  for (const auto& [name, bytes] : seeds) {
    std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
    out << bytes;
    if (!out) {
      std::cerr << "jwt_seeds: cannot write " << name << "\n";
      return 1;
    }
  }
  std::cout << seeds.size() << " seeds written to " << argv[1] << "\n";
  return 0;
}
