'use strict';
// The relay against a fake upstream. The relay runs as its own process, as on Cloud
// Run, so that what it writes to stderr can be checked for leaked request bodies.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');

const { SERVER, startRelay } = require('../support/relay-process');
const UNAVAILABLE =
  '{"error":{"code":503,"status":"UNAVAILABLE","message":"Sign-up is temporarily unavailable. Please try again shortly."}}';
// Put in every body sent: it must never show up in the relay's logs.
const MARKER = 'eyJhbGciOiJSUzI1NiJ9.SECRET-TOKEN-MARKER';

// A body no JSON round trip would leave alone: non-ASCII (2-, 3- and 4-byte UTF-8),
// odd whitespace, escapes, key order, and one byte that is not UTF-8 at all.
const ODD_BODY = Buffer.concat([
  Buffer.from(
    `{ "data" :\t{"jwt":"${MARKER}",\r\n  "note":"Zoë 日本 🎉 \\u00e9\u2028", "z":1, "a":1.50 } }\n\n`,
    'utf8',
  ),
  Buffer.from([0xff]),
]);

// Records every request; `answer(req, res, body)` decides what to send back.
async function startUpstream(answer) {
  const seen = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method, url: req.url, headers: req.headers, body });
    answer(req, res, body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    base: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function post(url, body, headers = { 'content-type': 'application/json' }) {
  const res = await fetch(url, { method: 'POST', body, headers });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    allow: res.headers.get('allow'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

function withRelay(upstreamAnswer, { env = {}, basePath = '' } = {}) {
  const ctx = {};
  test.before(async () => {
    ctx.upstream = await startUpstream(upstreamAnswer);
    ctx.relay = await startRelay({ TARGET_URL: ctx.upstream.base + basePath, ...env });
  });
  test.after(async () => {
    await ctx.relay.stop();
    await ctx.upstream.close();
  });
  return ctx;
}

test.describe('forwarding to an answering upstream', () => {
  const ANSWER = Buffer.from(
    '{"userRecord":{"customClaims":{"zuplo_consumer_id":"csmr_Zoë"},  "updateMask":"customClaims"}}\n',
  );
  const ctx = withRelay((req, res) => {
    const status = Number(new URL(req.url, 'http://upstream').searchParams.get('status') || 200);
    const bodies = {
      200: ANSWER,
      401: Buffer.from('{"error":{"code":401,"message":"Unauthenticated","status":"UNAUTHENTICATED"}}'),
      503: Buffer.from(UNAVAILABLE.replace('shortly', 'soon')),
    };
    res.writeHead(status, {
      'content-type': status === 200 ? 'application/json; charset=utf-8' : 'application/problem+json',
      'x-upstream-only': 'not passed on',
    });
    res.end(bodies[status]);
  });

  test('body bytes and path go upstream verbatim; status, body and content-type come back verbatim', async () => {
    const res = await post(`${ctx.relay.url}/firebase/before-create`, ODD_BODY);
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'application/json; charset=utf-8');
    assert.deepEqual(res.body, ANSWER);
    const sent = ctx.upstream.seen.at(-1);
    assert.equal(sent.method, 'POST');
    assert.equal(sent.url, '/firebase/before-create');
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.deepEqual(sent.body, ODD_BODY);
  });

  test('one relay serves both routes (path and query preserved)', async () => {
    await post(`${ctx.relay.url}/firebase/before-sign-in?x=1`, ODD_BODY);
    assert.equal(ctx.upstream.seen.at(-1).url, '/firebase/before-sign-in?x=1');
    assert.deepEqual(ctx.upstream.seen.at(-1).body, ODD_BODY);
  });

  test('content-type is passed through as sent, or not at all', async () => {
    await post(`${ctx.relay.url}/firebase/before-create`, ODD_BODY, {
      'content-type': 'application/json; charset=UTF-8',
    });
    assert.equal(ctx.upstream.seen.at(-1).headers['content-type'], 'application/json; charset=UTF-8');
    await post(`${ctx.relay.url}/firebase/before-create`, ODD_BODY, {});
    assert.equal(ctx.upstream.seen.at(-1).headers['content-type'], undefined);
  });

  for (const status of [401, 503]) {
    test(`an upstream ${status} comes back verbatim`, async () => {
      const res = await post(`${ctx.relay.url}/firebase/before-create?status=${status}`, ODD_BODY);
      assert.equal(res.status, status);
      assert.equal(res.contentType, 'application/problem+json');
      const expected =
        status === 401
          ? '{"error":{"code":401,"message":"Unauthenticated","status":"UNAUTHENTICATED"}}'
          : UNAVAILABLE.replace('shortly', 'soon');
      assert.equal(res.body.toString('utf8'), expected);
    });
  }

  test('anything but POST: 405 with Allow: POST, upstream not called', async () => {
    const before = ctx.upstream.seen.length;
    for (const method of ['GET', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await fetch(`${ctx.relay.url}/firebase/before-create`, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal((await res.json()).error.code, 405);
    }
    assert.equal(ctx.upstream.seen.length, before);
  });

  test('a body over 256 KiB: 413, upstream not called; exactly 256 KiB is forwarded', async () => {
    const before = ctx.upstream.seen.length;
    const over = await post(`${ctx.relay.url}/firebase/before-create`, Buffer.alloc(256 * 1024 + 1, 0x20));
    assert.equal(over.status, 413);
    assert.equal(JSON.parse(over.body).error.code, 413);
    // Chunked, so no content-length announces the size in advance.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        c.close();
      },
    });
    const chunked = await fetch(`${ctx.relay.url}/firebase/before-create`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    });
    assert.equal(chunked.status, 413);
    assert.equal(ctx.upstream.seen.length, before);
    const limit = Buffer.alloc(256 * 1024, 0x20);
    const atLimit = await post(`${ctx.relay.url}/firebase/before-create`, limit);
    assert.equal(atLimit.status, 200);
    assert.deepEqual(ctx.upstream.seen.at(-1).body, limit);
  });

  test('an absolute-form request line cannot pick the upstream host', async () => {
    const port = Number(new URL(ctx.relay.url).port);
    const reply = await new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(
          'POST http://attacker.invalid/firebase/before-create HTTP/1.1\r\n' +
            'Host: attacker.invalid\r\nContent-Type: application/json\r\n' +
            'Content-Length: 2\r\nConnection: close\r\n\r\n{}',
        );
      });
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(ctx.upstream.seen.at(-1).url, '/firebase/before-create');
  });

  test('nothing logged while the upstream answers', () => {
    assert.doesNotMatch(ctx.relay.logs(), /SECRET-TOKEN-MARKER|ERROR/);
  });
});

