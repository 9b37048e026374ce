// End-to-end check of the deletion forwarder (functions/) in the Firebase emulators,
// against the real zuplo-auth-hooks function and the Zuplo stand-in. Run by
// scripts/firebase_e2e.sh inside `firebase emulators:exec --only auth,functions`; not a
// node --test file (it needs everything that script starts).
//
// Environment: AUTH_URL (the Auth emulator), FUNCTIONS_URL (the Functions emulator),
// FUNCTION_URL (the function's Function URL base), ZUPLO_URL (the stand-in),
// PROJECT_ID, FORWARD_SECRET (the function's firebase_deletion_secret).
//
// Prints PASS/FAIL per check, the delete-to-consumer-gone times, and a closing
// "N passed, N failed" line; exits 1 on any failure.
'use strict';

const crypto = require('node:crypto');
const { sign, signingKey } = require('../functions/forward');

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v.replace(/\/$/, '');
};
const AUTH = env('AUTH_URL');
const FUNCTIONS = env('FUNCTIONS_URL');
const FN = env('FUNCTION_URL');
const ZUPLO = env('ZUPLO_URL');
const PROJECT = env('PROJECT_ID');
const SECRET = env('FORWARD_SECRET');
const GONE_WITHIN_MS = 10_000;

const IDT = `${AUTH}/identitytoolkit.googleapis.com`;
const OWNER = { authorization: 'Bearer owner' };

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  return ok;
}

async function call(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, json, text };
}

async function consumers() {
  const r = await call('GET', `${ZUPLO}/__standin/consumers`);
  if (r.status !== 200 || !Array.isArray(r.json)) throw new Error(`stand-in consumers: HTTP ${r.status}`);
  return r.json;
}
const consumerOf = (list, uid) => list.filter((c) => c.metadata && c.metadata.userId === uid);

function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

async function signUp(email, tenantId) {
  const body = { email, password: 'secret123', returnSecureToken: true };
  if (tenantId) body.tenantId = tenantId;
  const r = await call('POST', `${IDT}/v1/accounts:signUp?key=fake`, body);
  if (r.status !== 200) throw new Error(`signUp ${email}: HTTP ${r.status} ${r.text}`);
  return { email, tenantId: tenantId || null, uid: r.json.localId, idToken: r.json.idToken };
}

// A delivery the way the forwarder signs it, with the given secret.
function signed(body, secret = SECRET) {
  const text = JSON.stringify(body);
  const id = `msg_${crypto.randomUUID().replace(/-/g, '')}`;
  const ts = Math.floor(Date.now() / 1000).toString();
  return {
    text,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': ts,
      'webhook-signature': sign(signingKey(secret), id, ts, text),
    },
  };
}
async function sendDeletion(body, secret) {
  const { text, headers } = signed(body, secret);
  return call('POST', `${FN}/firebase/user-deleted`, text, headers);
}

// Deletes through the emulator, then polls the stand-in until the user's consumer is gone.
async function deleteAndWait(user, how) {
  const started = process.hrtime.bigint();
  let r;
  if (how === 'self') {
    const body = { idToken: user.idToken };
    if (user.tenantId) body.tenantId = user.tenantId;
    r = await call('POST', `${IDT}/v1/accounts:delete?key=fake`, body);
  } else {
    const body = { localId: user.uid };
    if (user.tenantId) body.tenantId = user.tenantId;
    r = await call('POST', `${IDT}/v1/projects/${PROJECT}/accounts:delete`, body, OWNER);
  }
  const callMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 200) return { ok: false, detail: `delete HTTP ${r.status} ${r.text}` };
  for (;;) {
    const gone = consumerOf(await consumers(), user.uid).length === 0;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (gone) return { ok: true, ms, callMs };
    if (ms > GONE_WITHIN_MS) return { ok: false, detail: `consumer still there after ${GONE_WITHIN_MS} ms` };
    await new Promise((res) => setTimeout(res, 25));
  }
}

