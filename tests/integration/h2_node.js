// Node's http2 module as an independent HTTP/2 client: a static file byte for byte, a PHP page,
// a POST streamed to PHP, and many requests at once on one connection.
// Usage: node h2_node.js PORT SHA256_OF_BIG_BIN [tls]. Exit status 0 when all is as expected.
// With `tls`: over TLS, HTTP/2 chosen by ALPN (the test's self-signed certificate is accepted),
// and PHP must see HTTPS=on.
'use strict';
const http2 = require('http2');
const crypto = require('crypto');
const assert = require('assert');

const [port, bigSha, mode] = process.argv.slice(2);
const tls = mode === 'tls';
const client = tls
  ? http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, ALPNProtocols: ['h2'] })
  : http2.connect(`http://127.0.0.1:${port}`);
client.on('error', (e) => { console.error('session error', e); process.exit(1); });

function request(headers, body) {
  return new Promise((resolve, reject) => {
    const req = client.request(headers);
    const chunks = [];
    let head;
    req.on('response', (h) => { head = h; });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve({ head, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body) req.end(body); else req.end();
  });
}

(async () => {
  const big = await request({ ':path': '/big.bin' });
  assert.strictEqual(big.head[':status'], 200);
  assert.strictEqual(crypto.createHash('sha256').update(big.body).digest('hex'), bigSha);

  const php = await request({ ':path': '/h2headers.php', 'x-node': 'yes' });
  assert.strictEqual(php.head[':status'], 200);
  const seen = JSON.parse(php.body.toString());
  assert.strictEqual(seen.SERVER_PROTOCOL, 'HTTP/2.0');
  assert.strictEqual(seen.HTTP_X_NODE, 'yes');
  assert.strictEqual(seen.HTTPS || '', tls ? 'on' : '');
  if (tls) assert.strictEqual(client.alpnProtocol, 'h2');

  const payload = crypto.randomBytes(3 << 20);
  const post = await request({ ':path': '/body.php', ':method': 'POST' }, payload);
  const got = JSON.parse(post.body.toString());
  assert.strictEqual(got.length, payload.length);
  assert.strictEqual(got.sha256, crypto.createHash('sha256').update(payload).digest('hex'));

  const many = await Promise.all(Array.from({ length: 50 }, () => request({ ':path': '/a.txt' })));
  for (const r of many) {
    assert.strictEqual(r.head[':status'], 200);
    assert.strictEqual(r.body.toString(), 'first\n');
  }
  console.log('node http2: all good');
  client.close();
})().catch((e) => { console.error(e); process.exit(1); });
