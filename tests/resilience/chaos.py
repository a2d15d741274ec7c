#!/usr/bin/env python3
"""Chaos on scripts/cluster.sh's topology: Redis, three replicas and HAProxy on loopback.

    tests/resilience/chaos.py BINARY [options]

Brings the cluster up in a temporary state dir on ports of its own (a block in
12000..19999; the cluster tests take theirs in 20000..32000), with the replicas' default
cluster timing (heartbeat 1 s, peer timeout 3 s, periodic re-check 30 s) and a WebSocket
connect limit of --connect-limit upgrades a minute per address, then runs four scenarios,
each with real tabs (tabs.py) on every replica and through HAProxy:

  kill    kill -9 a replica while it runs a logout-all (POST /v1/users/<sub>/logout) of a
          user with tabs on every replica, a random 0-3 ms into the call. Whatever the
          dead replica managed, after 5 s no tab is still authenticated: its own tabs lost
          their connection, every other tab got `logout` (reason admin) and close 4010. A
          backend whose call failed tries it again through HAProxy, as a real one would. A
          tab coming back with the old token is refused (`auth`: error session_revoked and
          4001; `resume`: ready with state revoked, the logout, 4010), and /v1/validate
          says session_revoked. --kill-rounds rounds, the victim changing each round.
  pause   SIGSTOP a replica for --pause-s seconds while sessions change elsewhere (a
          logout, a DELETE, a logout-all, an extend, a refresh; one session untouched).
          Tabs on the live replicas hear at once; after SIGCONT the paused replica's tabs
          converge within --converge-s: the missed `logout`s (and 4010) and the moved idle
          expiries (`session.extended` with the store's value), via its re-check against the
          store, while the untouched session's tabs stay signed in; and it takes events
          from its peers again.
  redis   Redis stopped --redis-down-s seconds: every replica fails closed (validate and
          refresh 503 store_unavailable, new sessions 503, a new WebSocket `auth` gets
          error store_unavailable and 4001, /readyz 503 and HAProxy's front 503), open tabs
          are not signed out by the outage, and when Redis is back every replica is ready
          again by itself within --converge-s, and a logout reaches every tab.
  storm   --storm-tabs tabs through HAProxy, reconnecting as web-client/sessionhub.js does
          (resume with the last version, capped exponential backoff with full jitter: base
          0.5 s, cap 30 s). First one replica restarts (its tabs are closed with 1001 as it
          drains), then all three are killed at once and started again: every tab is
          disconnected together. Every tab is back (ready, state active, the same session)
          within the bound (the time the replicas took to come back + the 30 s backoff cap
          + 15 s), the connect limit turned some of them away (429) and they came back
          anyway, no replica fell over, no tab was signed out, and the replicas count
          exactly the tabs that are connected.

At the end the cluster goes down (SIGTERM: the replicas drain) and the replicas' logs must
hold no AddressSanitizer, LeakSanitizer or UBSan report (a build-asan binary checks for
leaks as it exits).

Short form (the ctest `chaos_short`): the defaults. Long form (README, "Soak and chaos"):

    tests/resilience/chaos.py build/hub/sessionhub --kill-rounds 6 --pause-s 30 \\
        --storm-tabs 3000 --json chaos-long.json

Everything stays on 127.0.0.1; every wait is bounded.
"""
import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tabs as T  # noqa: E402

HOST = "127.0.0.1"
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "scripts", "cluster.sh")
ORIGIN = "http://chaos.example.test"
PORTS = 11  # cluster.sh takes base..base+10
HEARTBEAT_S = 1.0  # the replicas' default --cluster-heartbeat-ms


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--only", default="kill,pause,redis,storm", help="scenarios to run, comma separated")
    ap.add_argument("--kill-rounds", type=int, default=1)
    ap.add_argument("--pause-s", type=float, default=10)
    ap.add_argument("--redis-down-s", type=float, default=10)
    ap.add_argument("--storm-tabs", type=int, default=600)
    ap.add_argument("--storm-alone-s", type=float, default=8, help="storm: hub1 alone this long")
    ap.add_argument("--connect-limit", type=int, default=240, help="replicas' --ws-connect-rate-limit")
    ap.add_argument("--logout-within-s", type=float, default=5)
    ap.add_argument("--converge-s", type=float, default=10)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the state dir (logs)")
    return ap.parse_args()


# --- the cluster ----------------------------------------------------------------------------