async function main() {
  // The forwarder must have loaded: the CLI says "All emulators ready" even when a
  // codebase fails to load (firebase-admin on the wrong Node), so ask the emulator.
  const backends = await call('GET', `${FUNCTIONS}/backends`);
  check('the Functions emulator loaded forwardUserDeleted', backends.status === 200 && backends.text.includes('forwardUserDeleted'),
    `HTTP ${backends.status}`);

  // a) the function's beforeCreate as the Auth emulator's blocking function.
  const uri = `${FN}/firebase/before-create`;
  const cfg = await call('PATCH', `${IDT}/v2/projects/${PROJECT}/config?updateMask=blockingFunctions`,
    { blockingFunctions: { triggers: { beforeCreate: { functionUri: uri } } } }, OWNER);
  check('a) beforeCreate registered with the Auth emulator',
    cfg.status === 200 && cfg.json?.blockingFunctions?.triggers?.beforeCreate?.functionUri === uri, `HTTP ${cfg.status}`);

  // b) users, two of them in a tenant; each is provisioned by the blocking function.
  const tenant = await call('POST', `${IDT}/v2/projects/${PROJECT}/tenants`, { displayName: 'acme', allowPasswordSignup: true }, OWNER);
  const tenantId = tenant.json && tenant.json.tenantId;
  check('b) tenant created', tenant.status === 200 && !!tenantId, `HTTP ${tenant.status}`);
  const stamp = Date.now().toString(36);
  const users = {
    alice: await signUp(`alice-${stamp}@example.com`), // stays
    bob: await signUp(`bob-${stamp}@example.com`), // self-delete
    dave: await signUp(`dave-${stamp}@example.com`), // admin delete
    tara: await signUp(`tara-${stamp}@example.com`, tenantId), // stays
    tina: await signUp(`tina-${stamp}@example.com`, tenantId), // admin delete
    tom: await signUp(`tom-${stamp}@example.com`, tenantId), // self-delete
  };
  const before = await consumers();
  for (const [who, u] of Object.entries(users)) {
    const mine = consumerOf(before, u.uid);
    const c = mine[0];
    const tenantOk = u.tenantId ? c?.metadata?.tenant === u.tenantId : !c?.metadata?.tenant;
    check(`b) ${who}${u.tenantId ? ' (tenant)' : ''}: one consumer with metadata.userId = localId${u.tenantId ? ' and metadata.tenant' : ''}`,
      mine.length === 1 && tenantOk, `${mine.length} consumer(s)${c ? `, name ${c.name}, metadata ${JSON.stringify(c.metadata)}` : ''}`);
    const look = await call('POST', `${IDT}/v1/accounts:lookup?key=fake`, { idToken: u.idToken });
    const attrs = look.json?.users?.[0]?.customAttributes;
    const claims = attrs ? JSON.parse(attrs) : {};
    const token = jwtPayload(u.idToken);
    check(`b) ${who}: custom claims carry zuplo_consumer_id (lookup and ID token)`,
      !!c && claims.zuplo_consumer_id === c.id && token.zuplo_consumer_id === c.id,
      `lookup ${attrs}, token ${token.zuplo_consumer_id}, consumer id ${c && c.id}`);
  }

  // c) deletions through the emulator; the forwarder's POST deletes the consumer.
  const timings = [];
  for (const [who, how] of [['bob', 'self'], ['tina', 'admin'], ['dave', 'admin'], ['tom', 'self']]) {
    const u = users[who];
    const r = await deleteAndWait(u, how);
    const label = timings.length === 0 ? 'cold' : 'warm';
    if (r.ok) timings.push({ who, how, label, ms: r.ms, callMs: r.callMs });
    check(`c) ${who}${u.tenantId ? ' (tenant)' : ''} ${how === 'self' ? 'self-deleted (idToken)' : 'deleted by admin (Bearer owner)'}: consumer gone within ${GONE_WITHIN_MS / 1000} s`,
      r.ok, r.ok ? `${label}, ${r.ms.toFixed(0)} ms` : r.detail);
  }
  const after = await consumers();
  for (const who of ['alice', 'tara']) {
    check(`c) ${who}'s consumer remains`, consumerOf(after, users[who].uid).length === 1);
  }

  // d) a replayed deletion (what a Google retry after a lost answer looks like) is harmless.
  for (const who of ['bob', 'tina']) {
    const u = users[who];
    const r = await sendDeletion({ project: PROJECT, tenant: u.tenantId, uid: u.uid, email: u.email });
    check(`d) ${who}: signed replay of the deletion answers 200 absent`, r.status === 200 && r.json?.status === 'absent',
      `HTTP ${r.status} ${r.text}`);
  }
  check('d) the replays deleted nothing else', (await consumers()).length === after.length);

  // e) forged: alice's deletion signed with another secret.
  const alice = users.alice;
  const wrong = `whsec_${crypto.randomBytes(32).toString('base64')}`;
  const forged = await sendDeletion({ project: PROJECT, tenant: null, uid: alice.uid, email: alice.email }, wrong);
  check('e) forged deletion (wrong secret) answers 401', forged.status === 401, `HTTP ${forged.status} ${forged.text}`);
  // The contract's other refusal: the right secret but another project.
  const other = await sendDeletion({ project: `${PROJECT}-other`, tenant: null, uid: alice.uid, email: alice.email });
  check('e) deletion for another project answers 400', other.status === 400, `HTTP ${other.status} ${other.text}`);
  const last = await consumers();
  check('e) neither deleted anything (alice\'s consumer remains)',
    consumerOf(last, alice.uid).length === 1 && last.length === after.length);

  console.log('');
  console.log('delete call -> consumer gone (ms):');
  for (const t of timings) {
    console.log(`  ${t.label.padEnd(4)} ${t.who.padEnd(4)} ${t.how.padEnd(5)} ${t.ms.toFixed(0).padStart(6)}   (the delete call itself: ${t.callMs.toFixed(0)} ms)`);
  }
  console.log('');
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
