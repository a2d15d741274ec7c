// sessionhub.js — the browser side of sessionhub (PROTOCOL §6).
//
// One object per page keeps this tab in step with the browser's one login session. On load
// it refreshes through the HttpOnly `shub_rt` cookie, keeps the short-lived access token in
// memory only, and holds one WebSocket to the hub: `auth` (or `resume`) when signed in (with
// `authInUpgrade`, the token offered with the upgrade instead of `auth`), `watch` when not,
// so a login in any tab of this browser reaches it. The hub's frames become a few events for
// the page. Every decision (backoff, throttling, the state machine,
// when to refresh) is a small pure function up top, exported as `_internals` so Node's test
// runner checks them without a browser; the rest is wiring to fetch, WebSocket and the DOM.
// The refresh token never touches JavaScript: it lives in the cookie, and we never ask for
// `token_delivery: "body"`.

// ---- Pure logic ---------------------------------------------------------------------------

// Hub event name → the name given to on(); anything else is an application event ("event").
const EVENT_NAMES = {
  login: "login",
  logout: "logout",
  "session.extended": "extended",
  "session.expiring": "expiring",
  "token.refreshed": "refreshed",
};
function eventName(hubEvent) {
  return Object.prototype.hasOwnProperty.call(EVENT_NAMES, hubEvent) ? EVENT_NAMES[hubEvent] : "event";
}

// Reconnect delay: capped exponential backoff with full jitter, uniform in [0, min(cap, base·2^n)).
// Full jitter spreads the tabs of every browser apart after a hub restart.
function backoffDelay(attempt, random = Math.random, base = 500, cap = 30000) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * ceiling);
}

// Throttle: may something last done at `lastAt` be done again at `now`?
function throttleAllows(lastAt, now, intervalMs) {
  return lastAt == null || now - lastAt >= intervalMs;
}

// A token is refreshed a quarter of its life before expiry, but at most 60 s before.
function refreshMargin(lifetimeMs) {
  return Math.min(60000, lifetimeMs / 4);
}
// When to refresh `tok` ({expiresAt, lifetime} in local ms), and whether that time has come.
function refreshDue(tok) {
  return tok.expiresAt - refreshMargin(tok.lifetime);
}
function needsRefresh(tok, now) {
  return !tok || now >= refreshDue(tok);
}

// The state machine. `status` is "connecting" until the first answer, "authenticated" or
// "anonymous" once known, "offline" while there is no live link to the hub (the session
// fields are kept then, for the resume).
const SIGNED_OUT = { sid: null, sub: null, version: null, expires_at: null, idle_expires_at: null };
const INITIAL_STATE = { status: "connecting", ...SIGNED_OUT };

function sessionFields(s, prev) {
  const same = prev.sid === s.sid && prev.version != null;
  return {
    sid: s.sid,
    sub: s.sub,
    version: same && s.version != null ? Math.max(prev.version, s.version) : (s.version ?? null),
    expires_at: s.expires_at ?? null,
    idle_expires_at: s.idle_expires_at ?? null,
  };
}

function reduce(state, action) {
  switch (action.type) {
    case "connecting":
    case "offline":
      return { ...state, status: action.type };
    case "session": // a token response (login, refresh, another tab's): signed in
      return { status: "authenticated", ...sessionFields(action.session, state) };
    case "ready": {
      const f = action.frame;
      if (!f.sid) return { status: "anonymous", ...SIGNED_OUT };
      if (f.state === "active") return { status: "authenticated", ...sessionFields(f, state) };
      return state; // revoked: the logout event that follows ends it
    }
    case "event": {
      const { event, data = {}, version } = action.frame;
      if (!state.sid || data.sid !== state.sid) return state;
      if (event === "logout") return { status: "anonymous", ...SIGNED_OUT };
      if (version != null && state.version != null && version < state.version) return state; // stale
      const next = { ...state, version: version ?? state.version };
      if (data.idle_expires_at != null && event.startsWith("session.")) {
        next.idle_expires_at = data.idle_expires_at;
      }
      return next;
    }
    case "signed-out":
      return { status: "anonymous", ...SIGNED_OUT };
    default:
      return state;
  }
}

function sameState(a, b) {
  return Object.keys(INITIAL_STATE).every((k) => a[k] === b[k]);
}

export const _internals = {
  EVENT_NAMES,
  eventName,
  backoffDelay,
  throttleAllows,
  refreshMargin,
  refreshDue,
  needsRefresh,
  INITIAL_STATE,
  reduce,
  sameState,
};

