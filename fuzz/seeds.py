#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_client_frame, fuzz_ws_frame_parser, fuzz_http_request and
fuzz_query into fuzz/corpus/<target>/, one file per seed, named for what it shows (fuzz_jwt's
seeds are signed tokens: build-fuzz/fuzz/jwt_seeds writes those). Rerunning it rewrites the
same bytes; the corpus is committed, so this is only needed to change or add a seed.

    fuzz/seeds.py [corpus dir]   (default: the corpus/ beside this script)
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")

# A token as the hub mints them (the ES256 seed of fuzz_jwt), for frames and headers.
TOKEN = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IkJUNlRsT01oS2RKS3hpZXNUbnQ5Qmw1bVlWVy1uWUxL"
    "alJpYTN1OFVVODAifQ.eyJpc3MiOiJzZXNzaW9uaHViIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJzZXNzaW9uaHViIiwiZX"
    "hwIjoxNzAwMDAwOTAwLCJpYXQiOjE3MDAwMDAwMDAsInNpZCI6ImhVMmI5c1FrVG4zWTBaclprWGMxYVEifQ.c2lnbmF0"
    "dXJlLW9mLTY0LWJ5dGVzLWZvci1hbi1FUzI1Ni1zZWVkLW5vdC12ZXJpZmllZC1oZXJlLTEyMzQ1Njc"
)
DID = "Jq3k9Zp0Lw2xYv7Tb5Rn1A"  # a device id of the shape the hub issues (22 base64url)
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- fuzz_client_frame: text frames of PROTOCOL §3 ------------------------------------------

def client_frames():
    t = "fuzz_client_frame"
    seeds = {
        "auth": '{"type":"auth","token":"%s"}' % TOKEN,
        "resume": '{"type":"resume","token":"%s","version":3}' % TOKEN,
        "watch": '{"type":"watch"}',
        "token": '{"type":"token","token":"%s"}' % TOKEN,
        "activity": '{"type":"activity"}',
        "extend": '{"type":"extend"}',
        "logout": '{"type":"logout"}',
        "logout-user": '{"type":"logout","scope":"user"}',
        "logout-device": '{"type":"logout","scope":"device"}',
        "logout-bad-scope": '{"type":"logout","scope":"everything"}',
        "logout-scope-number": '{"type":"logout","scope":1}',
        "unknown-type": '{"type":"subscribe","channel":"user:alice"}',
        "type-number": '{"type":7}',
        "no-type": '{"token":"x"}',
        "array": '[{"type":"watch"}]',
        "not-json": "watch",
        "trailing-garbage": '{"type":"watch"} {"type":"watch"}',
        "whitespace": ' \t\r\n{ "type" : "watch" } \n',
        "duplicate-type": '{"type":"watch","type":"auth","token":"t"}',
        "auth-no-token": '{"type":"auth"}',
        "auth-empty-token": '{"type":"auth","token":""}',
        "auth-token-null": '{"type":"auth","token":null}',
        "auth-token-too-long": '{"type":"auth","token":"%s"}' % ("A" * 8193),
        "auth-token-longest": '{"type":"auth","token":"%s"}' % ("A" * 8192),
        "resume-no-version": '{"type":"resume","token":"t"}',
        "resume-negative": '{"type":"resume","token":"t","version":-1}',
        "resume-fraction": '{"type":"resume","token":"t","version":1.5}',
        "resume-max": '{"type":"resume","token":"t","version":18446744073709551615}',
        "resume-past-max": '{"type":"resume","token":"t","version":18446744073709551616}',
        "resume-string-version": '{"type":"resume","token":"t","version":"3"}',
        "escapes": '{"type":"\\u0061uth","token":"a\\u0000b\\ud83d\\ude00"}',
        "lone-surrogate": '{"type":"auth","token":"\\ud800"}',
        "deep-nesting": '{"type":"watch","x":' + "[" * 2000 + "]" * 2000 + "}",
        "big-number": '{"type":"watch","n":1e400}',
    }
    for name, text in seeds.items():
        write(t, name, text)
    write(t, "invalid-utf8", b'{"type":"auth","token":"\xc3\x28"}')
    write(t, "overlong-utf8", b'{"type":"watch","x":"\xc0\xaf"}')
    write(t, "surrogate-utf8", b'{"type":"watch","x":"\xed\xa0\x80"}')
    write(t, "bom", b'\xef\xbb\xbf{"type":"watch"}')
    write(t, "nul-byte", b'{"type":"watch"}\x00')
    # Regressions: RapidJSON ends the text at a NUL byte, so these parsed as watch frames.
    write(t, "nul-then-text", b'{"type":"watch"}\x00{"type":"logout","scope":"user"}')
    write(t, "nul-then-invalid-utf8", b'{"type":"watcp"}\x00\xff\xff\xff\xf3')
    # Regression: RapidJSON skipped any of EF, BB, BF before the text (a byte-order mark).
    write(t, "bom-piece", b'\xef{"type":"watch"}')


