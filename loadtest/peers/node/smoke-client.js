// Checks a running peer against the wire contract shubload speaks (loadtest/peers/README.md),
// with the plain `ws` client: for socketio it speaks the Engine.IO / Socket.IO frames by hand,
// as shubload does, not socket.io-client.
//
//   node smoke-client.js --url http://127.0.0.1:P --kind nchan|ws|socketio
//        [--subs 3] [--channels a,b] [--rate 0] [--seconds 0] [--min-pings 0]
//
// Connects --subs subscribers to every channel of --channels, then publishes to the first
// channel only: once (--rate 0), or --rate bodies a second for --seconds. Every subscriber of
// the first channel must get every body exactly once, "t" intact and in order; those of the
// other channels must get nothing; no connection may fail or close early; each subscriber
// must have answered at least --min-pings server pings (Engine.IO's "2" for socketio,
// WebSocket pings for nchan and ws). Prints one JSON line; exit
// status 0 when every check held, 1 otherwise. Bounded: it gives up after --deadline seconds.
'use strict';
const http = require('http');
const WebSocket = require('ws');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const base = new URL(option('url', 'http://127.0.0.1:9001'));
const kind = option('kind', 'ws');
const subsPerChannel = Number(option('subs', '3'));
const channels = option('channels', 'a,b').split(',');
const rate = Number(option('rate', '0'));
const seconds = Number(option('seconds', '0'));
const minPings = Number(option('min-pings', '0'));
const deadlineS = Number(option('deadline', '60'));
const settleMs = Number(option('settle-ms', '500'));
const connectBatch = 100;

if (!['nchan', 'ws', 'socketio'].includes(kind)) {
  console.error(`unknown --kind ${kind}`);
  process.exit(2);
}

const errors = [];
const fail = (msg) => {
  if (errors.length < 20) errors.push(msg);
};
const hardStop = setTimeout(() => finish('deadline passed'), deadlineS * 1000);

const subscribers = []; // { ws, channel, got: [bodies], pings, subscribed, closed }
const published = []; // the bodies as sent, in order (all to channels[0])
let ending = false;

function wsUrl() {
  const proto = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${base.host}`;
}

// One subscriber; resolves once it is subscribed (for socketio: once its join is sent).
function subscribe(channel, index) {
  return new Promise((resolve) => {
    const path =
      kind === 'socketio' ? '/socket.io/?EIO=4&transport=websocket' : `/sub/${encodeURIComponent(channel)}`;
    const s = { channel, got: [], pings: 0, subscribed: false, closed: false };
    const ws = new WebSocket(wsUrl() + path, { perMessageDeflate: false });
    s.ws = ws;
    subscribers.push(s);
    const done = () => {
      if (!s.subscribed) {
        s.subscribed = true;
        resolve();
      }
    };
    ws.on('open', () => {
      if (kind !== 'socketio') done();
    });
    // nchan's and the ws peer's keep-alive pings (the client answers them itself).
    ws.on('ping', () => {
      s.pings++;
    });
    ws.on('message', (data, isBinary) => {
      const text = data.toString('utf8');
      if (isBinary) fail(`${channel}#${index}: a binary frame`);
      if (kind !== 'socketio') {
        s.got.push(text);
        return;
      }
      if (text === '2') {
        s.pings++;
        ws.send('3');
      } else if (text.startsWith('0{')) {
        try {
          const open = JSON.parse(text.slice(1));
          if (typeof open.sid !== 'string') fail(`${channel}#${index}: open packet without sid`);
        } catch {
          fail(`${channel}#${index}: bad open packet ${text.slice(0, 80)}`);
        }
        ws.send('40');
      } else if (text.startsWith('40')) {
        try {
          if (typeof JSON.parse(text.slice(2)).sid !== 'string') fail(`${channel}#${index}: 40 without sid`);
        } catch {
          fail(`${channel}#${index}: bad connect answer ${text.slice(0, 80)}`);
        }
        ws.send(`42${JSON.stringify(['join', channel])}`);
        done();
      } else if (text.startsWith('42')) {
        s.got.push(text);
      } else {
        fail(`${channel}#${index}: unexpected frame ${text.slice(0, 80)}`);
      }
    });
    ws.on('error', (e) => {
      fail(`${channel}#${index}: ${e.message}`);
      done();
    });
    ws.on('close', (code) => {
      s.closed = true;
      if (!ending) fail(`${channel}#${index}: closed early (${code})`);
      done();
    });
  });
}

function post(channel, body) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method: 'POST',
        path: `/pub/${encodeURIComponent(channel)}`,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        agent: keepAlive,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => {
      fail(`POST /pub/${channel}: ${e.message}`);
      resolve(0);
    });
    req.end(body);
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

