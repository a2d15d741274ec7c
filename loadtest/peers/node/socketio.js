// The Socket.IO 4 peer: rooms as channels, an HTTP publish route; with --redis, the Redis
// adapter (what a Socket.IO cluster uses).
//   node socketio.js --port 9002 [--redis redis://127.0.0.1:6379] [--ping-interval MS]
// A client joins a room by emitting `join` with the channel's name; POST /pub/<channel>
// emits `msg` with the parsed JSON body to that room. Wire frames: loadtest/peers/README.md.
'use strict';
const http = require('http');
const { Server } = require('socket.io');
const { option, publishRoute } = require('./common');

const port = Number(option('port', '9002'));
const redisUrl = option('redis', '');
// Socket.IO's default is 25 s; the smoke test asks for less to see the `2` → `3` exchange.
const pingInterval = Number(option('ping-interval', '25000'));

// Socket.IO takes the /socket.io/ requests and hands every other one to this handler.
let route = null;
const server = http.createServer((req, res) => {
  if (!route(req, res)) res.writeHead(404).end();
});
// Publishers keep their connections between publishes, as with nginx (75 s there).
server.keepAliveTimeout = 75000;
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  pingInterval,
  cors: { origin: true },
});
route = publishRoute((channel, text, parsed) => io.to(channel).emit('msg', parsed));
io.on('connection', (socket) => {
  socket.on('join', (channel) => {
    if (typeof channel === 'string') socket.join(channel);
  });
});

async function main() {
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  server.listen(port, '127.0.0.1', () =>
    console.log(`socket.io peer on 127.0.0.1:${port}${redisUrl ? ' (redis adapter)' : ''}`));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