# ---- fuzz_ws_frame_parser: client frames (masked) as they come off the socket ----------------

MASK = b"\x37\xfa\x21\x3d"


def frame(op, payload=b"", fin=True, mask=MASK, rsv=0, length_form=None, masked=True):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    form = length_form or ("7" if n < 126 else "16" if n <= 0xFFFF else "64")
    m = 0x80 if masked else 0
    if form == "7":
        head = bytes([b0, m | n])
    elif form == "16":
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + body


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def ws_frames():
    t = "fuzz_ws_frame_parser"
    TEXT, BIN, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0
    auth = '{"type":"auth","token":"%s"}' % TOKEN
    seeds = {
        "text-auth": frame(TEXT, auth),
        "text-watch-then-activity": frame(TEXT, '{"type":"watch"}') + frame(TEXT, '{"type":"activity"}'),
        "ping": frame(PING, "are you there"),
        "pong": frame(PONG, ""),
        "close-normal": frame(CLOSE, close_payload(1000, b"bye")),
        "close-empty": frame(CLOSE),
        "close-one-byte": frame(CLOSE, b"\x03"),
        "close-code-1005": frame(CLOSE, close_payload(1005)),
        "close-code-4010": frame(CLOSE, close_payload(4010, "d\u00e9j\u00e0".encode())),
        "close-bad-utf8": frame(CLOSE, close_payload(1000, b"\xff")),
        "close-then-more": frame(CLOSE, close_payload(1001)) + frame(TEXT, '{"type":"watch"}'),
        "fragmented-text": frame(TEXT, '{"type":', fin=False) + frame(PING, "mid")
        + frame(CONT, '"watch"}'),
        "utf8-split-across-fragments": frame(TEXT, b'{"x":"\xc3', fin=False)
        + frame(CONT, b'\xa9"}'),
        "utf8-truncated-at-end": frame(TEXT, b'{"x":"\xe2\x82'),
        "invalid-utf8": frame(TEXT, b"\xc3\x28"),
        "surrogate-utf8": frame(TEXT, b"\xed\xa0\x80"),
        "binary": frame(BIN, b"\x00\x01\x02"),
        "unmasked": frame(TEXT, "hi", masked=False),
        "reserved-bit": frame(TEXT, "hi", rsv=0x40),
        "unknown-opcode": frame(3, "hi"),
        "control-too-long": frame(PING, b"p" * 126, length_form="16"),
        "fragmented-ping": frame(PING, "p", fin=False),
        "length-16-not-minimal": frame(TEXT, "short", length_form="16"),
        "length-64-not-minimal": frame(TEXT, "short", length_form="64"),
        "length-16": frame(TEXT, '{"type":"watch","pad":"%s"}' % ("x" * 300)),
        "length-64-top-bit": bytes([0x81, 0xFF]) + b"\x80" + b"\x00" * 7 + MASK,
        "too-big": frame(TEXT, b"a" * 4097),
        "largest": frame(TEXT, b"a" * 4096),
        "fragments-too-big": frame(TEXT, b"a" * 3000, fin=False) + frame(CONT, b"a" * 1500),
        "continuation-without-message": frame(CONT, "x"),
        "message-inside-message": frame(TEXT, "a", fin=False) + frame(TEXT, "b"),
        "zero-mask": frame(TEXT, '{"type":"watch"}', mask=b"\x00\x00\x00\x00"),
        "header-only": bytes([0x81, 0xFE, 0x01]),
        "empty-text": frame(TEXT, ""),
    }
    for name, data in seeds.items():
        write(t, name, data)


