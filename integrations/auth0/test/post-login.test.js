'use strict';
// The Action against a loopback HTTP server that checks what it is sent: the Standard
// Webhooks signature (recomputed here with node:crypto from the raw key bytes, not from
// the Action's code), the webhook-id and webhook-timestamp headers, and the exact body.
// The server then answers as each test configures it.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');

const { onExecutePostLogin } = require('../post-login');
const { makeEvent, makeApi, captureConsole } = require('../support/auth0-mocks');

const KEY = crypto.randomBytes(32);
const SECRET = `whsec_${KEY.toString('base64')}`;
const OTHER_SECRET = `whsec_${crypto.randomBytes(32).toString('base64')}`;
const CONSUMER_ID = 'csmr_0123456789abcdefghij';
const DENY_MESSAGE = 'API access could not be set up. Please try again.';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Everything the Action wrote or said, and every signature it sent: checked at the end.
const everythingSaid = [];
const signaturesSeen = [];

// ---- the loopback "function" ----------------------------------------------------------

// Verifies a request the way the function should (Standard Webhooks v1), independently
// of the Action's code: the key is the raw bytes the secret was made from.
function verify(headers, raw) {
  const problems = [];
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (headers['content-type'] !== 'application/json') problems.push(`content-type ${headers['content-type']}`);
  if (typeof id !== 'string' || !id.startsWith('msg_') || !UUID.test(id.slice(4))) problems.push(`webhook-id ${id}`);
  if (typeof ts !== 'string' || !/^[0-9]+$/.test(ts) || Math.abs(Number(ts) - Date.now() / 1000) > 5) {
    problems.push(`webhook-timestamp ${ts}`);
  }
  if (typeof sig !== 'string' || !sig.startsWith('v1,')) {
    problems.push('webhook-signature is not v1,<base64>');
  } else {
    signaturesSeen.push(sig.slice(3));
    const expected = crypto
      .createHmac('sha256', KEY)
      .update(Buffer.from(`${id}.${ts}.`, 'utf8'))
      .update(raw)
      .digest();
    const got = Buffer.from(sig.slice(3), 'base64');
    if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) problems.push('bad signature');
    if (sig.includes(' ')) problems.push('more than one signature');
  }
  return problems;
}

const hook = {
  server: null,
  url: null,
  requests: [],
  hanging: [],
  // (request) => { status, body, headers } | 'hang' (no answer) | 'partial' (headers, half a body)
  reply: null,
};

function defaultReply(req) {
  if (req.problems.length) return { status: 401, body: '{"error":"invalid signature"}' };
  return { status: 200, body: JSON.stringify({ consumer_id: CONSUMER_ID }) };
}

