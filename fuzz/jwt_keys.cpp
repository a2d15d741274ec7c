// jwt_keys: the fuzz targets' fixed keys, one of each algorithm jwt_verify accepts, so that
// every run verifies against the same kids and the committed seed tokens stay valid.
// These keys are published with the source: they sign nothing but fuzz inputs.
#include "jwt_keys.hpp"

#include <stdexcept>

namespace shub::fuzz {

namespace {

constexpr std::string_view es256_pem = R"(
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9HDQHg7lpvslWu9V
pNU/R4A0xlq5+xNfsVxuBHyRMK2hRANCAASA18ZKRRQVQmFW6WK91J5ioSQd61xy
pB6rjQguBttExrHC+HhmJmsS4pAvlokCXNOpcjeB93vTIZ9+5atxZU5p
-----END PRIVATE KEY-----
)";

constexpr std::string_view eddsa_pem = R"(
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJj3pdcY7Nyxw7MKOjXukasXvzdYaTy18Bu0sb/9VSkD
-----END PRIVATE KEY-----
)";

constexpr std::string_view rs256_pem = R"(
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC1blEd2Fmq1TsN
T7vc+s3rkwSXrR4uNX4pZsUiuUdjMLY+9vphx+kWoSPYzSo+w5k6XiHA5D4qeSGD
QM9tHT0CmGUa+euB4PEaHkfn6F+eQgRU+SxBCUtDosyjuKiVtn68lR/5djmvjvMV
ZhhRoXdC30dA1k8o8SKRYZyYPpiXx0OiGTRLTk72OqLBDpYLO20NH0qLejZqoOnN
B+PhkI7/WxIXL3olwMrW2JitK/HGk/ZLTGSrr2NiZZW62FIsBdyfSXc9GGEzRHqR
5OgjCjUk+cbsJWbwOqP/SOUsuaqjQk0U0HyaQvUn9IZSYzdrcnpD/AY0ME/kM04j
TifpY9ajAgMBAAECggEASay7iegSOXoPWc94FTtPpYr1AXbOW6tjSQKvqPMeFxxv
1U/Lyys37vWOrfpaXlRlg7s377F/wRWhU0BdOwz1enlSDUtRpFMo9Rc40ead9ZEP
W0Y3/0z74EJa4V0aMHmEK6ZO7qlgsXbWJWlpFLUBzgkHUT/1s0WAaRL/WR+KLY+P
Z/g3K1BifKuqqsva3j8WGcK6zblYeYFu8pq0ESgVydz8tZWU9Dsofx3c1O5kfEFF
j2bWV2qXF/s+reEg+wG+UvnIzWrEPi8jxWK/1gF/TZtr+cm9AabNEem4OR+cENYw
1ohrjZRfOSzo9SUwwN5Dy5wynORPRy6qlyHZg8yz2QKBgQD51IW3UB9gLAdgwsx+
gSgx7uLWf7sJGxu4k79NfODwwwh3uNKhF4qsCdq6dRygRiMpkMl5hLe15rsBw7CZ
brKUPilfZ/NfzJwqiWEOY4dxJaJ+uv+ZQ92bJVY0ugOvJKsjIQ8h92mFrwkGDVdB
2UqGzw2VY/sg8kcQHteCD4ZB9QKBgQC56VxIB/jEoK589wxaENytG+Z4VO3vTkBc
hSegBgyeXHaN/hvL7UiD4NopVqqecNSrcGjfLuxhL7pUAVCnQob5Vv7BKQUXelg4
5zyWloxhytnKtw1JH9h9+ruZDilMJgXHrvb7LHIFBO2setFIOsEfkA7dikGq7Jgf
hqhCHvMfNwKBgED75dg78B1c9oJVyUlyoRjz8W8oBGem9Hv7enxWalBV+uLhYXBj
pj9/xLRReCO8erL6JV4Fhp+7J5Oa6lnOsIbc8HgPmv+lQk3SNDvA6d8lkfHzBD9C
pucPPDA03nZ1TEqz87K7H2iVkfxQBg1rzvXn77mXKyBzxMZNr3L2RM7tAoGAJ6Yu
SSpyErVWIU6q8rZv6fduUrGCQSxGK7U2OzmvDUMZAbV1Bivn8EBPJsvV/Y6AvMNv
ilG+lgeQzIOvSMy2bozwLg/qhxRPpmsij9cxv1V812/sxHCnQk7sHXtYsWXWi7yz
7eOPuaRQcB2NbsMhFvMpSHRJBwQIeYjFb7ycC0cCgYEAlU3p+gYAi8hwji6upBl0
nxrSRzRDl9daKiQI5mchPrkTOTJo2+Q1lrZBkBOIXFpMnbDBtyQwzlp/ebarQ7Ii
iCOy86LuWuQum46K4prM3XVvJTXvbwud7v+O2n+rpvX2X6yRoG0LX3o3AJYdtGb4
LRYbGWS/ClFraeOkfHYPKUs=
-----END PRIVATE KEY-----
)";

constexpr std::string_view hs256_secret = "sessionhub fuzz HS256 secret, 32+ bytes long";

auth::key_ptr load(std::string_view pem) {
  std::string error;
  auto k = auth::key::from_private_pem(pem, error);
  if (!k) throw std::runtime_error("fuzz key: " + error);
  return k;
}

}  // namespace

const fixed_keys& keys() {
  static const fixed_keys k = [] {
    fixed_keys out;
    std::string error;
    out.es256 = load(es256_pem);
    out.eddsa = load(eddsa_pem);
    out.rs256 = load(rs256_pem);
    out.hs256 = auth::key::from_hmac_secret(hs256_secret, error);
    if (!out.hs256) throw std::runtime_error("fuzz key: " + error);
    out.all = auth::key_set{{out.es256, out.eddsa, out.rs256, out.hs256}};
    return out;
  }();
  return k;
}

}  // namespace shub::fuzz