test.describe('TARGET_URL with a base path', () => {
  const ctx = withRelay((req, res) => res.end('{}'), { basePath: '/lambda-url/fn/' });

  test('the request path is appended to it', async () => {
    await post(`${ctx.relay.url}/firebase/before-create`, ODD_BODY);
    assert.equal(ctx.upstream.seen.at(-1).url, '/lambda-url/fn/firebase/before-create');
  });
});

test.describe('upstream hanging past RELAY_TIMEOUT_MS', () => {
  const TIMEOUT_MS = 400;
  // Headers, then silence: the timeout must also cover reading the answer.
  const ctx = withRelay(
    (req, res) => {
      if (req.url.endsWith('/half')) res.writeHead(200, { 'content-type': 'application/json' }).write('{');
    },
    { env: { RELAY_TIMEOUT_MS: String(TIMEOUT_MS) } },
  );

  for (const suffix of ['', '/half']) {
    // Fails instead of hanging if the relay ever stops timing out.
    const name = `503 UNAVAILABLE within the timeout plus a little${suffix && ' (after the headers)'}`;
    test(name, { timeout: TIMEOUT_MS + 3000 }, async () => {
      const started = performance.now();
      const res = await post(`${ctx.relay.url}/firebase/before-create${suffix}`, ODD_BODY);
      const elapsed = performance.now() - started;
      assert.equal(res.status, 503);
      assert.equal(res.contentType, 'application/json');
      assert.equal(res.body.toString(), UNAVAILABLE);
      assert.ok(elapsed >= TIMEOUT_MS - 5, `answered after ${elapsed} ms, before the timeout`);
      assert.ok(elapsed < TIMEOUT_MS + 1000, `answered after ${elapsed} ms`);
    });
  }

  test('one log line per failure, without the body', async () => {
    const lines = ctx.relay.logs().trim().split('\n').filter((l) => l.includes('"ERROR"'));
    assert.equal(lines.length, 2);
    assert.match(lines[0], /no answer within 400 ms/);
    assert.equal(JSON.parse(lines[0]).path, '/firebase/before-create');
    assert.doesNotMatch(ctx.relay.logs(), /SECRET-TOKEN-MARKER/);
  });
});

