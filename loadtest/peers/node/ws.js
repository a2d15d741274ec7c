// The plain `ws` peer: what a user could write by hand. WebSocket subscribers on
// /sub/<channel> get each published body as one text frame; POST /pub/<channel> fans out.
//   node ws.js --port 9001 [--ping-interval MS]
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');
const { option, publishRoute, decodeChannel } = require('./common');

const port = Number(option('port', '9001'));
const pingInterval = Number(option('ping-interval', '0')); // ms; 0: no keep-alive pings
const channels = new Map(); // name -> Set of sockets

const route = publishRoute((channel, text) => {
  const subs = channels.get(channel);
  if (subs) for (const ws of subs) ws.send(text);
});
const server = http.createServer((req, res) => {
  if (!route(req, res)) res.writeHead(404).end();
});
// Publishers keep their connections between publishes, as with nginx (75 s there).
server.keepAliveTimeout = 75000;
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  const m = /^\/sub\/([^/?]+)$/.exec(req.url || '');
  const channel = m && decodeChannel(m[1]);
  if (!channel) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.isAlive = true;
    ws.on('pong', () => {
      ws.isAlive = true;
    });
    if (!channels.has(channel)) channels.set(channel, new Set());
    channels.get(channel).add(ws);
    ws.on('close', () => {
      const subs = channels.get(channel);
      subs.delete(ws);
      if (subs.size === 0) channels.delete(channel);
    });
    ws.on('error', () => {});
  });
});
// Keep-alive as the ws README shows it: each interval, a socket that did not answer the
// previous ping is ended and every other one pinged.
if (pingInterval > 0) {
  setInterval(() => {
    for (const ws of wss.clients) {
      if (!ws.isAlive) {
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }, pingInterval).unref();
}
server.listen(port, '127.0.0.1', () => console.log(`ws peer on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