def free_base():
    for _ in range(300):
        base = random.randrange(12000, 20000 - PORTS)
        socks = []
        try:
            for p in range(base, base + PORTS):
                s = socket.socket()
                s.bind((HOST, p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("chaos: FAIL: no block of 11 free ports in 12000..19999")


class Cluster:
    def __init__(self, binary, hub_args):
        self.binary = os.path.abspath(binary)
        self.hub_args = hub_args
        self.state = tempfile.mkdtemp(prefix="shub-chaos.")
        self.base = 0
        self.env = {}

    def run(self, *args, timeout=240):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
        env.update(
            SESSIONHUB_CLUSTER_DIR=self.state,
            SESSIONHUB_CLUSTER_PORT=str(self.base),
            SESSIONHUB_BINARY=self.binary,
            SESSIONHUB_CLUSTER_HUB_ARGS=" ".join(self.hub_args),
            SESSIONHUB_CLUSTER_ORIGINS=ORIGIN,
            SESSIONHUB_CLUSTER_TIMEOUT="60",
        )
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        p = subprocess.run(
            ["timeout", "-k", "10", str(timeout), CLUSTER_SH, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        return p.returncode, p.stdout.decode(errors="replace")

    def must(self, *args):
        rc, out = self.run(*args)
        if rc != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)} exited {rc}:\n{out}\n{self.logs_tail()}")
        return out

    def up(self):
        out = ""
        for _ in range(3):
            self.base = free_base()
            rc, out = self.run("up")
            if rc == 0:
                self.load_env()
                return
            if "is in use" not in out:
                break
        tail = self.logs_tail()
        self.run("down")
        raise RuntimeError(f"cluster.sh up failed:\n{out}\n{tail}")

    def load_env(self):
        self.env = {}
        with open(os.path.join(self.state, "cluster.env")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    self.env[k] = v

    def port(self, n):
        return self.base + n

    @property
    def front_port(self):
        return self.base

    def api(self, n):
        return T.Api(HOST, self.port(n) if n else self.front_port, self.env["CLUSTER_API_KEY"])

    def pid(self, comp):
        try:
            with open(os.path.join(self.state, "pids", f"{comp}.pid")) as f:
                return int(f.read().strip() or -1)
        except (OSError, ValueError):
            return -1

    def alive(self, comp):
        pid = self.pid(comp)
        if pid <= 0:
            return False
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
            return st not in ("Z", "X")
        except OSError:
            return False

    def signal(self, comp, sig):
        pid = self.pid(comp)
        if pid <= 0:
            raise RuntimeError(f"no pid for {comp}")
        os.killpg(pid, sig)

    def ready(self, n):
        return T.request(HOST, self.port(n), "GET", "/readyz", timeout=2).status == 200

    def peers_up(self, n):
        s = self.api(n).stats(timeout=2)
        if not s:
            return False
        peers = s.get("cluster", {}).get("peers", [])
        return len(peers) == 2 and all(p.get("up") for p in peers)

    def heard_since(self, n, t):
        """Replica n sees both peers up and has heard from each of them at or after T.now()-time t."""
        asked = T.now()
        s = self.api(n).stats(timeout=2)
        if not s:
            return False
        peers = s.get("cluster", {}).get("peers", [])
        return len(peers) == 2 and all(p.get("up") and asked - p.get("last_seen_ms_ago", 1e9) / 1000 >= t
                                       for p in peers)

    def whole(self):
        """Every component up (cluster.sh status), every replica ready and seeing both peers."""
        if self.run("status", timeout=30)[0] != 0:
            return False
        return all(self.ready(n) and self.peers_up(n) for n in (1, 2, 3))

    def restore(self):
        for comp in ("redis", "hub1", "hub2", "hub3"):
            try:
                self.signal(comp, signal.SIGCONT)
            except (OSError, RuntimeError):
                pass
        for comp, arg in (("redis", "redis"), ("hub1", "1"), ("hub2", "2"), ("hub3", "3")):
            if not self.alive(comp):
                self.run("start", arg)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.whole():
                return True
            time.sleep(0.5)
        return False

    def down(self):
        rc, out = self.run("down")
        if rc != 0:
            for comp in ("haproxy", "hub1", "hub2", "hub3", "redis"):
                for sig in (signal.SIGCONT, signal.SIGKILL):
                    try:
                        self.signal(comp, sig)
                    except (OSError, RuntimeError):
                        pass
        return rc, out

    def sanitizer_reports(self):
        out = []
        for c in ("hub1", "hub2", "hub3"):
            try:
                text = open(os.path.join(self.state, "logs", f"{c}.log"), errors="replace").read()
            except OSError:
                continue
            out += [f"{c}: {line}" for line in T.sanitizer_lines(text)]
        return out

    def logs_tail(self, n=25):
        out = []
        for c in ("redis", "hub1", "hub2", "hub3", "haproxy"):
            try:
                lines = open(os.path.join(self.state, "logs", f"{c}.log"), errors="replace").read().splitlines()
            except OSError:
                continue
            out.append(f"----- {c}.log")
            out += lines[-n:]
        return "\n".join(out)


# --- the scenarios ---------------------------------------------------------------------------


class Chaos:
    def __init__(self, a, cl, v):
        self.a, self.cl, self.v = a, cl, v
        self.loop = T.Loop(http_threads=8)
        self.run_id = f"chaos{os.getpid()}"
        self.n = 0
        self.fig = {}

    def unique(self, what):
        self.n += 1
        return f"{self.run_id}-{what}-{self.n}"

    def call(self, fn, timeout=30):
        """A blocking call on the pool while the loop serves the tabs."""
        return self.loop.wait_call(fn, timeout)

    def session(self, n, sub):
        r = self.call(lambda: self.cl.api(n).create_session(sub))
        if r.status != 201:
            raise RuntimeError(f"POST /v1/sessions on {n or 'front'}: {r}")
        j = r.json()
        return {"sid": j["session"]["sid"], "sub": sub, "token": j["access_token"],
                "refresh": j["refresh_token"], "version": j["session"]["version"]}

    def tab(self, n, token, label):
        return T.Tab(self.loop, HOST, self.cl.port(n) if n else self.cl.front_port, ORIGIN, token, label=label)

    def open_all(self, tabs, timeout=15):
        for t in tabs:
            t.open("auth")
        ok = self.loop.run_until(lambda: all(t.ready is not None or t.is_closed for t in tabs), timeout)
        bad = [(t.label, t.failure, t.errors[:1]) for t in tabs if not t.authenticated]
        if not ok or bad:
            raise RuntimeError(f"tabs did not sign in: {bad[:5]}")
        return tabs

    @staticmethod
    def replica_of(tab):
        return (tab.ready or {}).get("replica")

    def logged_out_by(self, tab, sid, deadline):
        """The tab got logout for sid and then 4010, both by `deadline` (monotonic)."""
        e = tab.event("logout", sid)
        return (
            e is not None
            and e[0] <= deadline
            and tab.close_code == 4010
            and tab.closed_at is not None
            and tab.closed_at <= deadline
        )

    def refused_old_token(self, token, n):
        """A tab on replica n (0: front) with a token of an ended session gets no session."""
        out = []
        a = self.tab(n, token, "old-auth")
        a.open("auth")
        r = self.tab(n, token, "old-resume")
        r.version = 1
        r.open("resume")
        self.loop.run_until(lambda: a.is_closed and r.is_closed, 10)
        codes = [e.get("code") for e in a.errors]
        if not (a.close_code == 4001 and "session_revoked" in codes and a.ready is None):
            out.append(f"auth with the old token: close {a.close_code}, errors {codes}, ready {a.ready}")
        if not (r.ready and r.ready.get("state") == "revoked" and r.event("logout") and r.close_code == 4010):
            out.append(f"resume with the old token: ready {r.ready}, close {r.close_code}")
        return out

    # -- kill -9 during a logout-all --

    def kill(self):
        a, v = self.a, self.v
        results = []
        for rnd in range(a.kill_rounds):
            victim = 3 - rnd % 3
            vid = f"hub{victim}"
            sub = self.unique("kill")
            sessions = [self.session(1 + i % 3, sub) for i in range(3)]
            tabs = []
            for n in (1, 2, 3, 0):
                for s in sessions:
                    for j in range(2 if n else 1):
                        t = self.tab(n, s["token"], f"{'front' if n == 0 else 'hub%d' % n}-{s['sid'][:6]}-{j}")
                        t.sid = s["sid"]
                        tabs.append(t)
            self.open_all(tabs)
            on_victim = [t for t in tabs if self.replica_of(t) == vid]
            elsewhere = [t for t in tabs if self.replica_of(t) != vid]

            box = []
            delay = random.uniform(0, 0.003)
            self.loop.submit(lambda: self.cl.api(victim).logout_user(sub, timeout=10), box.append)
            time.sleep(delay)
            t_kill = T.now()
            self.cl.signal(vid, signal.SIGKILL)
            self.loop.run_until(lambda: box, 15)
            first = box[0] if box else None
            retried = None
            if not (isinstance(first, T.Response) and first.status == 200):
                # The backend's call failed with the replica: it tries again through HAProxy.
                for _ in range(5):
                    retried = self.call(lambda: self.cl.api(0).logout_user(sub))
                    if retried.status == 200:
                        break
                    self.loop.run_for(0.3)
            deadline = t_kill + a.logout_within_s
            self.loop.run_until(lambda: all(t.is_closed for t in tabs), max(0.0, deadline - T.now()))
            still = [t.label for t in tabs if t.authenticated]
            late = [(t.label, t.close_code, bool(t.event("logout", t.sid))) for t in elsewhere
                    if not self.logged_out_by(t, t.sid, deadline)]
            victims_open = [t.label for t in on_victim if not t.is_closed]
            worst = max((t.closed_at - t_kill for t in elsewhere if t.closed_at), default=0)
            # Ended for good: validate, and tabs coming back with the old token.
            problems = []
            for s in sessions:
                r = self.call(lambda s=s: self.cl.api(0).validate(s["token"]))
                if r.status != 401 or r.code != "session_revoked":
                    problems.append(f"validate {s['sid'][:6]}: {r}")
            for n in (0, 1 + victim % 3):
                problems += self.refused_old_token(sessions[0]["token"], n)
            how = ("answered 200" if retried is None else
                   f"the call failed ({first.status if isinstance(first, T.Response) else first}), "
                   f"retried through HAProxy: {retried.status} {retried.body[:40]!r}")
            results.append({"round": rnd + 1, "victim": vid, "tabs": len(tabs),
                            "on_victim": len(on_victim), "kill_after_ms": round(delay * 1000, 2), "first_call": how, "worst_logout_s": round(worst, 3)})
            v.check(not still and not late and not victims_open,
                    f"kill {rnd + 1}/{a.kill_rounds}: no tab authenticated {a.logout_within_s:.0f} s after kill -9 of {vid} during a logout-all",
                    f"{len(tabs)} tabs, {len(on_victim)} on {vid} (disconnected), {len(elsewhere)} elsewhere told "
                    f"(logout + 4010) within {worst * 1000:.0f} ms of the kill; {vid}'s call: {how}"
                    + (f"; still signed in: {still}" if still else "")
                    + (f"; not told in time: {late[:5]}" if late else "")
                    + (f"; open on {vid}: {victims_open}" if victims_open else ""))
            v.check(not problems, f"kill {rnd + 1}/{a.kill_rounds}: the old token is refused everywhere",
                    "; ".join(problems) if problems else "validate session_revoked; auth 4001 session_revoked; "
                    "resume: ready revoked, logout, 4010 (front and a live replica)")
            for t in tabs:
                t.close("reset")
            t0 = T.now()
            if not self.call(self.cl.restore, timeout=120):
                raise RuntimeError(f"the cluster did not come back after {vid} was killed\n{self.cl.logs_tail()}")
            results[-1]["rejoin_s"] = round(T.now() - t0, 1)
        self.fig["kill"] = results

    # -- SIGSTOP a replica while sessions change --

    def pause(self):
        a, v, cl = self.a, self.v, self.cl
        victim, vid = 2, "hub2"
        names = ["logout", "delete", "logout_user", "extend", "refresh", "untouched"]
        sessions = {name: self.session(1, self.unique(f"pause-{name}")) for name in names}
        tabs = []
        for name, s in sessions.items():
            for n in (1, 2, 3, 0):
                t = self.tab(n, s["token"], f"{name}@{'front' if n == 0 else 'hub%d' % n}")
                t.sid, t.kind = s["sid"], name
                tabs.append(t)
        self.open_all(tabs)
        on_victim = [t for t in tabs if self.replica_of(t) == vid]
        live = [t for t in tabs if self.replica_of(t) != vid]
        repaired_before = cl.api(victim).stats()["cluster"]["repaired"]

        cl.signal(vid, signal.SIGSTOP)
        t_stop = T.now()
        step = a.pause_s / 7
        changes = [
            ("logout", 1, lambda s: cl.api(1).logout(s["token"]), 204),
            ("delete", 3, lambda s: cl.api(3).delete_session(s["sid"]), 204),
            ("logout_user", 1, lambda s: cl.api(1).logout_user(s["sub"]), 200),
            ("extend", 3, lambda s: cl.api(3).extend(s["token"]), 200),
            ("refresh", 1, lambda s: cl.api(1).refresh(s["refresh"]), 200),
        ]
        problems = []
        for i, (name, _, fn, want) in enumerate(changes):
            self.loop.run_until(lambda: False, max(0.0, t_stop + step * (i + 1) - T.now()))
            r = self.call(lambda fn=fn, name=name: fn(sessions[name]))
            if r.status != want:
                problems.append(f"{name}: {r}")
        ended = {"logout", "delete", "logout_user"}
        moved = {"extend", "refresh"}
        # The store's idle expiry of the moved sessions, as any live replica reads it.
        expected_idle = {}
        for name in moved:
            token = sessions[name]["token"]  # still good after the refresh, until it expires
            r = self.call(lambda token=token: cl.api(3).validate(token))
            expected_idle[name] = (r.json() or {}).get("idle_expires_at")
        # The live replicas' tabs heard it all at once.
        self.loop.run_until(lambda: all(t.is_closed for t in live if t.kind in ended), 5)
        live_bad = [t.label for t in live if t.kind in ended and not self.logged_out_by(t, t.sid, T.now())]
        live_bad += [t.label for t in live if t.kind in moved and not t.event("session.extended", t.sid)]
        self.loop.run_until(lambda: False, max(0.0, t_stop + a.pause_s - T.now()))
        victim_early = [t.label for t in on_victim if t.is_closed or t.events]
        cl.signal(vid, signal.SIGCONT)
        t_cont = T.now()

        def converged(t):
            if t.kind in ended:
                return self.logged_out_by(t, t.sid, t_cont + a.converge_s)
            if t.kind in moved:
                e = t.event("session.extended", t.sid)
                return e is not None and e[1]["data"].get("idle_expires_at") == expected_idle[t.kind]
            return True

        self.loop.run_until(lambda: all(converged(t) for t in on_victim), a.converge_s)
        converge_s = max(
            [(t.closed_at if t.kind in ended else t.event("session.extended", t.sid)[0]) - t_cont
             for t in on_victim if t.kind != "untouched" and converged(t)] or [0])
        not_converged = [(t.label, t.close_code, [f["event"] for _, f in t.events]) for t in on_victim if not converged(t)]
        untouched = [t for t in tabs if t.kind == "untouched"]
        wrongly = [t.label for t in untouched if not t.authenticated or t.event("logout")]
        repaired = None
        s2 = self.call(lambda: cl.api(victim).stats())
        if s2:
            repaired = s2["cluster"]["repaired"] - repaired_before
        v.check(not problems and not live_bad, f"pause: the live replicas' tabs heard every change while {vid} was stopped",
                f"{len(live)} tabs on hub1/hub3" + (f"; calls: {problems}" if problems else "")
                + (f"; missed: {live_bad}" if live_bad else ""))
        v.check(not not_converged and not victim_early and not wrongly and (repaired or 0) > 0,
                f"pause: {vid} converged within {a.converge_s:.0f} s of SIGCONT after {a.pause_s:.0f} s stopped",
                f"{len(on_victim)} tabs on {vid}: missed logouts and idle expiries there {converge_s * 1000:.0f} ms after SIGCONT, "
                f"{repaired} sessions repaired from the store, untouched session's tabs still signed in"
                + (f"; not converged: {not_converged}" if not_converged else "")
                + (f"; changed before SIGCONT: {victim_early}" if victim_early else "")
                + (f"; untouched tabs signed out: {wrongly}" if wrongly else ""))
        # Back in the mesh: an event published on hub1 reaches the untouched session's tab on hub2.
        # Right after SIGCONT hub2's peer view is the one from before the stop, and what sat in
        # its socket buffers is read at once; a heartbeat that hub2 hears from each peer (and
        # hub1 from hub2) a heartbeat interval or more after SIGCONT came over a live link.
        fresh = t_cont + HEARTBEAT_S
        mesh = self.loop.run_until(
            lambda: cl.ready(victim) and cl.heard_since(victim, fresh) and cl.heard_since(1, fresh), 20, poll=0.5)
        t_mesh = T.now() - t_cont
        r = self.call(lambda: cl.api(1).publish(f"session:{sessions['untouched']['sid']}", "after-pause", {"n": 1}))
        got = self.loop.run_until(
            lambda: all(t.event("after-pause") for t in untouched if self.replica_of(t) == vid), 5)
        v.check(mesh and r.status == 202 and got, f"pause: {vid} is back in the mesh and gets its peers' events",
                f"ready and heard from its peers {t_mesh:.1f} s after SIGCONT; publish {r.status}; delivered: {got}")
        self.fig["pause"] = {"pause_s": a.pause_s, "tabs": len(tabs), "on_victim": len(on_victim),
                             "converge_s": round(converge_s, 3), "repaired": repaired, "mesh_back_s": round(t_mesh, 1)}
        for t in tabs:
            t.close("reset")

    # -- Redis stopped --

    def redis(self):
        a, v, cl = self.a, self.v, self.cl
        s = self.session(1, self.unique("redis"))
        other = self.session(2, self.unique("redis-refresh"))
        tabs = self.open_all([self.tab(n, s["token"], f"before@{n}") for n in (1, 2, 3, 0)])
        t0 = T.now()
        cl.must("stop", "redis")
        t_down = T.now()
        problems = []
        for n in (1, 2, 3):
            api = cl.api(n)
            checks = [
                ("validate", lambda: api.validate(s["token"]), 503, "store_unavailable"),
                ("refresh", lambda: api.refresh(other["refresh"]), 503, "store_unavailable"),
                ("new session", lambda: api.create_session(self.unique("redis-new")), 503, "store_unavailable"),
                ("logout", lambda: api.logout(s["token"]), 503, "store_unavailable"),
                ("readyz", lambda: T.request(HOST, cl.port(n), "GET", "/readyz"), 503, None),
            ]
            for name, fn, status, code in checks:
                r = self.call(fn)
                if r.status != status or (code and r.code != code):
                    problems.append(f"hub{n} {name}: {r}")
            t = self.tab(n, s["token"], f"during@{n}")
            t.open("auth")
            self.loop.run_until(lambda: t.is_closed, 10)
            codes = [e.get("code") for e in t.errors]
            if not (t.close_code == 4001 and "store_unavailable" in codes and t.ready is None):
                problems.append(f"hub{n} WebSocket auth: close {t.close_code}, errors {codes}, ready {t.ready}")
        front_503 = self.loop.run_until(
            lambda: T.request(HOST, cl.front_port, "GET", "/readyz", timeout=2).status == 503, 15, poll=0.5)
        if not front_503:
            problems.append("HAProxy's front still answered /readyz 200")
        self.loop.run_until(lambda: False, max(0.0, t_down + a.redis_down_s - T.now()))
        signed_out = [t.label for t in tabs if not t.authenticated or t.event("logout")]
        outage_s = T.now() - t_down
        v.check(not problems and not signed_out, f"redis: every replica failed closed with Redis stopped {outage_s:.0f} s",
                "validate, refresh, new session and logout 503 store_unavailable, WebSocket auth error "
                "store_unavailable + 4001, /readyz 503 on every replica and the front; open tabs kept"
                + (f"; wrong: {problems}" if problems else "")
                + (f"; tabs signed out by the outage: {signed_out}" if signed_out else ""))
        cl.must("start", "redis")
        t_up = T.now()
        back = self.loop.run_until(lambda: all(cl.ready(n) for n in (1, 2, 3)), a.converge_s, poll=0.2)
        ready_s = T.now() - t_up
        problems = []
        for n in (1, 2, 3):
            r = self.call(lambda n=n: cl.api(n).validate(s["token"]))
            if r.status != 200:
                problems.append(f"hub{n} validate: {r}")
        r = self.call(lambda: cl.api(3).refresh(other["refresh"]))
        if r.status != 200:
            problems.append(f"refresh: {r}")
        # Every pooled store connection of every replica is fine again, not only the first
        # used: more concurrent writes than a replica has connections (--redis-pool 8).
        burst = [(n, self.unique("redis-burst")) for n in (1, 2, 3) for _ in range(16)]
        made = self.call(lambda: _pool_map(lambda x: cl.api(x[0]).create_session(x[1]), burst, 8), 60)
        refused = [f"hub{n}: {r.status} {r.code}" for (n, _), r in zip(burst, made) if r.status != 201]
        if refused:
            problems.append(f"{len(refused)} of {len(burst)} new sessions refused: {refused[:4]}")
        try:
            fresh = self.open_all([self.tab(n, s["token"], f"after@{n}") for n in (1, 2, 3)])
        except RuntimeError as e:
            problems.append(str(e))
            fresh = []
        front_back = self.loop.run_until(
            lambda: T.request(HOST, cl.front_port, "GET", "/readyz", timeout=2).status == 200, 15, poll=0.5)
        if not front_back:
            problems.append("HAProxy's front did not answer /readyz 200 again within 15 s")
        v.check(back and not problems, f"redis: every replica recovered by itself when Redis came back",
                f"all /readyz 200 {ready_s:.2f} s after Redis answered; validate, refresh, 48 concurrent new "
                f"sessions and WebSocket auth work"
                + (f"; wrong: {problems}" if problems else ""))
        r = self.call(lambda: cl.api(0).logout(s["token"]))
        every = tabs + fresh
        t_lo = T.now()
        told = self.loop.run_until(lambda: all(self.logged_out_by(t, s["sid"], T.now()) for t in every),
                                   a.logout_within_s)
        v.check(r.status == 204 and told, "redis: after the outage a logout reaches every tab",
                f"POST /v1/logout {r.status}; {len(every)} tabs told within {T.now() - t_lo:.2f} s"
                + ("" if told else f"; not told: {[t.label for t in every if not self.logged_out_by(t, s['sid'], T.now())]}"))
        self.fig["redis"] = {"down_s": round(outage_s, 1), "ready_after_s": round(ready_s, 2),
                             "total_s": round(T.now() - t0, 1)}

    # -- a reconnect storm --

    def storm(self):
        a, v, cl = self.a, self.v, self.cl
        per = 5
        nsess = max(1, a.storm_tabs // per)
        subs = [self.unique("storm") for _ in range(nsess)]
        sessions = self.call(lambda: list(_pool_map(lambda sub: cl.api(0).create_session(sub), subs)), 120)
        bad = [r for r in sessions if r.status != 201]
        if bad:
            raise RuntimeError(f"storm sessions: {bad[:3]}")
        sessions = [r.json() for r in sessions]
        storm = Storm(self.loop, cl.front_port)
        for i, s in enumerate(sessions):
            for j in range(per):
                storm.add(s["access_token"], s["session"]["sid"], f"s{i}t{j}")
        t0 = T.now()
        storm.start()
        ok = self.loop.run_until(storm.all_back, 120)
        first_s = T.now() - t0
        if not ok:
            raise RuntimeError(f"storm: the tabs did not all sign in: {storm.summary()}")
        v.note(f"storm: {len(storm.tabs)} tabs signed in through HAProxy in {first_s:.1f} s "
               f"({storm.by_replica()}; refusals {storm.refusals})")
        results = {"tabs": len(storm.tabs), "first_connect_s": round(first_s, 1)}

        def wave(name, disrupt, untouched):
            storm.reset_counts()
            pids = {c: cl.pid(c) for c in ("hub1", "hub2", "hub3")}
            t = T.now()
            box = []
            self.loop.submit(disrupt, box.append)
            # Wait for the disruption to bite (tabs go down), then for every tab to be back.
            self.loop.run_until(lambda: box, 180)
            t_restored = T.now() - t
            if isinstance(box[0], Exception):
                raise box[0]
            bound = t_restored + T.BACKOFF_CAP_S + 15
            back = self.loop.run_until(storm.all_back, max(0.0, t + bound - T.now()))
            took = T.now() - t
            s = storm.summary()
            # Nothing fell over, and the replicas count exactly the tabs connected.
            died = [c for c in untouched if cl.pid(c) != pids[c]]
            died += [c for c in ("hub1", "hub2", "hub3") if not cl.alive(c)]
            counted = None
            if back:
                def count():
                    st = [cl.api(n).stats(timeout=3) for n in (1, 2, 3)]
                    return sum((x or {}).get("connections", {}).get("authenticated", -10**6) for x in st)

                self.loop.run_until(lambda: self.call(count) == len(storm.tabs), 10, poll=0.5)
                counted = self.call(count)
            signed_out = s["signed_out"]
            v.check(back and not died and not signed_out and counted == len(storm.tabs),
                    f"storm ({name}): every tab back within the bound",
                    f"{s['dropped']} tabs dropped at once, all {len(storm.tabs)} back {took:.1f} s after it began "
                    f"(bound {bound:.0f} s: replicas back after {t_restored:.1f} s + the 30 s backoff cap + 15 s); "
                    f"{s['attempts']} reconnect attempts, refusals {s['refusals']}, slowest tab out {s['slowest_out_s']} s, "
                    f"replicas count {counted} authenticated; {storm.by_replica()}"
                    + (f"; not back: {s['not_back'][:5]}" if not back else "")
                    + (f"; died: {died}" if died else "")
                    + (f"; signed out: {signed_out[:5]}" if signed_out else ""))
            results[name] = {"dropped": s["dropped"], "back_s": round(took, 1), "replicas_back_s": round(t_restored, 1),
                             "attempts": s["attempts"], "refusals": s["refusals"], "slowest_out_s": s["slowest_out_s"],
                             "by_replica": storm.by_replica()}
            return s

        wave("restart one", lambda: cl.must("restart", "2"), ["hub1", "hub3"])

        def kill_all():
            # Every tab loses its replica at once. hub1 comes back first and takes the storm
            # alone for a while (as in a rolling start), then the other two.
            for c in ("hub1", "hub2", "hub3"):
                cl.signal(c, signal.SIGKILL)
            time.sleep(0.5)
            cl.must("start", "1")
            time.sleep(a.storm_alone_s)
            cl.must("start", "2")
            cl.must("start", "3")

        s = wave("kill all three", kill_all, [])
        limited = s["refusals"].get(429, 0)
        v.check(limited > 0, "storm: the per-address connect limit turned tabs away, and they came back",
                f"{limited} upgrades answered 429 (--ws-connect-rate-limit {a.connect_limit}/min behind HAProxy), "
                f"{s['refusals']} refusals in all, every tab back")
        storm.stop()
        self.fig["storm"] = results


def _pool_map(fn, items, workers=4):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fn, items))


class Storm:
    """Tabs that reconnect as web-client/sessionhub.js does: after a close other than 4010,
    wait backoff_delay(attempt++) and `resume` with the last version; `ready` resets attempt."""

    def __init__(self, loop, port):
        self.loop, self.port = loop, port
        self.tabs = []
        self.stopping = False
        self.refusals = {}
        self.reset_counts()

    def add(self, token, sid, label):
        t = T.Tab(self.loop, HOST, self.port, ORIGIN, token, label=label)
        t.sid = sid
        t.attempt = 0
        t.down_since = None
        t.signed_out = False
        t.retry = None
        t.on_ready = self._ready
        t.on_close = self._closed
        self.tabs.append(t)

    def reset_counts(self):
        self.dropped = set()
        self.attempts = 0
        self.refusals = {}
        self.slowest = 0.0
        for t in self.tabs:
            t.signed_out = False

    def start(self):
        for t in self.tabs:
            t.down_since = T.now()
            t.open("auth", timeout=20)

    def stop(self):
        self.stopping = True
        for t in self.tabs:
            self.loop.cancel(t.retry)
            t.close("reset")

    def _ready(self, t):
        if t.ready.get("sid") != t.sid or t.ready.get("state") != "active":
            t.signed_out = True
            return
        t.attempt = 0
        if t.down_since is not None:
            self.slowest = max(self.slowest, T.now() - t.down_since)
            t.down_since = None

    def _closed(self, t):
        if self.stopping:
            return
        if t.http_status:
            self.refusals[t.http_status] = self.refusals.get(t.http_status, 0) + 1
        if t.close_code == 4010 or t.event("logout"):
            t.signed_out = True
            return
        if t.down_since is None:
            t.down_since = T.now()
            self.dropped.add(t.label)
        delay = T.backoff_delay(t.attempt)
        t.attempt += 1

        def again(t=t):
            t.retry = None
            self.attempts += 1
            t.open("resume", timeout=20)

        t.retry = self.loop.call_later(delay, again)

    def all_back(self):
        return all(t.authenticated for t in self.tabs)

    def by_replica(self):
        out = {}
        for t in self.tabs:
            if t.authenticated:
                r = t.ready.get("replica")
                out[r] = out.get(r, 0) + 1
        return dict(sorted(out.items()))

    def summary(self):
        return {
            "dropped": len(self.dropped),
            "attempts": self.attempts,
            "refusals": dict(sorted(self.refusals.items())),
            "slowest_out_s": round(self.slowest, 1),
            "signed_out": [t.label for t in self.tabs if t.signed_out],
            "not_back": [(t.label, t.failure, t.http_status) for t in self.tabs if not t.authenticated],
        }


def main():
    a = parse_args()
    v = T.Verdicts("chaos")
    for tool in ("redis-server", "redis-cli", "haproxy", "curl", "setsid", "flock", "timeout"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":")):
            v.check(False, f"{tool} is installed", "scripts/setup.sh installs it")
            return v.summary()
    if not os.access(a.binary, os.X_OK):
        v.check(False, "the hub binary exists", a.binary)
        return v.summary()
    wanted = [s.strip() for s in a.only.split(",") if s.strip()]
    hub_args = ["--login-rate-limit", "0", "--refresh-rate-limit", "0",
                "--ws-connect-rate-limit", str(a.connect_limit)]
    cl = Cluster(a.binary, hub_args)
    started = time.monotonic()
    chaos = None
    try:
        cl.up()
        v.note(f"cluster up on {HOST}:{cl.base}..{cl.base + 10} ({cl.state}), hub {cl.binary}")
        chaos = Chaos(a, cl, v)
        if not chaos.call(lambda: wait_for(cl.whole, 30), 60):
            raise RuntimeError("the replicas never all saw each other\n" + cl.logs_tail())
        for name in wanted:
            t = time.monotonic()
            try:
                getattr(chaos, name)()
            except Exception as e:  # noqa: BLE001 - the reason goes into the verdict
                import traceback

                traceback.print_exc()
                v.check(False, f"{name}: ran to its end", f"{type(e).__name__}: {e}")
            v.note(f"{name} took {time.monotonic() - t:.0f} s")
            if not chaos.call(cl.restore, 120):
                v.check(False, f"{name}: the cluster came back whole afterwards", cl.logs_tail())
                break
    except Exception as e:  # noqa: BLE001
        v.check(False, "the cluster came up", f"{type(e).__name__}: {e}")
    finally:
        if chaos is not None:
            chaos.loop.close()
        rc, out = cl.down()
        if cl.base:
            reports = cl.sanitizer_reports()
            v.check(rc == 0 and not reports, "the cluster went down cleanly with no sanitizer report",
                    f"cluster.sh down {rc}" + (f"; {reports[:6]}" if reports else "") + ("" if rc == 0 else f"\n{out}"))
    took = time.monotonic() - started
    v.note(f"took {took:.0f} s; state dir {cl.state}" + ("" if a.keep else " (removed)"))
    if a.json and chaos is not None:
        chaos.fig["took_s"] = round(took)
        with open(a.json, "w") as f:
            json.dump(chaos.fig, f, indent=1)
    rc = v.summary()
    if rc:
        print(cl.logs_tail(15), flush=True)
    if not a.keep:
        import shutil

        shutil.rmtree(cl.state, ignore_errors=True)
    return rc


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.3)
    return False


if __name__ == "__main__":
    sys.exit(main())