test.before(async () => {
  hook.server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const rec = { method: req.method, url: req.url, headers: req.headers, raw, problems: verify(req.headers, raw) };
    hook.requests.push(rec);
    const reply = (hook.reply || defaultReply)(rec);
    if (reply === 'hang' || reply === 'partial') {
      if (reply === 'partial') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"consumer_id":');
      }
      hook.hanging.push(res);
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers || {}) });
    res.end(reply.body);
  });
  await new Promise((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${hook.server.address().port}/auth0/post-login`;
});

test.after(() => {
  for (const res of hook.hanging) res.destroy();
  hook.server.closeAllConnections();
  hook.server.close();
});

test.beforeEach(() => {
  hook.requests = [];
  hook.reply = null;
});

// A port with nothing listening on it.
async function closedPort() {
  const s = http.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

function secrets(extra = {}) {
  return { HOOK_URL: hook.url, HOOK_SECRET: SECRET, ...extra };
}

// Runs the Action as Auth0 would; it must never throw.
async function run(event) {
  const api = makeApi(event);
  const started = performance.now();
  const [returned, lines] = await captureConsole(() => onExecutePostLogin(event, api));
  const ms = performance.now() - started;
  everythingSaid.push(...lines, ...api.calls.deny);
  assertNoLeak([...lines, ...api.calls.deny]);
  return { api, calls: api.calls, lines, returned, ms };
}

function assertNoLeak(texts) {
  const secretsToHide = [SECRET, SECRET.slice(6), OTHER_SECRET, OTHER_SECRET.slice(6), ...signaturesSeen];
  for (const text of texts) {
    for (const s of secretsToHide) assert.ok(!text.includes(s), `leaked a secret or signature: ${text}`);
    assert.doesNotMatch(text, /v1,[A-Za-z0-9+/]{8}|whsec_[A-Za-z0-9+/]{8}|j\+smith@example\.com/, `leaked signing material or the email: ${text}`);
  }
}

function assertProvisioned(r, id = CONSUMER_ID, claim = 'zuplo_consumer_id') {
  assert.deepEqual(r.calls.appMetadata, [['zuplo_consumer_id', id]]);
  assert.deepEqual(r.calls.idTokenClaims, [[claim, id]]);
  assert.deepEqual(r.calls.accessTokenClaims, [[claim, id]]);
  assert.deepEqual(r.calls.deny, []);
}

function assertLetThrough(r) {
  assert.deepEqual(r.calls.deny, []);
  assert.deepEqual(r.calls.appMetadata, []);
  assert.deepEqual(r.calls.idTokenClaims, []);
  assert.deepEqual(r.calls.accessTokenClaims, []);
}

function assertDenied(r) {
  assert.deepEqual(r.calls.deny, [DENY_MESSAGE]);
  assert.equal(r.returned, r.api, 'return api.access.deny(...)');
  assert.deepEqual(r.calls.appMetadata, []);
  assert.deepEqual(r.calls.idTokenClaims, []);
  assert.deepEqual(r.calls.accessTokenClaims, []);
}

// ---- first and later logins ------------------------------------------------------------

test('first login: one signed POST with the exact body; app_metadata and both claims set', async () => {
  const r = await run(makeEvent({ secrets: secrets() }));
  assert.equal(hook.requests.length, 1);
  const req = hook.requests[0];
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/auth0/post-login');
  assert.deepEqual(req.problems, []);
  assert.equal(
    req.raw.toString('utf8'),
    JSON.stringify({
      user_id: 'auth0|5f7c8ec7c33c6c004bbafe82',
      email: 'j+smith@example.com',
      email_verified: true,
      name: 'j+smith@example.com',
      connection: 'Username-Password-Authentication',
      tenant: 'dev-zuplo-hooks',
    }),
  );
  assertProvisioned(r);
  assert.deepEqual(r.lines, []);
});

test('a second login with app_metadata.zuplo_consumer_id: claims only, no HTTP call', async () => {
  const event = makeEvent({ user: { app_metadata: { zuplo_consumer_id: CONSUMER_ID } }, secrets: secrets() });
  const r = await run(event);
  assert.equal(hook.requests.length, 0);
  assert.deepEqual(r.calls.appMetadata, []);
  assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', CONSUMER_ID]]);
  assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', CONSUMER_ID]]);
  assert.deepEqual(r.calls.deny, []);
  assert.deepEqual(r.lines, []);
});

test('a refresh-token exchange of a provisioned user makes no HTTP call either', async () => {
  const event = makeEvent({ user: { app_metadata: { zuplo_consumer_id: CONSUMER_ID } }, secrets: secrets() });
  event.transaction.protocol = 'oauth2-refresh-token';
  const r = await run(event);
  assert.equal(hook.requests.length, 0);
  assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', CONSUMER_ID]]);
});

for (const [form, apiConsumer] of [
  ['a string', 'csmr_fromzuploguide000000'],
  ['an object with an id', { id: 'csmr_fromzuploguide000000', name: 'jsmith-consumer' }],
]) {
  test(`app_metadata.api_consumer (Zuplo's guide) as ${form}: claims only, no call, app_metadata untouched`, async () => {
    const event = makeEvent({ user: { app_metadata: { api_consumer: apiConsumer } }, secrets: secrets() });
    const r = await run(event);
    assert.equal(hook.requests.length, 0);
    assert.deepEqual(r.calls.appMetadata, []);
    assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', 'csmr_fromzuploguide000000']]);
    assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', 'csmr_fromzuploguide000000']]);
    assert.deepEqual(r.calls.deny, []);
  });
}

test('zuplo_consumer_id wins over api_consumer when both are present', async () => {
  const event = makeEvent({
    user: { app_metadata: { zuplo_consumer_id: CONSUMER_ID, api_consumer: { id: 'csmr_other' } } },
    secrets: secrets(),
  });
  const r = await run(event);
  assert.equal(hook.requests.length, 0);
  assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', CONSUMER_ID]]);
});

