#!/usr/bin/env python3
"""Soak: many tabs held for a long time with churn and steady logouts; nothing may leak.

    tests/resilience/soak.py BINARY [options]

Starts a redis-server and BINARY (build/hub/sessionhub, or build-asan/hub/sessionhub) on
free loopback ports, the hub on that Redis (--store sqlite: a file-backed SQLite store
instead), then:

  1. creates N / K sessions (--tabs-per-session K) and opens N tabs (--connections N),
     a few hundred handshakes at a time, from 127.0.0.1..127.0.0.S (--sources S);
  2. holds them --hold-s seconds while
       - churn: --churn-per-s tabs a second go away (a clean close, a dropped TCP
         connection or a reset, in turn) and come back a moment later with `resume`;
       - logouts: --logouts-per-s sessions a second are ended (POST /v1/logout, DELETE
         /v1/sessions/<sid>, POST /v1/users/<sub>/logout, in turn); every tab of the session
         must get its `logout` event and then close 4010 within --logout-deadline-s, after
         which the slot gets a new session and its tabs sign in again;
     and samples the hub's VmRSS and open descriptors (/proc/PID/status, /proc/PID/fd)
     every second;
  3. closes every tab (clean, dropped and reset in turn) and waits for the hub to let go;
  4. sends SIGTERM and waits for the hub to exit.

Checks (each printed as PASS or FAIL with its figures):
  - every tab signed in, and every churned tab came back (`ready`, state active);
  - no lost logout: every tab of every ended session got `logout` for its sid and 4010;
  - RSS growth after warm-up under --max-rss-growth-pct (median of the 5 s before the end of
    --warmup-s against the median of the last 5 s of the hold). Reported but not judged for
    a sanitizer build, whose allocator keeps freed memory in quarantine by design, and on
    SQLite, whose page cache (up to 32 MiB, auth/sqlite_store.cpp) grows with the database
    file that every new session lengthens: on Redis the store's data is not in the hub;
  - the hub's open descriptors back to the baseline taken before any tab connected, within
    20 s of the last tab leaving, and its connection gauges at 0. The Redis store's pooled
    connections are opened as calls need them and kept: they are told apart (by their
    remote port) and must stay within the pool (--redis-pool, 8 by default);
  - a clean exit on SIGTERM: status 0, and no AddressSanitizer/LeakSanitizer/UBSan report
    on its standard error (a sanitizer build checks for leaks as it exits).

Short form (the ctest `soak_short`): the defaults, 1,000 tabs held 60 s.
Long form (README, "Soak and chaos"), about 12 minutes:

    tests/resilience/soak.py build/hub/sessionhub --connections 10000 --hold-s 600 \\
        --warmup-s 120 --churn-per-s 50 --logouts-per-s 5 --json soak-long.json

Everything stays on loopback; every loop is bounded by the times above.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tabs as T  # noqa: E402

HOST = "127.0.0.1"
ORIGIN = "http://soak.example.test"
API_KEY = "soak-api-key"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--tabs-per-session", type=int, default=5)
    ap.add_argument("--hold-s", type=float, default=60)
    ap.add_argument("--warmup-s", type=float, default=15)
    ap.add_argument("--churn-per-s", type=float, default=10)
    ap.add_argument("--logouts-per-s", type=float, default=2)
    ap.add_argument("--logout-deadline-s", type=float, default=10)
    ap.add_argument("--max-rss-growth-pct", type=float, default=5)
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--handshakes", type=int, default=200, help="handshakes in flight at once")
    ap.add_argument("--threads", type=int, default=0, help="the hub's --threads (0: its default)")
    ap.add_argument("--store", choices=("redis", "sqlite"), default="redis")
    ap.add_argument("--hub-arg", action="append", default=[], help="one more flag for the hub (repeatable)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dir (logs, store)")
    return ap.parse_args()


REDIS_POOL = 8  # the hub's default --redis-pool: --store-threads (4) + 4


class Redis:
    """A redis-server of the soak's own, no persistence."""

    def __init__(self, work):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", work],
            stdout=open(os.path.join(work, "redis.log"), "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"soak: FAIL: redis-server did not answer on {self.port}")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Hub:
    def __init__(self, binary, work, threads, redis, extra):
        self.binary = binary = os.path.abspath(binary)
        self.redis = redis
        self.out_path = os.path.join(work, "hub.out")
        self.err_path = os.path.join(work, "hub.err")
        self.port = free_port()
        args = [
            binary,
            "--listen", f"{HOST}:{self.port}",
            "--api-key", API_KEY,
            "--allowed-origin", ORIGIN,
            # The soak measures leaks, not the limits: one loader is many browsers here.
            "--max-connections-per-ip", "1000000",
            "--ws-connect-rate-limit", "0",
            "--refresh-rate-limit", "0",
            "--login-rate-limit", "0",
            "--access-ttl-s", "14400",
            "--idle-timeout-s", "14400",
            "--log-level", "warn",
        ]
        if threads:
            args += ["--threads", str(threads)]
        if redis:
            key = os.path.join(work, "signing-key.pem")
            with open(key, "wb") as f:
                subprocess.run([binary, "generate-key", "ES256"], stdout=f, check=True)
            args += ["--store", f"redis://{HOST}:{redis.port}/0", "--signing-key", key,
                     "--redis-pool", str(REDIS_POOL)]
        else:
            args += ["--store", f"sqlite:{work}/sessions.db"]
        args += extra
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(
            args, stdout=open(self.out_path, "wb"), stderr=open(self.err_path, "wb"), env=env, cwd=work
        )
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while T.request(HOST, self.port, "GET", "/readyz", timeout=1).status != 200:
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: FAIL: the hub exited at start ({self.proc.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise SystemExit(f"soak: FAIL: the hub was not ready within 60 s:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self, n=20):
        out = []
        for p in (self.out_path, self.err_path):
            try:
                out += open(p, errors="replace").read().splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)

    def stderr_text(self):
        return open(self.err_path, errors="replace").read() + open(self.out_path, errors="replace").read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Slot:
    """One session's tabs; after a logout the slot gets a new session."""

    def __init__(self, index):
        self.index = index
        self.generation = 0
        self.sub = self.sid = self.token = None
        self.tabs = []
        self.state = "new"  # new, active, logging_out, renewing
        self.logout = None  # the logout under way: {t0, method, got_event: set, got_4010: set}


class Soak:
    def __init__(self, a, hub, v):
        self.a, self.hub, self.v = a, hub, v
        self.loop = T.Loop(http_threads=6)
        self.api = T.Api(HOST, hub.port, API_KEY)
        self.run_id = f"soak{os.getpid()}-{int(time.time()) % 100000}"
        self.slots = []
        self.pending_opens = []  # tabs waiting for a handshake slot
        self.handshaking = 0
        self.phase = "ramp"
        self.samples = []  # (t since hold start, rss_kib, fds, open tabs)
        self.unexpected = []  # (label, why)
        self.churn = {"started": 0, "back": 0, "failed": 0, "latency": []}
        self.logouts = {"sessions": 0, "tabs": 0, "events": 0, "closes_4010": 0, "lost": 0,
                        "http_failed": 0, "latency": [], "lost_detail": []}
        self.renew_failed = 0
        self.methods = ["user_logout", "delete_session", "logout_user"]

    # -- helpers --

    def new_session(self, slot):
        slot.generation += 1
        slot.sub = f"{self.run_id}-{slot.index}-{slot.generation}"
        r = self.api.create_session(slot.sub)
        if r.status != 201:
            raise RuntimeError(f"POST /v1/sessions: {r}")
        j = r.json()
        return j["session"]["sid"], j["access_token"]

    def open_tab(self, tab, mode):
        tab.mode_wanted = mode
        self.pending_opens.append(tab)
        self.pump_opens()

    def pump_opens(self):
        while self.pending_opens and self.handshaking < self.a.handshakes:
            tab = self.pending_opens.pop()
            self.handshaking += 1
            tab.handshaking = True
            tab.open(tab.mode_wanted, timeout=30)

    def handshake_done(self, tab):
        if getattr(tab, "handshaking", False):
            tab.handshaking = False
            self.handshaking -= 1
            self.loop.call_later(0, self.pump_opens)

    def all_tabs(self):
        for s in self.slots:
            yield from s.tabs

    # -- tab callbacks --

    def on_ready(self, tab):
        self.handshake_done(tab)
        slot = tab.slot
        if tab.ready.get("state") != "active" or tab.ready.get("sid") != slot.sid:
            self.unexpected.append((tab.label, f"ready {tab.ready}"))
            return
        if getattr(tab, "churning", False):
            tab.churning = False
            self.churn["back"] += 1
            self.churn["latency"].append(T.now() - tab.churn_t0)
        if slot.state in ("new", "renewing") and all(t.authenticated for t in slot.tabs):
            slot.state = "active"

    def on_event(self, tab, f):
        slot = tab.slot
        if f.get("event") == "logout" and slot.logout is not None:
            if (f.get("data") or {}).get("sid") == slot.sid:
                slot.logout["got_event"].add(id(tab))

    def on_close(self, tab):
        self.handshake_done(tab)
        slot = tab.slot
        if slot.state == "logging_out" and slot.logout is not None:
            if tab.close_code == 4010:
                slot.logout["got_4010"].add(id(tab))
                slot.logout["last_at"] = T.now()
                self.maybe_logout_done(slot)
            return
        if getattr(tab, "leaving", False) or getattr(tab, "going", False):
            return  # closed by the soak itself
        if getattr(tab, "churning", False):
            self.churn["failed"] += 1
            tab.churning = False
            self.unexpected.append((tab.label, f"churn reconnect: {tab.failure} (HTTP {tab.http_status})"))
            return
        self.unexpected.append((tab.label, f"closed: {tab.close_code} {tab.failure}"))

    # -- churn --

    def churn_one(self):
        candidates = [s for s in random.sample(self.slots, min(len(self.slots), 20)) if s.state == "active"]
        for slot in candidates:
            ready = [t for t in slot.tabs if t.authenticated]
            if len(ready) != len(slot.tabs):
                continue
            tab = random.choice(ready)
            how = ("clean", "drop", "reset")[self.churn["started"] % 3]
            self.churn["started"] += 1
            tab.going = True
            tab.close(how)

            def back(tab=tab, slot=slot):
                if tab.state != T.Tab.CLOSED:  # a clean close still waiting for its answer
                    tab._teardown(1001, "closed by the tab")
                tab.going = False
                if slot.state != "active":
                    return
                tab.churning = True
                tab.churn_t0 = T.now()
                self.open_tab(tab, "resume")

            self.loop.call_later(random.uniform(0.05, 1.0), back)
            return

    # -- logouts --

    def logout_one(self):
        for slot in random.sample(self.slots, min(len(self.slots), 20)):
            if slot.state != "active" or not all(t.authenticated for t in slot.tabs):
                continue
            method = self.methods[self.logouts["sessions"] % len(self.methods)]
            self.logouts["sessions"] += 1
            self.logouts["tabs"] += len(slot.tabs)
            slot.state = "logging_out"
            slot.logout = {"t0": T.now(), "method": method, "got_event": set(), "got_4010": set(),
                           "sid": slot.sid, "last_at": None}
            sid, sub, token = slot.sid, slot.sub, slot.token
            if method == "user_logout":
                fn, want = (lambda: self.api.logout(token)), 204
            elif method == "delete_session":
                fn, want = (lambda: self.api.delete_session(sid)), 204
            else:
                fn, want = (lambda: self.api.logout_user(sub)), 200

            def answered(r, slot=slot, want=want, method=method):
                if isinstance(r, Exception) or r.status != want:
                    self.logouts["http_failed"] += 1
                    self.unexpected.append((f"slot{slot.index}", f"{method}: {r}"))

            self.loop.submit(fn, answered)
            slot.logout["deadline"] = self.loop.call_later(
                self.a.logout_deadline_s, lambda slot=slot: self.logout_deadline(slot)
            )
            return

    def maybe_logout_done(self, slot):
        lo = slot.logout
        if len(lo["got_4010"]) == len(slot.tabs):
            self.loop.cancel(lo["deadline"])
            self.finish_logout(slot)

    def logout_deadline(self, slot):
        if slot.state == "logging_out":
            self.finish_logout(slot)

    def finish_logout(self, slot):
        lo = slot.logout
        ids = {id(t) for t in slot.tabs}
        got_event = lo["got_event"] & ids
        got_close = lo["got_4010"] & ids
        self.logouts["events"] += len(got_event)
        self.logouts["closes_4010"] += len(got_close)
        lost = len(ids - (got_event & got_close))
        if lost:
            self.logouts["lost"] += lost
            states = [(t.label, t.close_code, len(t.events), t.failure) for t in slot.tabs if id(t) not in got_event & got_close]
            self.logouts["lost_detail"].append({"sid": lo["sid"], "method": lo["method"], "tabs": states[:5]})
        elif lo["last_at"] is not None:
            self.logouts["latency"].append(lo["last_at"] - lo["t0"])
        slot.logout = None
        for t in slot.tabs:
            if t.state != T.Tab.CLOSED:
                t.going = True
                t.close("reset")
                t.going = False
        if self.phase != "hold":
            slot.state = "done"
            return
        slot.state = "renewing"

        def renewed(r, slot=slot):
            if isinstance(r, Exception):
                self.renew_failed += 1
                self.unexpected.append((f"slot{slot.index}", f"new session: {r}"))
                slot.state = "done"
                return
            slot.sid, slot.token = r
            for t in slot.tabs:
                t.token, t.version = slot.token, 0
                self.open_tab(t, "auth")

        self.loop.submit(lambda: self.new_session(slot), renewed)

    # -- the run --

    def fds(self):
        """The hub's descriptors other than its Redis store connections, and those."""
        total = T.fd_count(self.hub.pid)
        if not self.hub.redis:
            return total, 0
        store = sum(1 for _, remote in T.tcp_sockets(self.hub.pid) if remote == self.hub.redis.port)
        return total - store, store

    def sample(self, t0):
        try:
            rss, fds = T.rss_kib(self.hub.pid), T.fd_count(self.hub.pid)
        except OSError:
            return
        open_tabs = sum(1 for t in self.all_tabs() if t.state == T.Tab.OPEN)
        self.samples.append((round(T.now() - t0, 2), rss, fds, open_tabs))

    def every(self, interval, fn, until):
        """fn() every `interval` seconds (on a fixed schedule) until `until` (monotonic)."""
        state = {"next": T.now() + interval}

        def tick():
            if T.now() >= until:
                return
            fn()
            state["next"] += interval
            self.loop.call_later(state["next"] - T.now(), tick)

        self.loop.call_later(interval, tick)

    def run(self):
        a, v = self.a, self.v
        k = a.tabs_per_session
        nslots = max(1, a.connections // k)

        # Baseline: one session, one tab, its logout; then the hub's descriptors at rest.
        warm = Slot(-1)
        sid, token = self.new_session(warm)
        t = T.Tab(self.loop, HOST, self.hub.port, ORIGIN, token)
        t.open("auth")
        self.loop.run_until(lambda: t.ready is not None or t.is_closed, 10)
        self.api.logout(token)
        self.loop.run_until(lambda: t.is_closed, 10)
        time.sleep(1)
        fd_baseline = self.fds()[0]
        kinds_baseline = T.fd_kinds(self.hub.pid)
        rss_start = T.rss_kib(self.hub.pid)
        v.note(f"hub pid {self.hub.pid} port {self.hub.port}: {fd_baseline} descriptors and "
               f"{rss_start} KiB resident before any tab")

        # Sessions, then the tabs.
        t_ramp = T.now()
        self.slots = [Slot(i) for i in range(nslots)]
        made = self.loop.wait_call(lambda: self._create_all(), timeout=300)
        if made != nslots:
            v.check(False, "sessions created", f"{made} of {nslots}")
            return self.report(fd_baseline, None, None, None)
        n = 0
        for slot in self.slots:
            for j in range(k):
                tab = T.Tab(self.loop, HOST, self.hub.port, ORIGIN, slot.token,
                            source=f"127.0.0.{1 + n % a.sources}", label=f"s{slot.index}t{j}")
                tab.slot = slot
                tab.on_ready, tab.on_event, tab.on_close = self.on_ready, self.on_event, self.on_close
                slot.tabs.append(tab)
                n += 1
        for slot in self.slots:
            for tab in slot.tabs:
                self.open_tab(tab, "auth")
        total = n
        self.loop.run_until(lambda: all(s.state == "active" for s in self.slots) or self.unexpected,
                            timeout=max(120, total / 50))
        ramp_s = T.now() - t_ramp
        signed_in = sum(1 for t in self.all_tabs() if t.authenticated)
        if not v.check(signed_in == total and not self.unexpected, "every tab signed in",
                       f"{signed_in} of {total} in {ramp_s:.1f} s, {total / ramp_s:.0f}/s"
                       + (f"; first trouble: {self.unexpected[:3]}" if self.unexpected else "")):
            return self.report(fd_baseline, ramp_s, None, None)

        # The hold: churn, logouts, samples.
        self.phase = "hold"
        t0 = T.now()
        until = t0 + a.hold_s
        self.sample(t0)
        self.every(1.0, lambda: self.sample(t0), until + 0.5)
        if a.churn_per_s > 0:
            self.every(1.0 / a.churn_per_s, self.churn_one, until)
        if a.logouts_per_s > 0:
            self.every(1.0 / a.logouts_per_s, self.logout_one, until)
        next_note = t0 + 60
        while T.now() < until:
            self.loop.step(min(0.2, until - T.now()))
            if T.now() >= next_note:
                next_note += 60
                s = self.samples[-1]
                v.note(f"{s[0]:.0f} s: {s[3]} tabs open, {s[1]} KiB, {s[2]} fds, churned "
                       f"{self.churn['started']}, logouts {self.logouts['sessions']}, lost {self.logouts['lost']}")
        self.phase = "settle"
        # What is under way finishes: logouts to their deadline, churned tabs back.
        self.loop.run_until(
            lambda: all(s.state in ("active", "done") for s in self.slots)
            and not any(getattr(t, "churning", False) or getattr(t, "going", False) for t in self.all_tabs()),
            timeout=a.logout_deadline_s + 35,
        )
        hold_s = T.now() - t0
        self.sample(t0)

        # Everyone leaves.
        self.phase = "leave"
        i = 0
        for t in self.all_tabs():
            t.leaving = True
            if t.state != T.Tab.CLOSED:
                t.close(("clean", "drop", "reset")[i % 3])
                i += 1
        self.loop.run_until(lambda: all(t.is_closed for t in self.all_tabs()), 15)
        t_leave = T.now()
        fds_after = None
        stats = None

        def released():
            nonlocal fds_after, stats
            fds_after = self.fds()
            if fds_after[0] > fd_baseline or fds_after[1] > REDIS_POOL:
                return False
            stats = self.api.stats()
            c = (stats or {}).get("connections", {})
            return c.get("current") == 0 and c.get("authenticated") == 0 and c.get("watching") == 0

        back = self.loop.run_until(released, 20, poll=0.25)
        release_s = T.now() - t_leave
        self.loop.close()
        return self.report(fd_baseline, ramp_s, hold_s, (back, fds_after, release_s, stats, kinds_baseline))

    def _create_all(self):
        from concurrent.futures import ThreadPoolExecutor

        def one(slot):
            try:
                slot.sid, slot.token = self.new_session(slot)
                slot.state = "new"
                return True
            except Exception as e:  # noqa: BLE001
                self.unexpected.append((f"slot{slot.index}", str(e)))
                return False

        with ThreadPoolExecutor(max_workers=4) as ex:
            return sum(ex.map(one, self.slots))

    def report(self, fd_baseline, ramp_s, hold_s, release):
        a, v = self.a, self.v
        fig = {"connections": a.connections, "tabs_per_session": a.tabs_per_session, "hold_s": a.hold_s,
               "warmup_s": a.warmup_s, "churn_per_s": a.churn_per_s, "logouts_per_s": a.logouts_per_s,
               "ramp_s": ramp_s, "fd_baseline": fd_baseline}
        sanitizer = T.is_sanitizer_build(self.hub.binary)
        fig["sanitizer_build"] = sanitizer
        if hold_s is not None:
            fig["hold_measured_s"] = round(hold_s, 1)
            c = self.churn
            lat = sorted(c["latency"])
            fig["churn"] = {"started": c["started"], "back": c["back"], "failed": c["failed"],
                            "reconnect_p50_ms": pct_ms(lat, 50), "reconnect_p99_ms": pct_ms(lat, 99)}
            v.check(c["failed"] == 0 and c["back"] > 0, "every churned tab came back",
                    f"{c['back']} of {c['started']} reconnections, p50 {pct_ms(lat, 50)} ms, "
                    f"p99 {pct_ms(lat, 99)} ms")
            lo = self.logouts
            lat = sorted(lo["latency"])
            fig["logouts"] = {k: lo[k] for k in ("sessions", "tabs", "events", "closes_4010", "lost", "http_failed")}
            fig["logouts"].update({"all_tabs_p50_ms": pct_ms(lat, 50), "all_tabs_p99_ms": pct_ms(lat, 99),
                                   "all_tabs_max_ms": pct_ms(lat, 100)})
            v.check(lo["lost"] == 0 and lo["http_failed"] == 0 and lo["sessions"] > 0, "no lost logout",
                    f"{lo['sessions']} sessions ended, {lo['tabs']} tabs, {lo['events']} logout events, "
                    f"{lo['closes_4010']} closes 4010, {lo['lost']} lost, {lo['http_failed']} calls failed; "
                    f"every tab told within p50 {pct_ms(lat, 50)} ms, p99 {pct_ms(lat, 99)} ms, max {pct_ms(lat, 100)} ms"
                    + (f"; lost: {lo['lost_detail'][:3]}" if lo["lost_detail"] else ""))
            others = [u for u in self.unexpected]
            v.check(not others, "no tab closed or refused unexpectedly",
                    f"{len(others)}" + (f": {others[:5]}" if others else ""))

            # RSS after warm-up.
            held = [s for s in self.samples if s[0] <= a.hold_s + 0.5]
            base = [s[1] for s in held if a.warmup_s - 5 <= s[0] <= a.warmup_s]
            last = [s[1] for s in held if s[0] >= a.hold_s - 5]
            if base and last:
                b, e = statistics.median(base), statistics.median(last)
                growth = (e - b) / b * 100
                peak = max(s[1] for s in held if s[0] >= a.warmup_s)
                fig["rss_kib"] = {"start": held[0][1], "after_warmup": b, "end": e, "peak_after_warmup": peak,
                                  "growth_pct": round(growth, 2)}
                fig["rss_per_tab_kib"] = round(e / max(1, held[-1][3]), 2)
                detail = (f"{b:.0f} KiB after {a.warmup_s:.0f} s warm-up, {e:.0f} KiB at {a.hold_s:.0f} s: "
                          f"{growth:+.2f} % (peak {peak} KiB)")
                if sanitizer:
                    v.note(f"RSS {detail}; not judged: a sanitizer build keeps freed memory in quarantine")
                elif not self.hub.redis:
                    v.note(f"RSS {detail}; not judged on SQLite: its page cache grows with the database file")
                else:
                    v.check(growth < a.max_rss_growth_pct, f"RSS growth after warm-up under {a.max_rss_growth_pct} %", detail)
            else:
                v.check(False, "RSS sampled", "too few samples (hold shorter than warm-up?)")
            fig["samples"] = self.samples[:: max(1, len(self.samples) // 120)]
        if release is not None:
            back, fds_after, release_s, stats, kinds_baseline = release
            peak_fds = max((s[2] for s in self.samples), default=0)
            fig["fds"] = {"baseline": fd_baseline, "peak": peak_fds, "after_leave": fds_after[0],
                          "store_connections": fds_after[1], "release_s": round(release_s, 2)}
            detail = (f"baseline {fd_baseline}, peak {peak_fds} in all, {fds_after[0]} {release_s:.1f} s after "
                      f"the last tab left" + (f", besides {fds_after[1]} pooled Redis connections (at most "
                                              f"{REDIS_POOL})" if self.hub.redis else ""))
            if not back:
                kinds = T.fd_kinds(self.hub.pid)
                diff = {k: kinds.get(k, 0) - kinds_baseline.get(k, 0) for k in set(kinds) | set(kinds_baseline)
                        if kinds.get(k, 0) != kinds_baseline.get(k, 0)}
                detail += f"; by kind vs baseline: {diff}; stats connections {(stats or {}).get('connections')}"
            v.check(back, "descriptors back to baseline and no connection left", detail)

        # SIGTERM: a clean exit, and nothing from the sanitizers.
        t = T.now()
        self.hub.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.hub.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.hub.kill()
            rc = "still running after 60 s (killed)"
        fig["exit"] = {"status": rc, "seconds": round(T.now() - t, 2)}
        reports = T.sanitizer_lines(self.hub.stderr_text())
        what = "LeakSanitizer-clean exit on SIGTERM" if sanitizer else "clean exit on SIGTERM"
        v.check(rc == 0 and not reports, what,
                f"status {rc} after {T.now() - t:.1f} s"
                + (f"; sanitizer says: {reports[:6]}" if reports else "")
                + ("" if sanitizer else "; not a sanitizer build, so no leak check"))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(fig, f, indent=1)
        return fig


def pct_ms(sorted_s, p):
    if not sorted_s:
        return None
    i = min(len(sorted_s) - 1, max(0, int(round(p / 100 * len(sorted_s))) - 1))
    return round(sorted_s[i] * 1000, 1)


def main():
    a = parse_args()
    if a.tabs_per_session < 1 or a.connections < a.tabs_per_session:
        sys.exit("soak: --connections must be at least --tabs-per-session")
    v = T.Verdicts("soak")
    work = tempfile.mkdtemp(prefix="shub-soak.")
    started = time.monotonic()
    v.note(f"{a.connections} tabs ({a.tabs_per_session} a session) held {a.hold_s:.0f} s, churn "
           f"{a.churn_per_s}/s, logouts {a.logouts_per_s}/s, against {a.binary} on {a.store}")
    redis = Redis(work) if a.store == "redis" else None
    try:
        hub = Hub(a.binary, work, a.threads, redis, a.hub_arg)
    except BaseException:
        if redis:
            redis.stop()
        raise
    try:
        Soak(a, hub, v).run()
    except Exception as e:  # noqa: BLE001 - the reason goes into the verdict
        import traceback

        traceback.print_exc()
        v.check(False, "the soak ran to its end", f"{type(e).__name__}: {e}\n{hub.tail()}")
    finally:
        hub.kill()
        if redis:
            redis.stop()
    v.note(f"took {time.monotonic() - started:.0f} s; scratch dir {work}" + ("" if a.keep else " (removed)"))
    rc = v.summary()
    if rc and not a.keep:
        print("----- the end of the hub's log", flush=True)
        print(hub.tail(30), flush=True)
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