// ---- The live connection ------------------------------------------------------------------

const ACTIVITY_INTERVAL_MS = 15000; // one activity frame per tab per 15 s; the hub coalesces more
const ACTIVITY_EVENTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"];
const LOGIN_ADOPT_DELAYS_MS = [150, 600, 2000]; // let the login response's cookie land first
const ANONYMOUS_RECHECK_MS = 10000; // a tab coming into view re-checks for a session this often
const hasDOM = typeof window !== "undefined" && typeof document !== "undefined";
// The hub this script came from, the default for connect() (classic <script> only).
const scriptHub = hasDOM && document.currentScript ? document.currentScript.src : "";

function connect(options = {}) {
  const hub = new URL(options.hub || scriptHub || location.href).origin;
  const wsUrl = hub.replace(/^http/, "ws") + "/v1/ws";
  const locks = typeof navigator !== "undefined" && navigator.locks;
  const channel = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("sessionhub " + hub) : null;
  const listeners = {};
  let state = INITIAL_STATE;
  let tok = null; // {token, expiresAt, lifetime, sid}; memory only, shared with same-origin tabs
  let ws = null; // the current socket; frames of older ones are ignored
  let mode = ""; // "" → "auth" (auth/resume sent) → "authed"; or "watch"
  let sentToken = ""; // the token the socket authenticated with
  let readySid = null; // the session this tab last had a `ready` for: reconnects resume it
  let opening = false;
  let closed = false;
  let attempt = 0;
  let retryTimer = 0;
  let refreshTimer = 0;
  let refreshFailures = 0;
  let refreshing = null;
  let adopting = false;
  let loggingIn = false;
  let lastActivity = null;
  let lastRecheck = null;

  // -- events and state
  function emit(name, data) {
    for (const fn of listeners[name] || []) {
      try {
        fn(data);
      } catch (e) {
        setTimeout(() => { throw e; }); // a listener's bug must not break the others
      }
    }
  }
  function dispatch(action) {
    const next = reduce(state, action);
    if (sameState(next, state)) return;
    state = next;
    emit("state", { ...state });
  }

  // -- HTTP
  async function post(path, { token, body } = {}) {
    const headers = {};
    if (token) headers.authorization = "Bearer " + token;
    if (body) headers["content-type"] = "application/json";
    return fetch(hub + path, {
      method: "POST",
      credentials: "include",
      headers,
      body: body ? JSON.stringify(body) : undefined,
    });
  }
  async function failure(res) {
    const p = await res.json().catch(() => ({}));
    const err = new Error("sessionhub: " + (p.title || p.code || res.status));
    err.status = res.status;
    err.code = p.code;
    return err;
  }
  function notSignedIn() {
    const err = new Error("sessionhub: not signed in");
    err.code = "not_authenticated";
    return err;
  }

  // -- tokens: set from a token response, shared with this origin's other tabs
  function fromResponse(body) {
    const lifetime = body.expires_in * 1000;
    return { token: body.access_token, expiresAt: Date.now() + lifetime, lifetime, session: body.session };
  }
  function adopt(t, share) {
    const prev = state;
    tok = { token: t.token, expiresAt: t.expiresAt, lifetime: t.lifetime, sid: t.session.sid };
    refreshFailures = 0;
    if (share && channel) channel.postMessage({ t: "token", tok: t });
    dispatch({ type: "session", session: t.session });
    scheduleRefresh();
    if (ws && ws.readyState === 1) {
      if (mode === "watch") join(); // the hub allows auth after watch
      else if (mode === "authed" && readySid !== tok.sid) restart(true);
      else if (mode === "authed") sendToken();
      // mode "auth": the `ready` handler sends the newer token
    }
    if (prev.sid !== tok.sid && prev.status !== "connecting") emit("login", { sid: tok.sid, sub: state.sub });
  }
  // One refresh at a time in this tab; one per origin under a Web Lock. A tab that waited for
  // the lock takes the token another tab just shared instead of rotating again. Across
  // origins the hub's reuse grace hands racing tabs the same pair.
  function refresh() {
    if (refreshing) return refreshing;
    const before = tok;
    const run = async () => {
      if (tok && tok !== before && !needsRefresh(tok, Date.now())) return tok;
      const res = await post("/v1/refresh");
      if (res.status === 401) {
        if (state.sid) signOut({ sid: state.sid, reason: "refresh_failed" });
        return null;
      }
      if (!res.ok) throw await failure(res);
      adopt(fromResponse(await res.json()), true);
      return tok;
    };
    refreshing = (locks ? locks.request("sessionhub-refresh " + hub, run) : run()).finally(() => {
      refreshing = null;
    });
    return refreshing;
  }
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (!tok || closed) return;
    refreshTimer = setTimeout(() => {
      refresh().catch(() => {
        refreshTimer = setTimeout(scheduleRefresh, backoffDelay(refreshFailures++, Math.random, 1000));
      });
    }, Math.max(0, refreshDue(tok) - Date.now()));
  }
  function signOut(data) {
    if (!state.sid) return;
    const sid = state.sid;
    tok = null;
    readySid = null;
    clearTimeout(refreshTimer);
    dispatch({ type: "signed-out" });
    const info = { sid, reason: data.reason || "session_ended", scope: data.scope || "session" };
    if (channel) channel.postMessage({ t: "logout", ...info });
    if (ws && mode !== "watch") restart(false); // back as a watcher at once
    emit("logout", info);
  }

  // -- the socket
  function send(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }
  function sendToken() {
    if (tok.token === sentToken) return;
    sentToken = tok.token;
    send({ type: "token", token: tok.token });
  }
  // A reconnect to a session this tab already had a `ready` for resumes it (a frame only).
  const resuming = () => tok && readySid === tok.sid && state.version != null;
  function join() {
    if (tok) {
      send(resuming() ? { type: "resume", token: tok.token, version: state.version } : { type: "auth", token: tok.token });
      sentToken = tok.token;
      mode = "auth";
    } else {
      send({ type: "watch" });
      mode = "watch";
    }
  }
  async function open(tryRefresh = true) {
    clearTimeout(retryTimer);
    if (closed || ws || opening) return;
    if (typeof navigator !== "undefined" && navigator.onLine === false) return dispatch({ type: "offline" });
    opening = true;
    try {
      // No token yet (load, after being away): the cookie may hold a session.
      if (tryRefresh && needsRefresh(tok, Date.now())) await refresh().catch(() => {});
    } finally {
      opening = false;
    }
    if (closed || ws) return;
    // authInUpgrade: the token rides with the upgrade as `sessionhub.auth.<token>`, which is
    // the auth frame sent early (the hub answers `ready` right after the 101).
    const early = !!(options.authInUpgrade && tok && !resuming());
    const sock = new WebSocket(wsUrl, early ? ["sessionhub.v1", "sessionhub.auth." + tok.token] : "sessionhub.v1");
    ws = sock;
    mode = early ? "auth" : "";
    if (early) sentToken = tok.token;
    sock.onopen = () => ws === sock && !early && join();
    sock.onmessage = (m) => ws === sock && onFrame(m.data);
    sock.onclose = (e) => ws === sock && onClose(e.code);
  }
  function drop() {
    const old = ws;
    ws = null;
    mode = "";
    if (old) old.close(1000);
  }
  function restart(tryRefresh) {
    drop();
    attempt = 0;
    open(tryRefresh);
  }
  function onClose(code) {
    ws = null;
    mode = "";
    if (closed) return;
    if (code === 4010) {
      // Session ended (its logout event may have been missed): watch again at once.
      if (state.sid) signOut({ sid: state.sid });
      return open(false);
    }
    if (code === 4001 && tok) tok = { ...tok, expiresAt: 0 }; // refused token: refresh first
    dispatch({ type: "offline" });
    retryTimer = setTimeout(open, backoffDelay(attempt++));
  }
  function onFrame(text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    if (f.type === "ready") {
      attempt = 0;
      if (!f.sid && tok) return; // the answer to a watch overtaken by a login: auth's ready follows
      if (f.sid && f.state === "active") {
        mode = "authed";
        readySid = f.sid;
        if (tok && tok.sid === f.sid) sendToken(); // a refresh landed while authenticating
      }
      dispatch({ type: "ready", frame: f });
    } else if (f.type === "event") {
      onEvent(f);
    }
  }
  function onEvent(f) {
    const name = eventName(f.event);
    const data = f.data || {};
    if (name === "event") return emit("event", { event: f.event, data, id: f.id, at: f.at });
    if (name === "login") {
      if (!state.sid) adoptLogin();
      return;
    }
    if (!state.sid || data.sid !== state.sid) return;
    if (name === "logout") return signOut(data);
    dispatch({ type: "event", frame: f });
    emit(name, data);
  }
  // Another tab logged in: refresh through the cookie its login set, then authenticate.
  async function adoptLogin() {
    if (adopting || loggingIn) return;
    adopting = true;
    try {
      for (const delay of LOGIN_ADOPT_DELAYS_MS) {
        await new Promise((r) => setTimeout(r, delay));
        if (closed || state.sid || loggingIn) return;
        if (await refresh().catch(() => null)) return;
      }
    } finally {
      adopting = false;
    }
  }

  async function getToken({ forceRefresh = false } = {}) {
    if (!tok) throw notSignedIn();
    if (forceRefresh || needsRefresh(tok, Date.now())) {
      if (!(await refresh())) throw notSignedIn();
    }
    return tok.token;
  }

  // -- the page: activity, visibility, network
  function onActivity() {
    const now = Date.now();
    if (mode !== "authed" || !throttleAllows(lastActivity, now, ACTIVITY_INTERVAL_MS)) return;
    lastActivity = now;
    send({ type: "activity" });
  }
  function onVisibility() {
    if (document.visibilityState !== "visible") return;
    onActivity();
    const now = Date.now();
    if (!ws && !opening) {
      attempt = 0;
      open();
    } else if (tok && needsRefresh(tok, now)) {
      refresh().catch(() => {});
    } else if (!state.sid && mode === "watch" && throttleAllows(lastRecheck, now, ANONYMOUS_RECHECK_MS)) {
      lastRecheck = now; // a login event missed while the device cookie was being set
      refresh().catch(() => {});
    }
  }
  function onOffline() {
    drop();
    clearTimeout(retryTimer);
    dispatch({ type: "offline" });
  }
  function onOnline() {
    attempt = 0;
    open();
  }
  if (channel) {
    channel.onmessage = ({ data: m }) => {
      if (m.t === "token") {
        const mine = tok && tok.sid === m.tok.session.sid;
        if ((mine && m.tok.expiresAt > tok.expiresAt) || !state.sid) adopt(m.tok, false);
      } else if (m.t === "logout" && m.sid === state.sid) {
        signOut(m);
      }
    };
  }
  if (hasDOM) {
    for (const type of ACTIVITY_EVENTS) addEventListener(type, onActivity, { capture: true, passive: true });
    document.addEventListener("scroll", onActivity, { capture: true, passive: true });
    document.addEventListener("visibilitychange", onVisibility);
    addEventListener("offline", onOffline);
    addEventListener("online", onOnline);
  }
  open();

  // -- the API of PROTOCOL §6
  return {
    get state() {
      return { ...state };
    },
    on(name, fn) {
      (listeners[name] ||= []).push(fn);
      return () => {
        listeners[name] = listeners[name].filter((f) => f !== fn);
      };
    },
    async login(username, password) {
      loggingIn = true;
      try {
        const res = await post("/v1/login", { body: { username, password } });
        if (!res.ok) throw await failure(res);
        adopt(fromResponse(await res.json()), true);
        return { ...state };
      } finally {
        loggingIn = false;
      }
    },
    getToken, // a valid access token; `{forceRefresh: true}` rotates even a fresh one
    async extend() {
      const res = await post("/v1/extend", { token: await getToken() });
      if (!res.ok) throw await failure(res);
      const body = await res.json();
      const data = { sid: state.sid, idle_expires_at: body.idle_expires_at };
      dispatch({ type: "event", frame: { event: "session.extended", version: body.version, data } });
      return body;
    },
    async logout({ scope = "session" } = {}) {
      const token = tok ? await getToken().catch(() => null) : null;
      const res = await post("/v1/logout", { token, body: { scope } }); // the cookie if no token
      if (!res.ok && res.status !== 401) throw await failure(res);
      signOut({ reason: "user_logout", scope });
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(refreshTimer);
      drop();
      if (channel) channel.close();
      if (hasDOM) {
        for (const type of ACTIVITY_EVENTS) removeEventListener(type, onActivity, { capture: true });
        document.removeEventListener("scroll", onActivity, { capture: true });
        document.removeEventListener("visibilitychange", onVisibility);
        removeEventListener("offline", onOffline);
        removeEventListener("online", onOnline);
      }
    },
  };
}

const SessionHub = { connect, version: "1" };
export default SessionHub;