for (const [what, appMetadata] of [
  ['an empty zuplo_consumer_id', { zuplo_consumer_id: '' }],
  ['a non-string zuplo_consumer_id', { zuplo_consumer_id: 42 }],
  ['an empty api_consumer string', { api_consumer: '' }],
  ['an api_consumer object without an id', { api_consumer: { name: 'x' } }],
  ['an api_consumer object with an empty id', { api_consumer: { id: '' } }],
  ['unrelated app_metadata', { plan: 'pro' }],
]) {
  test(`${what} does not count as provisioned: the function is called`, async () => {
    const r = await run(makeEvent({ user: { app_metadata: appMetadata }, secrets: secrets() }));
    assert.equal(hook.requests.length, 1);
    assert.deepEqual(hook.requests[0].problems, []);
    assertProvisioned(r);
  });
}

test('a user with no email and no name (e.g. some social connections): nulls, email_verified false', async () => {
  const user = {
    email: undefined,
    email_verified: undefined,
    name: undefined,
    user_id: 'github|1234567',
    identities: [{ connection: 'github', isSocial: true, provider: 'github', user_id: '1234567', profileData: {} }],
  };
  const event = makeEvent({ user, secrets: secrets() });
  assert.ok(!('email' in event.user) && !('name' in event.user));
  event.connection = { id: 'con_gh', name: 'github', strategy: 'github', metadata: {} };
  const r = await run(event);
  assert.equal(hook.requests.length, 1);
  assert.deepEqual(hook.requests[0].problems, []);
  assert.equal(
    hook.requests[0].raw.toString('utf8'),
    '{"user_id":"github|1234567","email":null,"email_verified":false,"name":null,"connection":"github","tenant":"dev-zuplo-hooks"}',
  );
  assertProvisioned(r);
});

test('email_verified is true only when it is exactly true', async () => {
  await run(makeEvent({ user: { email_verified: 'true' }, secrets: secrets() }));
  assert.equal(JSON.parse(hook.requests[0].raw).email_verified, false);
});

test('a non-ASCII name: the signature covers the UTF-8 bytes of the body', async () => {
  const r = await run(makeEvent({ user: { name: 'José Ünïcødé 😀' }, secrets: secrets() }));
  assert.equal(hook.requests.length, 1);
  assert.deepEqual(hook.requests[0].problems, []);
  assert.equal(JSON.parse(hook.requests[0].raw).name, 'José Ünïcødé 😀');
  assertProvisioned(r);
});

test('each call has its own webhook-id', async () => {
  await run(makeEvent({ secrets: secrets() }));
  await run(makeEvent({ secrets: secrets() }));
  assert.equal(hook.requests.length, 2);
  assert.notEqual(hook.requests[0].headers['webhook-id'], hook.requests[1].headers['webhook-id']);
});

test('CONSUMER_CLAIM names the claims; the app_metadata key stays zuplo_consumer_id', async () => {
  const claim = 'https://example.com/zuplo_consumer_id';
  const r = await run(makeEvent({ secrets: secrets({ CONSUMER_CLAIM: claim }) }));
  assertProvisioned(r, CONSUMER_ID, claim);
  const again = await run(
    makeEvent({ user: { app_metadata: { zuplo_consumer_id: CONSUMER_ID } }, secrets: secrets({ CONSUMER_CLAIM: claim }) }),
  );
  assert.deepEqual(again.calls.idTokenClaims, [[claim, CONSUMER_ID]]);
  assert.deepEqual(again.calls.accessTokenClaims, [[claim, CONSUMER_ID]]);
});

test('HOOK_SECRET given as a bare base64 value or as v1,whsec_… signs the same way', async () => {
  for (const form of [SECRET.slice(6), `v1,${SECRET}`]) {
    hook.requests = [];
    const r = await run(makeEvent({ secrets: secrets({ HOOK_SECRET: form }) }));
    assert.deepEqual(hook.requests[0].problems, []);
    assertProvisioned(r);
  }
});

// ---- the function refuses ---------------------------------------------------------------