# ---- fuzz_http_request: requests as a browser, a backend or an attacker sends them -----------

def http_requests():
    t = "fuzz_http_request"
    crlf = "\r\n"

    def req(head, body=""):
        return crlf.join(head) + crlf + crlf + body

    def post(path, body, *headers):
        return req(["POST %s HTTP/1.1" % path, "Host: hub", *headers,
                    "Content-Length: %d" % len(body)], body)

    def chunked(pieces):
        return "".join("%x\r\n%s\r\n" % (len(p), p) for p in pieces) + "0\r\n\r\n"

    login = '{"username":"demo","password":"correct horse"}'
    seeds = {
        "healthz": req(["GET /healthz HTTP/1.1", "Host: hub"]),
        "login": post("/v1/login", login, "Content-Type: application/json",
                      "Origin: http://127.0.0.1:8081"),
        "refresh-cookie": req(["POST /v1/refresh HTTP/1.1", "Host: hub",
                               "Cookie: shub_did=%s; shub_rt=\"abc-DEF_123\"" % DID,
                               "Content-Length: 0"]),
        "refresh-body": post("/v1/refresh", '{"refresh_token":"r","token_delivery":"body"}'),
        "validate": req(["GET /v1/validate HTTP/1.1", "Host: hub",
                         "Authorization: Bearer  %s  " % TOKEN]),
        "validate-other-scheme": req(["GET /v1/validate HTTP/1.1", "Host: hub",
                                      "Authorization: Basic ZGVtbzpkZW1v"]),
        "logout": post("/v1/logout", '{"scope":"user"}\n', "Cookie: shub_rt=rt"),
        "sessions-create": post("/v1/sessions", '{"sub":"alice"}', "Authorization: bearer key"),
        "sessions-list": req(["GET /v1/sessions?sub=alice%40example.com&x=1 HTTP/1.1",
                              "Host: hub"]),
        "session-delete-escaped": req(["DELETE /v1/sessions/abc%2Fdef HTTP/1.1", "Host: hub"]),
        "user-logout-bad-escape": req(["POST /v1/users/al%ZZ/logout HTTP/1.1", "Host: hub",
                                       "Content-Length: 0"]),
        "user-logout-empty-param": req(["POST /v1/users//logout HTTP/1.1", "Host: hub",
                                        "Content-Length: 0"]),
        "snippet-module": req(["GET /sessionhub.js?format=module HTTP/1.1", "Host: hub",
                               "Sec-Fetch-Mode: cors"]),
        "publish-chunked": req(["POST /v1/publish HTTP/1.1", "Host: hub",
                                "Transfer-Encoding: chunked"],
                               chunked(['{"channel":"user', ':alice","event":"x"}'])),
        "pipelined": req(["GET /healthz HTTP/1.1", "Host: hub"])
        + req(["GET /readyz HTTP/1.1", "Host: hub"]),
        "http10": req(["GET /.well-known/jwks.json HTTP/1.0"]),
        "preflight": req(["OPTIONS /v1/refresh HTTP/1.1", "Host: hub",
                          "Origin: http://127.0.0.1:8081",
                          "Access-Control-Request-Method: POST"]),
        "wrong-method": req(["PUT /v1/login HTTP/1.1", "Host: hub", "Content-Length: 0"]),
        "head": req(["HEAD /dashboard HTTP/1.1", "Host: hub"]),
        "not-found": req(["GET /v2/anything/../etc HTTP/1.1", "Host: hub"]),
        "absolute-form": req(["GET http://hub/healthz HTTP/1.1", "Host: hub"]),
        "upgrade": req(["GET /v1/ws HTTP/1.1", "Host: hub", "Upgrade: websocket",
                        "Connection: keep-alive, Upgrade", "Sec-WebSocket-Key: " + WS_KEY,
                        "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: x, sessionhub.v1",
                        "Origin: http://127.0.0.1:8081", "Cookie: shub_did=" + DID])
        + "\x81\x8f\x37\xfa\x21\x3d",  # a client's first frame, read with the request
        "upgrade-bad-key": req(["GET /v1/ws HTTP/1.1", "Host: hub", "Upgrade: websocket",
                                "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==",
                                "Sec-WebSocket-Version: 13"]),
        "upgrade-version-8": req(["GET /v1/ws HTTP/1.1", "Host: hub", "Upgrade: websocket",
                                  "Connection: Upgrade", "Sec-WebSocket-Key: " + WS_KEY,
                                  "Sec-WebSocket-Version: 8"]),
        "upgrade-no-host": req(["GET /v1/ws HTTP/1.1", "Upgrade: websocket",
                                "Connection: Upgrade", "Sec-WebSocket-Key: " + WS_KEY,
                                "Sec-WebSocket-Version: 13"]),
        "upgrade-other-path": req(["GET /v1/wss HTTP/1.1", "Host: hub", "Upgrade: websocket",
                                   "Connection: Upgrade"]),
        "cookie-odd": req(["GET /v1/ws HTTP/1.1", "Host: hub", "Upgrade: WebSocket",
                           "Connection: upgrade", "Sec-WebSocket-Key: " + WS_KEY,
                           "Sec-WebSocket-Version: 13",
                           "Cookie: ;; shub_did = \"%s\" ;shub_did=second; =x; novalue" % DID]),
        "obs-fold": req(["GET /healthz HTTP/1.1", "Host: hub", "X-Long: a", " b"]),
        "duplicate-content-length": req(["POST /v1/login HTTP/1.1", "Host: hub",
                                         "Content-Length: 2", "Content-Length: 3"], "{}"),
        "te-and-cl": req(["POST /v1/login HTTP/1.1", "Host: hub", "Content-Length: 4",
                          "Transfer-Encoding: chunked"], "0\r\n\r\n"),
        "bare-lf": "GET /healthz HTTP/1.1\nHost: hub\n\n",
        "body-nul-then-text": post("/v1/login", login + "\0" + '{"username":"root"}'),
        "body-bom": post("/v1/login", "\xef\xbb\xbf" + login),
        "truncated-body": req(["POST /v1/login HTTP/1.1", "Host: hub", "Content-Length: 100"],
                              "{"),
        "body-deep-nesting": req(["POST /v1/login HTTP/1.1", "Host: hub",
                                  "Content-Length: 16000"], "[" * 16000),
        "body-too-large": req(["POST /v1/login HTTP/1.1", "Host: hub",
                               "Content-Length: 16385"], "x" * 16385),
        "header-too-large": req(["GET /healthz HTTP/1.1", "Host: hub",
                                 "Cookie: shub_rt=" + "a" * 16400]),
        # Over the limit by less than the first read: Beast passes it or not by the reads.
        "header-over-limit-by-request-line": req(["GET /healthz HTTP/1.1", "Host: hub",
                                                  "Cookie: shub_rt=" + "a" * 16351]),
    }
    for name, data in seeds.items():
        write(t, name, data.encode("latin-1"))


# ---- fuzz_query: query strings --------------------------------------------------------------

def queries():
    t = "fuzz_query"
    seeds = {
        "sub": "sub=alice",
        "sub-escaped": "sub=alice%40example.com",
        "format-module": "format=module&x=1",
        "plus-and-escapes": "sub=al+i%63e%2B&format=script",
        "repeated": "format=script&format=module",
        "no-value": "sub",
        "empty-pairs": "&&=&sub=",
        "truncated-escape": "sub=%4",
        "lone-percent": "%",
        "bad-hex": "sub=%zz",
        "nul": "sub=%00",
        "high-bytes": "sub=%FF%fe\xc3\xa9",
        "equals-in-value": "sub=a=b=c",
    }
    for name, data in seeds.items():
        write(t, name, data.encode("latin-1"))


if __name__ == "__main__":
    client_frames()
    ws_frames()
    http_requests()
    queries()
