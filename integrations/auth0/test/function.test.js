'use strict';
// The Action against the real function: scripts/auth0_action_test.sh runs the Lambda
// under `cargo lambda watch` (with local Secrets Manager and Zuplo stand-ins) and sets
//   AUTH0_FUNCTION_URL   the function's base URL (the route is /auth0/post-login),
//   AUTH0_ACTION_SECRET  the whsec_ secret the function holds as auth0_action_secret,
//   ZUPLO_URL            the Zuplo stand-in, with its /__standin/ controls.
// Without AUTH0_FUNCTION_URL these tests fail (they are not optional) unless
// AUTH0_UNIT_ONLY=1 says to run the unit tests alone.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');

const { onExecutePostLogin } = require('../post-login');
const { makeEvent, makeApi, captureConsole } = require('../support/auth0-mocks');

const FUNCTION_URL = process.env.AUTH0_FUNCTION_URL;
const SECRET = process.env.AUTH0_ACTION_SECRET;
const ZUPLO_URL = process.env.ZUPLO_URL;
const UNIT_ONLY = process.env.AUTH0_UNIT_ONLY === '1';
const TITLE = 'Action → the real function (cargo lambda watch)';
const HOW =
  'run scripts/auth0_action_test.sh (it starts the function and sets AUTH0_FUNCTION_URL, ' +
  'AUTH0_ACTION_SECRET and ZUPLO_URL), or set AUTH0_UNIT_ONLY=1 to run the unit tests alone';

const DENY_MESSAGE = 'API access could not be set up. Please try again.';
const TENANT = 'dev-zuplo-hooks';
const RUN = crypto.randomBytes(3).toString('hex');

if (!FUNCTION_URL && UNIT_ONLY) {
  // Skipped as a test (not a suite) so that the summary counts it under "skipped".
  test(TITLE, { skip: 'AUTH0_UNIT_ONLY=1: end-to-end tests not run' }, () => {});
} else if (!FUNCTION_URL || !SECRET || !ZUPLO_URL) {
  test(TITLE, () => {
    const missing = ['AUTH0_FUNCTION_URL', 'AUTH0_ACTION_SECRET', 'ZUPLO_URL'].filter((v) => !process.env[v]);
    assert.fail(`${missing.join(', ')} not set: ${HOW}`);
  });
} else {
  e2e();
}