for (const mode of ['open', 'closed']) {
  const pass = mode === 'open';
  const outcome = pass ? 'login continues without the claim' : 'login denied';

  test(`FAIL_MODE=${mode}: a wrong HOOK_SECRET (the function answers 401): ${outcome}`, async () => {
    const r = await run(makeEvent({ secrets: secrets({ HOOK_SECRET: OTHER_SECRET, FAIL_MODE: mode }) }));
    assert.equal(hook.requests.length, 1);
    assert.deepEqual(hook.requests[0].problems, ['bad signature']);
    if (pass) assertLetThrough(r);
    else assertDenied(r);
    assert.equal(r.lines.length, 1, r.lines.join('\n'));
    assert.match(r.lines[0], /^log: zuplo-auth-hooks: .*HTTP 401/);
  });

  for (const status of [400, 404, 409, 500, 503, 302]) {
    test(`FAIL_MODE=${mode}: the function answers ${status}: ${outcome}, one log line naming it`, async () => {
      hook.reply = () => ({
        status,
        body: '{"error":"nope"}',
        headers: status === 302 ? { location: 'http://127.0.0.1:9/elsewhere' } : {},
      });
      const r = await run(makeEvent({ secrets: secrets({ FAIL_MODE: mode }) }));
      assert.equal(hook.requests.length, 1, 'one call, no redirect followed');
      if (pass) assertLetThrough(r);
      else assertDenied(r);
      assert.equal(r.lines.length, 1, r.lines.join('\n'));
      assert.match(r.lines[0], new RegExp(`HTTP ${status}`));
      assert.match(r.lines[0], pass ? /FAIL_MODE=open/ : /FAIL_MODE=closed/);
    });
  }

  for (const [what, body] of [
    ['a body that is not JSON', '<html>oops</html>'],
    ['no consumer_id', '{"ok":true}'],
    ['an empty consumer_id', '{"consumer_id":""}'],
    ['a non-string consumer_id', '{"consumer_id":123}'],
    ['a JSON array', '["csmr_x"]'],
  ]) {
    test(`FAIL_MODE=${mode}: 200 with ${what}: ${outcome}`, async () => {
      hook.reply = () => ({ status: 200, body });
      const r = await run(makeEvent({ secrets: secrets({ FAIL_MODE: mode }) }));
      if (pass) assertLetThrough(r);
      else assertDenied(r);
      assert.equal(r.lines.length, 1);
      assert.match(r.lines[0], /HTTP 200/);
    });
  }

  test(`FAIL_MODE=${mode}: connection refused (nothing on the port): ${outcome}`, async () => {
    const port = await closedPort();
    const r = await run(
      makeEvent({ secrets: secrets({ HOOK_URL: `http://127.0.0.1:${port}/auth0/post-login`, FAIL_MODE: mode }) }),
    );
    if (pass) assertLetThrough(r);
    else assertDenied(r);
    assert.equal(r.lines.length, 1, r.lines.join('\n'));
    assert.match(r.lines[0], /TypeError \(ECONNREFUSED\)/);
  });

  test(`FAIL_MODE=${mode}: no answer within TIMEOUT_MS=200: ${outcome}, on time`, async () => {
    hook.reply = () => 'hang';
    const r = await run(makeEvent({ secrets: secrets({ TIMEOUT_MS: '200', FAIL_MODE: mode }) }));
    assert.equal(hook.requests.length, 1);
    assert.ok(r.ms >= 150 && r.ms < 2000, `took ${r.ms} ms`);
    if (pass) assertLetThrough(r);
    else assertDenied(r);
    assert.equal(r.lines.length, 1);
    assert.match(r.lines[0], /TimeoutError/);
  });

  test(`FAIL_MODE=${mode}: headers on time but the body never ends: ${outcome}`, async () => {
    hook.reply = () => 'partial';
    const r = await run(makeEvent({ secrets: secrets({ TIMEOUT_MS: '200', FAIL_MODE: mode }) }));
    assert.ok(r.ms >= 150 && r.ms < 2000, `took ${r.ms} ms`);
    if (pass) assertLetThrough(r);
    else assertDenied(r);
    assert.equal(r.lines.length, 1);
    assert.match(r.lines[0], /TimeoutError/);
  });

  for (const missing of ['HOOK_URL', 'HOOK_SECRET']) {
    for (const [how, value] of [
      ['missing', undefined],
      ['empty', ''],
    ]) {
      test(`FAIL_MODE=${mode}: ${missing} ${how}: no call, console.error names it, ${outcome}`, async () => {
        const s = secrets({ FAIL_MODE: mode });
        if (value === undefined) delete s[missing];
        else s[missing] = value;
        const r = await run(makeEvent({ secrets: s }));
        assert.equal(hook.requests.length, 0);
        if (pass) assertLetThrough(r);
        else assertDenied(r);
        assert.ok(
          r.lines.some((l) => l.startsWith('error: ') && l.includes(`${missing} secret is missing`)),
          r.lines.join('\n'),
        );
      });
    }
  }

  test(`FAIL_MODE=${mode}: a HOOK_SECRET that is not base64, or a HOOK_URL that is not a URL: ${outcome}`, async () => {
    for (const bad of [{ HOOK_SECRET: 'whsec_not base64!' }, { HOOK_URL: 'not a url' }, { HOOK_URL: 'ftp://x/y' }]) {
      hook.requests = [];
      const r = await run(makeEvent({ secrets: secrets({ FAIL_MODE: mode, ...bad }) }));
      assert.equal(hook.requests.length, 0);
      if (pass) assertLetThrough(r);
      else assertDenied(r);
      assert.ok(r.lines.some((l) => l.startsWith('error: ') && l.includes('misconfigured')), r.lines.join('\n'));
      assert.ok(!r.lines.join('\n').includes('not base64!'), 'the bad secret is not echoed');
    }
  });

  test(`FAIL_MODE=${mode}: CONSUMER_CLAIM=scope (which Auth0 refuses): no throw, ${outcome}`, async () => {
    const event = makeEvent({ user: { app_metadata: { zuplo_consumer_id: CONSUMER_ID } }, secrets: secrets({ FAIL_MODE: mode, CONSUMER_CLAIM: 'scope' }) });
    const r = await run(event);
    assert.equal(hook.requests.length, 0);
    assert.deepEqual(r.calls.deny, pass ? [] : [DENY_MESSAGE]);
    assert.equal(r.lines.length, 1);
  });

  test(`FAIL_MODE=${mode}: setAppMetadata throwing (app_metadata not an object) does not escape`, async () => {
    const event = makeEvent({ secrets: secrets({ FAIL_MODE: mode }) });
    event.user.app_metadata = 'corrupt';
    const r = await run(event);
    assert.equal(hook.requests.length, 1);
    assert.deepEqual(r.calls.deny, pass ? [] : [DENY_MESSAGE]);
    assert.match(r.lines[0], /unexpected Error/);
  });
}

