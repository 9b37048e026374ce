'use strict';
// The relay in front of the real function: scripts/relay_test.sh runs the Lambda
// under `cargo lambda watch` (with local Secrets Manager and Zuplo stand-ins) and
// sets RELAY_FUNCTION_URL to its Function URL emulation.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const FUNCTION_URL = process.env.RELAY_FUNCTION_URL;
const SKIP = FUNCTION_URL
  ? false
  : 'RELAY_FUNCTION_URL is not set: run scripts/relay_test.sh to test the relay against the real function';
const { startRelay } = require('../support/relay-process');
const EVENTS = path.join(__dirname, '..', '..', 'events');

// The HTTP body Identity Platform would send, taken from a sample Function URL event.
function eventBody(name) {
  const event = JSON.parse(fs.readFileSync(path.join(EVENTS, name), 'utf8'));
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

async function post(base, route, body) {
  const started = performance.now();
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: Buffer.from(await res.arrayBuffer()),
    ms: Math.round(performance.now() - started),
  };
}

// Skipped as a test (not a suite) so that the summary counts it under "skipped".
if (SKIP) test('relay → the real function (cargo lambda watch)', { skip: SKIP }, () => {});
// Each call has the relay's 6.5 s; the timeout only turns a hang into a failure.
else test.describe('relay → the real function (cargo lambda watch)', { timeout: 60000 }, () => {
  let relay;
  test.before(async () => {
    // The default RELAY_TIMEOUT_MS (6500), as deployed.
    relay = await startRelay({ TARGET_URL: FUNCTION_URL });
  });
  test.after(() => relay && relay.stop());

  let firstId;
  test('beforeCreate: 200 with a csmr_ consumer id claim', async (t) => {
    const res = await post(relay.url, '/firebase/before-create', eventBody('firebase-before-create-email.json'));
    t.diagnostic(`${res.status} in ${res.ms} ms: ${res.body}`);
    assert.equal(res.status, 200, String(res.body));
    assert.equal(res.contentType, 'application/json');
    const answer = JSON.parse(res.body);
    firstId = answer.userRecord.customClaims.zuplo_consumer_id;
    assert.match(firstId, /^csmr_/);
    assert.equal(answer.userRecord.updateMask, 'customClaims');
  });

  test('beforeCreate again (a retry): the same consumer id', async (t) => {
    const res = await post(relay.url, '/firebase/before-create', eventBody('firebase-before-create-email.json'));
    t.diagnostic(`${res.status} in ${res.ms} ms`);
    assert.equal(res.status, 200, String(res.body));
    assert.equal(JSON.parse(res.body).userRecord.customClaims.zuplo_consumer_id, firstId);
  });

  test('beforeSignIn of a provisioned user: {}', async (t) => {
    const res = await post(
      relay.url,
      '/firebase/before-sign-in',
      eventBody('firebase-before-sign-in-provisioned.json'),
    );
    t.diagnostic(`${res.status} in ${res.ms} ms`);
    assert.equal(res.status, 200, String(res.body));
    assert.deepEqual(JSON.parse(res.body), {});
  });

  test("a forged token: the function's 401 comes back verbatim", async (t) => {
    const forged = Buffer.from('{"data":{"jwt":"garbage"}}');
    const direct = await post(FUNCTION_URL, '/firebase/before-create', forged);
    const relayed = await post(relay.url, '/firebase/before-create', forged);
    t.diagnostic(`direct ${direct.ms} ms, relayed ${relayed.ms} ms: ${relayed.status} ${relayed.body}`);
    assert.equal(direct.status, 401);
    assert.equal(JSON.parse(direct.body).error.status, 'UNAUTHENTICATED');
    assert.equal(relayed.status, direct.status);
    assert.equal(relayed.contentType, direct.contentType);
    assert.deepEqual(relayed.body, direct.body);
  });

  test('the relay logged no failure and no token', () => {
    assert.doesNotMatch(relay.logs(), /"ERROR"|eyJ|garbage/);
  });
});