// What a subscriber of the published channel should hold: the bodies, in order.
function checkDelivered(s, i) {
  const where = `${s.channel}#${i}`;
  if (s.got.length !== published.length) {
    fail(`${where}: got ${s.got.length} of ${published.length} bodies`);
    return;
  }
  s.got.forEach((frame, k) => {
    const body = published[k];
    const sentT = JSON.parse(body).t;
    if (kind === 'socketio') {
      let ev;
      try {
        ev = JSON.parse(frame.slice(2));
      } catch {
        fail(`${where}: not JSON after 42: ${frame.slice(0, 80)}`);
        return;
      }
      if (!Array.isArray(ev) || ev.length !== 2 || ev[0] !== 'msg') {
        fail(`${where}: not 42["msg",{...}]: ${frame.slice(0, 80)}`);
      } else if (JSON.stringify(ev[1]) !== body) {
        fail(`${where}: body changed: ${JSON.stringify(ev[1]).slice(0, 80)}`);
      } else if (ev[1].t !== sentT) {
        fail(`${where}: "t" changed`);
      }
    } else if (frame !== body) {
      fail(`${where}: frame is not the body as posted: ${frame.slice(0, 80)}`);
    } else if (JSON.parse(frame).t !== sentT) {
      fail(`${where}: "t" changed`);
    }
  });
}

let finished = false;
function finish(reason) {
  if (finished) return;
  finished = true;
  clearTimeout(hardStop);
  if (reason) fail(reason);
  ending = true;
  const target = subscribers.filter((s) => s.channel === channels[0]);
  const others = subscribers.filter((s) => s.channel !== channels[0]);
  if (!reason) {
    target.forEach((s, i) => checkDelivered(s, i));
    others.forEach((s, i) => {
      if (s.got.length) fail(`${s.channel}#${i}: got ${s.got.length} frames meant for ${channels[0]}`);
    });
    if (minPings > 0) {
      const short = subscribers.filter((s) => s.pings < minPings).length;
      if (short) fail(`${short} subscribers answered fewer than ${minPings} pings`);
    }
  }
  const delivered = target.reduce((n, s) => n + s.got.length, 0);
  const result = {
    kind,
    ok: errors.length === 0,
    subscribers: subscribers.length,
    published: published.length,
    delivered,
    expected: published.length * target.length,
    stray: others.reduce((n, s) => n + s.got.length, 0),
    pings: subscribers.reduce((n, s) => n + s.pings, 0),
    errors,
  };
  console.log(JSON.stringify(result));
  for (const s of subscribers) {
    try {
      s.ws.terminate();
    } catch {}
  }
  keepAlive.destroy();
  setTimeout(() => process.exit(result.ok ? 0 : 1), 50);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  // Subscribe, a batch at a time.
  const all = [];
  for (const c of channels) for (let i = 0; i < subsPerChannel; i++) all.push([c, i]);
  for (let k = 0; k < all.length && !finished; k += connectBatch) {
    await Promise.all(all.slice(k, k + connectBatch).map(([c, i]) => subscribe(c, i)));
  }
  if (finished) return;
  if (errors.length) return finish();
  // Joins are not acknowledged (socketio), nor subscriptions confirmed past the upgrade: let
  // them land before the first publish.
  await sleep(settleMs);

  const target = subscribers.filter((s) => s.channel === channels[0]);
  const total = rate > 0 ? Math.max(1, Math.round(rate * seconds)) : 1;
  const t0 = Date.now();
  for (let seq = 1; seq <= total && !finished; seq++) {
    const due = t0 + ((seq - 1) * 1000) / (rate > 0 ? rate : 1);
    if (due > Date.now()) await sleep(due - Date.now());
    const body = JSON.stringify({ t: Date.now() * 1000 + (seq % 1000), seq, pad: 'xx' });
    published.push(body);
    const status = await post(channels[0], body);
    if (status < 200 || status > 299) {
      fail(`POST /pub/${channels[0]} answered ${status}`);
      published.pop();
    }
  }
  // Every body to every subscriber of the first channel, within 10 s of the last publish.
  const want = published.length;
  for (let i = 0; i < 200 && !finished; i++) {
    if (target.every((s) => s.got.length >= want)) break;
    await sleep(50);
  }
  // Then a little longer, so that a stray or duplicate frame would show; for pings, until
  // each subscriber has answered enough of them (bounded by --deadline).
  await sleep(500);
  for (let i = 0; i < 600 && !finished && minPings > 0; i++) {
    if (subscribers.every((s) => s.pings >= minPings)) break;
    await sleep(50);
  }
  finish();
}

main().catch((e) => finish(`crashed: ${e.stack || e}`));
