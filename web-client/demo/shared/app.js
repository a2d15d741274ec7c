// app.js — the part both demo micro-apps share: it draws one SessionHub connection's live
// state into the page (status, user, session id, idle countdown), wires the login form, the
// logout button and the "Still there?" dialog, and keeps a short log of what the hub said.
// Each app page calls mount(hub) with the object SessionHub.connect() returned; the look
// comes from the app's own stylesheet. `window.demo` is for the browser tests.

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = { connecting: "Connecting…", authenticated: "Signed in", anonymous: "Signed out", offline: "Offline" };
const now = () => performance.timeOrigin + performance.now(); // sub-ms, comparable across tabs

function clock(ms) {
  if (ms == null) return "—";
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function mount(hub) {
  const log = [];
  window.demo = { hub, log };

  function note(name, text) {
    log.push({ name, at: now(), text });
    const li = document.createElement("li");
    li.innerHTML = `<time></time> <b></b> <span></span>`;
    li.querySelector("time").textContent = new Date().toLocaleTimeString();
    li.querySelector("b").textContent = name;
    li.querySelector("span").textContent = text;
    $("log").prepend(li);
    while ($("log").children.length > 8) $("log").lastChild.remove();
  }

  // -- the session, drawn from hub.state on every change
  function render(s) {
    document.body.dataset.status = s.status;
    const signedIn = !!s.sid;
    $("status").textContent = STATUS_TEXT[s.status] || s.status;
    $("status").dataset.status = s.status;
    $("user").textContent = s.sub || "—";
    $("sid").textContent = s.sid ? s.sid.slice(0, 12) + "…" : "—";
    $("sid").title = s.sid || "";
    $("version").textContent = s.version ?? "—";
    $("login-form").hidden = signedIn || s.status === "connecting";
    $("signed-in").hidden = !signedIn;
    tickIdle();
  }
  function tickIdle() {
    const at = hub.state.idle_expires_at;
    $("idle").textContent = at ? clock(at - Date.now()) : "—";
    $("idle").dataset.at = at ?? "";
    if (dialog.open) $("dialog-countdown").textContent = clock((at ?? Date.now()) - Date.now());
  }
  setInterval(tickIdle, 250);

  // -- "Still there?": shown on session.expiring, gone on an extension from any tab
  const dialog = $("expiry-dialog");
  function showDialog() {
    if (!dialog.open) dialog.showModal();
    tickIdle();
  }
  function hideDialog() {
    if (dialog.open) dialog.close();
  }
  $("keep-btn").addEventListener("click", async () => {
    $("keep-btn").disabled = true;
    try {
      await hub.extend();
      hideDialog();
    } catch (e) {
      note("error", e.message);
    } finally {
      $("keep-btn").disabled = false;
    }
  });
  dialog.addEventListener("cancel", (e) => e.preventDefault()); // Esc is not an answer

  // -- login and logout
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    log.push({ name: "login-clicked", at: now() });
    $("login-error").textContent = "";
    $("login-btn").disabled = true;
    try {
      await hub.login($("username").value, $("password").value);
      $("password").value = "";
    } catch (err) {
      $("login-error").textContent = err.status === 401 ? "Wrong user name or password." : err.message;
    } finally {
      $("login-btn").disabled = false;
    }
  });
  $("logout-btn").addEventListener("click", async () => {
    log.push({ name: "logout-clicked", at: now() });
    try {
      await hub.logout({ scope: "session" });
    } catch (err) {
      note("error", err.message);
    }
  });

  // -- what the hub says, as it happens
  hub.on("state", render);
  hub.on("login", (d) => note("login", `${d.sub} signed in`));
  hub.on("logout", (d) => {
    hideDialog();
    note("logout", d.reason);
  });
  hub.on("extended", (d) => {
    hideDialog();
    note("extended", `idle until ${new Date(d.idle_expires_at).toLocaleTimeString()}`);
  });
  hub.on("expiring", (d) => {
    showDialog();
    note("expiring", `in ${d.warn_before_s} s`);
  });
  hub.on("refreshed", () => note("refreshed", "new access token"));
  hub.on("event", (e) => note(e.event, JSON.stringify(e.data)));
  const off = hub.on("state", (s) => {
    if (s.status === "connecting") return;
    off();
    note("load", s.sid ? `session found (${s.sub})` : "no session: watching for a login");
  });
  render(hub.state);
}