test('no FAIL_MODE means open', async () => {
  hook.reply = () => ({ status: 503, body: '{}' });
  const r = await run(makeEvent({ secrets: secrets() }));
  assertLetThrough(r);
  assert.match(r.lines[0], /FAIL_MODE=open/);
});

test('FAIL_MODE is read case-insensitively, spaces trimmed', async () => {
  hook.reply = () => ({ status: 503, body: '{}' });
  const r = await run(makeEvent({ secrets: secrets({ FAIL_MODE: ' Closed ' }) }));
  assertDenied(r);
  assert.equal(r.lines.length, 1);
});

test('an invalid FAIL_MODE: console.error names the value, and failures deny (closed)', async () => {
  hook.reply = () => ({ status: 503, body: '{}' });
  const r = await run(makeEvent({ secrets: secrets({ FAIL_MODE: 'clsoed' }) }));
  assertDenied(r);
  assert.ok(r.lines.some((l) => l.startsWith('error: ') && l.includes('"clsoed"')), r.lines.join('\n'));
});

test('an invalid FAIL_MODE does not get in the way of a successful provisioning', async () => {
  const r = await run(makeEvent({ secrets: secrets({ FAIL_MODE: 'yes' }) }));
  assertProvisioned(r);
  assert.equal(r.lines.length, 1);
  assert.match(r.lines[0], /^error: .*"yes"/);
});

test('an invalid TIMEOUT_MS: console.error, the default is used, provisioning works', async () => {
  for (const bad of ['abc', '0', '-5', '1.5', '60000']) {
    hook.requests = [];
    const r = await run(makeEvent({ secrets: secrets({ TIMEOUT_MS: bad }) }));
    assertProvisioned(r);
    assert.equal(r.lines.length, 1);
    assert.match(r.lines[0], /^error: .*TIMEOUT_MS.*using 7000/);
  }
});

test('no secrets at all: no throw, login continues (the default is open)', async () => {
  const event = makeEvent();
  const r = await run(event);
  assert.equal(hook.requests.length, 0);
  assertLetThrough(r);
});

test('nothing written anywhere contains the secret, a signature or the email', () => {
  assert.ok(signaturesSeen.length > 10, 'the checks above saw signatures');
  assert.ok(everythingSaid.length > 10, 'the checks above captured output');
  assertNoLeak(everythingSaid);
});