function e2e() {
  const HOOK_URL = `${FUNCTION_URL.replace(/\/+$/, '')}/auth0/post-login`;

  // A fresh Auth0-shaped user (example.com: the function's signup policy for local runs).
  let n = 0;
  function newUser(label) {
    n += 1;
    const hex = crypto.randomBytes(12).toString('hex');
    return {
      user_id: `auth0|${hex}`,
      email: `e2e-${label}-${RUN}-${n}@example.com`,
      name: `E2E ${label} ${n}`,
      nickname: `e2e-${label}`,
      username: `e2e${hex.slice(0, 8)}`,
      identities: [
        {
          connection: 'Username-Password-Authentication',
          isSocial: false,
          provider: 'auth0',
          user_id: hex,
          profileData: {},
        },
      ],
      app_metadata: {},
    };
  }

  // Counts the Action's outbound calls, the way Auth0's unit-test guide spies on fetch.
  let fetches = 0;
  const realFetch = globalThis.fetch;
  test.before(() => {
    globalThis.fetch = (...args) => {
      fetches += 1;
      return realFetch(...args);
    };
  });
  test.after(() => {
    globalThis.fetch = realFetch;
  });

  async function login(user, secrets) {
    const event = makeEvent({ user, secrets: { HOOK_URL, HOOK_SECRET: SECRET, ...secrets }, tenant: TENANT });
    const api = makeApi(event);
    const before = fetches;
    const started = performance.now();
    const [returned, lines] = await captureConsole(() => onExecutePostLogin(event, api));
    const out = {
      calls: api.calls,
      lines,
      returned,
      api,
      fetched: fetches - before,
      ms: Math.round(performance.now() - started),
    };
    for (const text of [...lines, ...api.calls.deny]) {
      assert.ok(!text.includes(SECRET.replace(/^whsec_/, '')), `leaked the secret: ${text}`);
      assert.doesNotMatch(text, /v1,[A-Za-z0-9+/]{8}/, `leaked a signature: ${text}`);
    }
    return out;
  }

  async function standin(path, init) {
    const res = await realFetch(`${ZUPLO_URL}/__standin/${path}`, init);
    assert.ok(res.ok, `stand-in ${path}: ${res.status}`);
    return res.status === 204 ? null : res.json();
  }
  const consumersOf = async (user) =>
    (await standin('consumers')).filter((c) => c.metadata && c.metadata.userId === user.user_id);
  const zuploCalls = async () => (await standin('calls')).length;

  async function waitForConsumer(user, ms = 15000) {
    const until = Date.now() + ms;
    for (;;) {
      const found = await consumersOf(user);
      if (found.length) return found;
      if (Date.now() > until) return found;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // A signed call made here, not by the Action: checks the function's side of the contract.
  async function signedPost(body, secret = SECRET, { timestamp } = {}) {
    const id = `msg_${crypto.randomUUID()}`;
    const ts = String(timestamp ?? Math.floor(Date.now() / 1000));
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const sig = crypto.createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
    const res = await realFetch(HOOK_URL, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` },
    });
    return { status: res.status, text: await res.text() };
  }

  function assertPassedWithoutClaim(r) {
    assert.deepEqual(r.calls.deny, []);
    assert.deepEqual(r.calls.appMetadata, []);
    assert.deepEqual(r.calls.idTokenClaims, []);
    assert.deepEqual(r.calls.accessTokenClaims, []);
  }
  function assertDenied(r) {
    assert.deepEqual(r.calls.deny, [DENY_MESSAGE]);
    assert.deepEqual(r.calls.appMetadata, []);
    assert.deepEqual(r.calls.idTokenClaims, []);
    assert.deepEqual(r.calls.accessTokenClaims, []);
  }

  // Each test waits for its own function call; the timeout only turns a hang into a failure.
  test.describe(TITLE, { timeout: 120000 }, () => {
    const alice = newUser('first');
    let aliceId;

    test('first login: one new consumer (provider auth0, userId), app_metadata and both claims', async (t) => {
      const r = await login(alice, {});
      t.diagnostic(`${r.ms} ms; ${r.lines.join(' | ')}`);
      assert.equal(r.fetched, 1);
      assert.deepEqual(r.calls.deny, [], r.lines.join('\n'));
      const consumers = await consumersOf(alice);
      assert.equal(consumers.length, 1);
      const [consumer] = consumers;
      aliceId = consumer.id;
      assert.equal(consumer.metadata.provider, 'auth0');
      assert.equal(consumer.metadata.userId, alice.user_id);
      t.diagnostic(`consumer ${consumer.id} "${consumer.name}" metadata ${JSON.stringify(consumer.metadata)}`);
      assert.deepEqual(r.calls.appMetadata, [['zuplo_consumer_id', aliceId]]);
      assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', aliceId]]);
      assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', aliceId]]);
      assert.deepEqual(r.lines, []);
    });

    test('second login with the stored app_metadata: no HTTP call, no new consumer', async () => {
      assert.ok(aliceId, 'needs the first login');
      const callsBefore = await zuploCalls();
      const r = await login({ ...alice, app_metadata: { zuplo_consumer_id: aliceId } }, {});
      assert.equal(r.fetched, 0);
      assert.deepEqual(r.calls.appMetadata, []);
      assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', aliceId]]);
      assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', aliceId]]);
      assert.equal(await zuploCalls(), callsBefore);
      assert.equal((await consumersOf(alice)).length, 1);
    });

    test('third login without the metadata (as if it had been lost): the same consumer, still one', async () => {
      assert.ok(aliceId, 'needs the first login');
      const r = await login(alice, {});
      assert.equal(r.fetched, 1);
      assert.deepEqual(r.calls.appMetadata, [['zuplo_consumer_id', aliceId]], r.lines.join('\n'));
      assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', aliceId]]);
      assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', aliceId]]);
      assert.equal((await consumersOf(alice)).length, 1);
    });

    test("a user provisioned by Zuplo's guide (app_metadata.api_consumer): no call, no consumer", async () => {
      const legacy = newUser('legacy');
      const callsBefore = await zuploCalls();
      for (const apiConsumer of ['csmr_legacyguide0000000', { id: 'csmr_legacyguide0000000' }]) {
        const r = await login({ ...legacy, app_metadata: { api_consumer: apiConsumer } }, {});
        assert.equal(r.fetched, 0);
        assert.deepEqual(r.calls.appMetadata, []);
        assert.deepEqual(r.calls.idTokenClaims, [['zuplo_consumer_id', 'csmr_legacyguide0000000']]);
        assert.deepEqual(r.calls.accessTokenClaims, [['zuplo_consumer_id', 'csmr_legacyguide0000000']]);
      }
      assert.equal(await zuploCalls(), callsBefore);
      assert.equal((await consumersOf(legacy)).length, 0);
    });

    test('the function refuses a wrong signature with 401, before touching Zuplo', async () => {
      const wrong = `whsec_${crypto.randomBytes(32).toString('base64')}`;
      const user = newUser('direct401');
      const callsBefore = await zuploCalls();
      const body = JSON.stringify({ user_id: user.user_id, email: user.email, email_verified: true, name: user.name, connection: 'Username-Password-Authentication', tenant: TENANT });
      const res = await signedPost(body, wrong);
      assert.equal(res.status, 401, res.text);
      const stale = await signedPost(body, SECRET, { timestamp: Math.floor(Date.now() / 1000) - 600 });
      assert.equal(stale.status, 401, `a 10-minute-old timestamp: ${stale.text}`);
      assert.equal(await zuploCalls(), callsBefore);
      assert.equal((await consumersOf(user)).length, 0);
    });

    test('the function answers 400 to a signed body without user_id or tenant', async () => {
      for (const body of ['{"email":"x@example.com"}', '{"user_id":"auth0|x"}', 'not json']) {
        const res = await signedPost(body);
        assert.equal(res.status, 400, `${body}: ${res.text}`);
      }
    });

    for (const mode of ['closed', 'open']) {
      test(`wrong HOOK_SECRET, FAIL_MODE=${mode}: the function answers 401; ${mode === 'closed' ? 'denied' : 'let through'}; no consumer`, async () => {
        const user = newUser(`wrongsecret-${mode}`);
        const wrong = `whsec_${crypto.randomBytes(32).toString('base64')}`;
        const callsBefore = await zuploCalls();
        const r = await login(user, { HOOK_SECRET: wrong, FAIL_MODE: mode });
        assert.equal(r.fetched, 1);
        if (mode === 'closed') assertDenied(r);
        else assertPassedWithoutClaim(r);
        assert.equal(r.lines.length, 1, r.lines.join('\n'));
        assert.match(r.lines[0], /HTTP 401/);
        assert.equal(await zuploCalls(), callsBefore);
        assert.equal((await consumersOf(user)).length, 0);
      });
    }

    for (const mode of ['closed', 'open']) {
      test(`function slow (Zuplo delayed 3 s, TIMEOUT_MS=1000), FAIL_MODE=${mode}: ${mode === 'closed' ? 'denied' : 'let through'} on time; the next login gets the consumer`, async (t) => {
        const user = newUser(`slow-${mode}`);
        await standin('faults', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ method: 'POST', delay_ms: 3000, action: { kind: 'pass' } }),
        });
        const r = await login(user, { TIMEOUT_MS: '1000', FAIL_MODE: mode });
        t.diagnostic(`${r.ms} ms; ${r.lines.join(' | ')}`);
        assert.equal(r.fetched, 1);
        assert.ok(r.ms >= 900 && r.ms < 2500, `took ${r.ms} ms`);
        if (mode === 'closed') assertDenied(r);
        else assertPassedWithoutClaim(r);
        assert.match(r.lines[0], /TimeoutError/);
        // The function finishes on its own (3 s < its 5 s budget): the consumer appears,
        // and the delay fault is used up before the next test.
        const made = await waitForConsumer(user);
        assert.equal(made.length, 1, 'the function completed the slow call');
        const again = await login(user, { TIMEOUT_MS: '5000', FAIL_MODE: mode });
        assert.deepEqual(again.calls.appMetadata, [['zuplo_consumer_id', made[0].id]], again.lines.join('\n'));
        assert.deepEqual(again.calls.idTokenClaims, [['zuplo_consumer_id', made[0].id]]);
        assert.equal((await consumersOf(user)).length, 1);
      });
    }

    for (const mode of ['closed', 'open']) {
      test(`function down (HOOK_URL on a closed port), FAIL_MODE=${mode}: ${mode === 'closed' ? 'denied' : 'let through'}`, async () => {
        const s = http.createServer();
        await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
        const { port } = s.address();
        await new Promise((resolve) => s.close(resolve));
        const user = newUser(`down-${mode}`);
        const r = await login(user, { HOOK_URL: `http://127.0.0.1:${port}/auth0/post-login`, FAIL_MODE: mode });
        assert.equal(r.fetched, 1);
        if (mode === 'closed') assertDenied(r);
        else assertPassedWithoutClaim(r);
        assert.match(r.lines[0], /ECONNREFUSED/);
        assert.equal((await consumersOf(user)).length, 0);
      });
    }

    test("Zuplo slower than the function's own 5 s budget: the function answers 503 naming no internals; closed denies", async (t) => {
      const fault = JSON.stringify({ method: 'POST', delay_ms: 6500, action: { kind: 'pass' } });
      const direct = newUser('budget-direct');
      await standin('faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: fault });
      const started = performance.now();
      const res = await signedPost(
        JSON.stringify({ user_id: direct.user_id, email: direct.email, email_verified: true, name: direct.name, connection: 'Username-Password-Authentication', tenant: TENANT }),
      );
      t.diagnostic(`direct: ${res.status} in ${Math.round(performance.now() - started)} ms: ${res.text}`);
      assert.equal(res.status, 503, res.text);
      assert.doesNotMatch(res.text, /127\.0\.0\.1|zuplo_api|zpka_|csmr_|timed? ?out|deadline|secret/i);
      // The stand-in finishes the delayed create on its own: let it, so the fault is used up.
      await waitForConsumer(direct, 10000);

      const user = newUser('budget-action');
      await standin('faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: fault });
      const r = await login(user, { TIMEOUT_MS: '9000', FAIL_MODE: 'closed' });
      t.diagnostic(`action: ${r.ms} ms; ${r.lines.join(' | ')}`);
      assertDenied(r);
      assert.match(r.lines[0], /HTTP 503/);
      await waitForConsumer(user, 10000);
    });

    test('every consumer made here is an auth0 consumer naming its user', async () => {
      const ours = (await standin('consumers')).filter((c) => c.metadata && c.metadata.provider === 'auth0');
      assert.ok(ours.length >= 3);
      for (const c of ours) {
        assert.match(c.metadata.userId, /^auth0\|[0-9a-f]{24}$/);
        assert.match(c.name, /^[a-z0-9-]{1,128}$/);
      }
    });
  });
}
