// Unit tests for forward.js against a loopback server: what is signed and sent, and
// which answers throw (so that Google retries) and which do not. The Functions emulator
// never retries, so this is where the failure policy is checked.
// Run: `node --test` in integrations/firebase/functions/.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');

const { RetryableError, forwardDeletion, messageId, projectIdOf, sign, signingKey } = require('../forward');

const SECRET = `whsec_${crypto.randomBytes(32).toString('base64')}`;
const quiet = { log() {}, error() {} };

// A loopback server whose answer each test sets; records what it received.
async function withServer(answer, fn) {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(req, res, body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/firebase/user-deleted`;
  try {
    return await fn(url, received);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function reply(status, body = '') {
  return (req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };
}

// The v1 UserRecord hides tenantId from JSON.stringify (its toJSON leaves it out).
function userRecord(fields) {
  const { tenantId, ...rest } = fields;
  const user = { ...rest, tenantId };
  Object.defineProperty(user, 'toJSON', { value: () => rest, enumerable: false });
  return user;
}

const context = { eventId: 'evt-1', resource: { name: 'projects/demo-zah' } };

function verify(secret, headers, body) {
  const key = signingKey(secret);
  const expected = sign(key, headers['webhook-id'], headers['webhook-timestamp'], body);
  return headers['webhook-signature'] === expected;
}

test('the signature matches the Standard Webhooks reference vector', () => {
  // The example of the Standard Webhooks / Svix libraries' own tests.
  const key = signingKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  assert.equal(
    sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', '{"test": 2432232314}'),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
});

test('sends the signed body, with the tenant read from user.tenantId', async () => {
  await withServer(reply(200, '{"status":"deleted"}'), async (url, received) => {
    const user = userRecord({ uid: 'u1', email: 'tina@example.com', tenantId: 'acme-x1' });
    assert.equal(JSON.stringify(user).includes('acme-x1'), false, 'the fixture hides tenantId like the SDK');
    const out = await forwardDeletion({ user, context, url, secret: SECRET, log: quiet });
    assert.equal(out.status, 200);
    assert.deepEqual(out.answer, { status: 'deleted' });
    assert.equal(received.length, 1);
    const [r] = received;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/firebase/user-deleted');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), { project: 'demo-zah', tenant: 'acme-x1', uid: 'u1', email: 'tina@example.com' });
    assert.match(r.headers['webhook-id'], /^msg_[0-9a-f]{32}$/);
    assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000) < 5);
    assert.match(r.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
    assert.ok(verify(SECRET, r.headers, r.body));
  });
});

test('no tenant and no email become null', async () => {
  await withServer(reply(200, '{"status":"absent"}'), async (url, received) => {
    await forwardDeletion({ user: userRecord({ uid: 'u2' }), context, url, secret: SECRET, log: quiet });
    assert.deepEqual(JSON.parse(received[0].body), { project: 'demo-zah', tenant: null, uid: 'u2', email: null });
  });
});

test('a retried event keeps its webhook-id; another event gets another', () => {
  assert.equal(messageId('evt-1'), messageId('evt-1'));
  assert.notEqual(messageId('evt-1'), messageId('evt-2'));
  assert.match(messageId(undefined), /^msg_[0-9a-f]{32}$/);
  assert.notEqual(messageId(undefined), messageId(undefined));
});

test('the project comes from the event, else from GCLOUD_PROJECT', () => {
  assert.equal(projectIdOf({ resource: { name: 'projects/p-1' } }, {}), 'p-1');
  assert.equal(projectIdOf({ resource: { name: 'projects/p-1/tenants/t' } }, {}), 'p-1');
  assert.equal(projectIdOf({}, { GCLOUD_PROJECT: 'p-2' }), 'p-2');
  assert.throws(() => projectIdOf({}, {}), RetryableError);
});

for (const status of [500, 502, 503, 429, 401, 404, 302]) {
  test(`HTTP ${status} throws, so that Google retries`, async () => {
    const answer = status === 302
      ? (req, res) => { res.writeHead(302, { location: 'http://127.0.0.1:9/' }); res.end(); }
      : reply(status, '{"error":"x"}');
    await withServer(answer, async (url, received) => {
      await assert.rejects(
        forwardDeletion({ user: userRecord({ uid: 'u3' }), context, url, secret: SECRET, log: quiet }),
        (err) => err instanceof RetryableError && err.message.includes(`HTTP ${status}`),
      );
      assert.equal(received.length, 1, 'one attempt per invocation; redirects are not followed');
    });
  });
}

test('HTTP 400 is logged and dropped: the same body can never succeed', async () => {
  const errors = [];
  await withServer(reply(400, '{"error":"Bad Request: project does not match FIREBASE_PROJECT_ID"}'), async (url) => {
    const out = await forwardDeletion({
      user: userRecord({ uid: 'u4' }), context, url, secret: SECRET,
      log: { log() {}, error: (m) => errors.push(m) },
    });
    assert.equal(out.status, 400);
  });
  assert.equal(errors.length, 1);
  assert.match(errors[0], /not retried.*HTTP 400.*FIREBASE_PROJECT_ID/);
});

test('a network error throws', async () => {
  // A port nothing listens on: bind one, close it.
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  await assert.rejects(
    forwardDeletion({ user: userRecord({ uid: 'u5' }), context, url: `http://127.0.0.1:${port}/x`, secret: SECRET, log: quiet }),
    (err) => err instanceof RetryableError && /ECONNREFUSED/.test(err.message),
  );
});

test('no answer within the timeout throws', async () => {
  await withServer(() => {}, async (url) => {
    const started = Date.now();
    await assert.rejects(
      forwardDeletion({ user: userRecord({ uid: 'u6' }), context, url, secret: SECRET, timeoutMs: 200, log: quiet }),
      (err) => err instanceof RetryableError && /TimeoutError/.test(err.message),
    );
    assert.ok(Date.now() - started < 2000);
  });
});

test('a misconfigured forwarder throws without sending anything', async () => {
  await withServer(reply(200, '{}'), async (url, received) => {
    const user = userRecord({ uid: 'u7' });
    for (const [u, s, re] of [
      [undefined, SECRET, /FORWARD_URL is not set/],
      ['not a url', SECRET, /FORWARD_URL is not a URL/],
      ['ftp://127.0.0.1/x', SECRET, /not an http\(s\) URL/],
      [url, undefined, /FORWARD_SECRET is not set/],
      [url, 'whsec_not base64!', /not a whsec_ secret/],
    ]) {
      await assert.rejects(forwardDeletion({ user, context, url: u, secret: s, log: quiet }), re);
    }
    assert.equal(received.length, 0);
  });
});