test.describe('upstream down', () => {
  test('503 UNAVAILABLE, one log line without the body', { timeout: 10000 }, async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));

    const relay = await startRelay({ TARGET_URL: `http://127.0.0.1:${port}` });
    try {
      const started = performance.now();
      const res = await post(`${relay.url}/firebase/before-create`, ODD_BODY);
      assert.equal(res.status, 503);
      assert.equal(res.body.toString(), UNAVAILABLE);
      assert.ok(performance.now() - started < 2000);
      const lines = relay.logs().trim().split('\n').filter((l) => l.includes('"ERROR"'));
      assert.equal(lines.length, 1);
      assert.match(lines[0], /ECONNREFUSED/);
      assert.doesNotMatch(relay.logs(), /SECRET-TOKEN-MARKER/);
    } finally {
      await relay.stop();
    }
  });
});

test.describe('configuration', () => {
  test('RELAY_TIMEOUT_MS defaults to 6500', async () => {
    const relay = await startRelay({ TARGET_URL: 'https://abc.lambda-url.us-east-1.on.aws' });
    await relay.stop();
    assert.match(relay.logs(), /timeout 6500 ms/);
  });

  for (const [name, env, message] of [
    ['no TARGET_URL', {}, /TARGET_URL is required/],
    ['a TARGET_URL that is not a URL', { TARGET_URL: 'abc.lambda-url' }, /not a URL/],
    ['a bad RELAY_TIMEOUT_MS', { TARGET_URL: 'https://a.test', RELAY_TIMEOUT_MS: '6.5s' }, /RELAY_TIMEOUT_MS/],
  ]) {
    test(`refuses to start with ${name}`, async () => {
      await assert.rejects(startRelay(env), message);
    });
  }
});

test.describe('as a Cloud Functions (Functions Framework) handler', () => {
  test('forwards req.rawBody when the framework has already read the stream', async () => {
    const upstream = await startUpstream((req, res) => res.end('{}'));
    const saved = process.env.TARGET_URL;
    process.env.TARGET_URL = upstream.base;
    const { relay } = require(SERVER);
    if (saved === undefined) delete process.env.TARGET_URL;
    else process.env.TARGET_URL = saved;

    // What the framework's body-parser leaves behind: the stream consumed, a parsed
    // req.body that no longer has the original bytes, and req.rawBody that does.
    const host = http.createServer(async (req, res) => {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      req.rawBody = Buffer.concat(chunks);
      req.body = { data: { jwt: MARKER } };
      req.originalUrl = req.url;
      relay(req, res);
    });
    await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
    try {
      const res = await post(`http://127.0.0.1:${host.address().port}/firebase/before-sign-in`, ODD_BODY);
      assert.equal(res.status, 200);
      assert.equal(upstream.seen.at(-1).url, '/firebase/before-sign-in');
      assert.deepEqual(upstream.seen.at(-1).body, ODD_BODY);
    } finally {
      host.closeAllConnections();
      await new Promise((resolve) => host.close(resolve));
      await upstream.close();
    }
  });
});
