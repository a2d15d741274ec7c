// What both Node peers share: options, reading a POST body, the /pub/<channel> route.
'use strict';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// The channel of a /sub/ or /pub/ path, or null when it is not valid percent-encoding.
function decodeChannel(segment) {
  try {
    return decodeURIComponent(segment) || null;
  } catch {
    return null;
  }
}

// POST /pub/<channel> with a JSON body → publish(channel, text, parsed); 202. Anything else
// that is not handled elsewhere: 404.
function publishRoute(publish) {
  return (req, res) => {
    const m = /^\/pub\/([^/?]+)$/.exec(req.url || '');
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (!m || req.method !== 'POST') return false;
    const channel = decodeChannel(m[1]);
    if (!channel) {
      res.writeHead(400).end('bad channel\n');
      return true;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        res.writeHead(400).end('bad json\n');
        return;
      }
      publish(channel, text, parsed);
      res.writeHead(202).end();
    });
    return true;
  };
}

module.exports = { option, publishRoute, decodeChannel };
