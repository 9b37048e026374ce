/**
 * zuplo-auth-hooks: Auth0 post-login Action (runtime Node 22, no npm dependencies).
 *
 * WHAT IT DOES
 *   Gives every Auth0 user a Zuplo API-key consumer, and puts the consumer's ID in the
 *   user's tokens.
 *   - If the user already has one (`app_metadata.zuplo_consumer_id`, or
 *     `app_metadata.api_consumer` as written by Zuplo's own guide), it only sets the claim
 *     on the ID token and the access token. It makes no HTTP call: post-login also runs on
 *     every refresh-token exchange.
 *   - Otherwise it POSTs the user's ID, email and name to the zuplo-auth-hooks function
 *     (route `POST /auth0/post-login`), signed the Standard Webhooks way (HMAC-SHA256,
 *     headers webhook-id / webhook-timestamp / webhook-signature). The function creates the
 *     consumer (or finds the one it made before: it is idempotent per user_id) and answers
 *     200 {"consumer_id":"csmr_..."}. The Action stores the ID in
 *     `app_metadata.zuplo_consumer_id` and sets both claims.
 *   - If that fails (misconfiguration, network error, timeout, any non-2xx answer) it follows
 *     FAIL_MODE: `open` lets the login continue without the claim (the next login tries
 *     again); `closed` denies the login with a message that names no internals. It never
 *     throws: an uncaught error would fail the login with its details in error_description.
 *
 * SECRETS (Action -> Secrets; all values are strings)
 *   HOOK_URL        required. The full URL of the function's route, e.g.
 *                   https://<id>.lambda-url.<region>.on.aws/auth0/post-login. Use https.
 *   HOOK_SECRET     required. The signing secret, `whsec_<base64>`: the same value as the
 *                   field `auth0_action_secret` of the function's secret in AWS Secrets
 *                   Manager. (A bare base64 value, or one prefixed `v1,whsec_`, also works.)
 *   FAIL_MODE       optional, `open` (default) or `closed`. Any other value is treated as
 *                   `closed` and logged with console.error: a typo in a security setting
 *                   must not silently weaken it.
 *   CONSUMER_CLAIM  optional, default `zuplo_consumer_id`. The name of the claim set on the
 *                   ID token and on the access token. Auth0 drops non-namespaced custom
 *                   claims from access tokens whose audience is an Auth0 API, and drops
 *                   reserved names silently: if you need a namespace, give a full URL such
 *                   as `https://example.com/zuplo_consumer_id`. The app_metadata key is
 *                   always `zuplo_consumer_id`, whatever the claim is called.
 *   TIMEOUT_MS      optional, default 7000. Budget for the call to the function, in ms (an
 *                   integer from 1 to 10000; anything else falls back to 7000 with a
 *                   console.error). Auth0 gives the whole trigger, every Action in the flow
 *                   included, 20 s and asks for outbound timeouts under 10 s; the function
 *                   itself answers within 5 s by default.
 *
 * DEPLOY
 *   1. Auth0 Dashboard -> Actions -> Library -> Build Custom (Create Action -> Build from
 *      scratch). Trigger: Login / Post Login. Runtime: Node 22.
 *   2. Replace the editor's code with this file.
 *   3. Secrets (key icon): add HOOK_URL and HOOK_SECRET, and any of the optional ones.
 *   4. Deploy.
 *   5. Actions -> Triggers -> post-login: drag the Action into the Login flow, Apply.
 *
 * MIGRATING FROM ZUPLO'S GUIDE ACTION
 *   Users that Zuplo's guide Action ("create consumer on auth") already provisioned keep
 *   their consumer: the ID it stored in `app_metadata.api_consumer` (a string, or an object
 *   with an `id`) is used as is for the claim, with no HTTP call, and app_metadata is left
 *   unchanged. Remove the guide's Action from the Login flow when adding this one, so that
 *   no login creates two consumers.
 */
'use strict';

const crypto = require('node:crypto');

const METADATA_KEY = 'zuplo_consumer_id';
const DEFAULT_CLAIM = 'zuplo_consumer_id';
const DEFAULT_TIMEOUT_MS = 7000;
const MAX_TIMEOUT_MS = 10000;
const DENY_MESSAGE = 'API access could not be set up. Please try again.';
const TAG = 'zuplo-auth-hooks:';

// What a non-2xx answer from the function means (its documented contract).
const STATUS_HINTS = {
  400: 'the function refused the request body',
  401: "the signature was refused: HOOK_SECRET does not match the function's auth0_action_secret",
  404: 'Auth0 is not enabled in the function, or HOOK_URL names the wrong route',
  503: 'transient failure in the function; the next login retries',
};

class Misconfigured extends Error {}

function isNonEmptyString(value) {
  return typeof value === 'string' && value.length > 0;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The consumer ID this user already has, from us or from Zuplo's guide Action.
function existingConsumerId(appMetadata) {
  if (!isObject(appMetadata)) return null;
  if (isNonEmptyString(appMetadata[METADATA_KEY])) return appMetadata[METADATA_KEY];
  const legacy = appMetadata.api_consumer;
  if (isNonEmptyString(legacy)) return legacy;
  if (isObject(legacy) && isNonEmptyString(legacy.id)) return legacy.id;
  return null;
}

function readFailMode(raw) {
  if (raw === undefined || raw === null || String(raw).trim() === '') return 'open';
  const mode = String(raw).trim().toLowerCase();
  if (mode === 'open' || mode === 'closed') return mode;
  console.error(`${TAG} FAIL_MODE must be "open" or "closed", got ${JSON.stringify(String(raw))}; failing closed`);
  return 'closed';
}

function readTimeout(raw) {
  if (raw === undefined || raw === null || String(raw).trim() === '') return DEFAULT_TIMEOUT_MS;
  const text = String(raw).trim();
  const ms = Number(text);
  if (/^[0-9]+$/.test(text) && ms >= 1 && ms <= MAX_TIMEOUT_MS) return ms;
  console.error(
    `${TAG} TIMEOUT_MS must be an integer from 1 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(text)}; using ${DEFAULT_TIMEOUT_MS}`,
  );
  return DEFAULT_TIMEOUT_MS;
}

// The HMAC key: the base64 after `whsec_` (standard alphabet).
function signingKey(secret) {
  const b64 = secret.trim().replace(/^v1,/, '').replace(/^whsec_/, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Misconfigured('HOOK_SECRET is not a whsec_ secret (base64 after "whsec_")');
  }
  return Buffer.from(b64, 'base64');
}

function sign(key, id, timestamp, body) {
  const mac = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

// A one-line description of a failed fetch: the error's class and code, never its
// message (which may quote the URL) and never anything signed.
function describeError(err) {
  if (err instanceof Misconfigured) return err.message;
  const name = (err && err.name) || 'Error';
  if (name === 'TimeoutError') return 'TimeoutError (no answer within TIMEOUT_MS)';
  const code = err && err.cause && typeof err.cause.code === 'string' ? err.cause.code : null;
  return code ? `${name} (${code})` : name;
}

async function provision(event, secrets, timeoutMs) {
  const { HOOK_URL: hookUrl, HOOK_SECRET: hookSecret } = secrets;
  if (!isNonEmptyString(hookUrl)) throw new Misconfigured('the HOOK_URL secret is missing');
  if (!isNonEmptyString(hookSecret)) throw new Misconfigured('the HOOK_SECRET secret is missing');
  let url;
  try {
    url = new URL(hookUrl);
  } catch {
    throw new Misconfigured('the HOOK_URL secret is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Misconfigured('the HOOK_URL secret is not an http(s) URL');
  }
  const key = signingKey(hookSecret);

  const user = event.user;
  const body = JSON.stringify({
    user_id: user.user_id,
    email: user.email ?? null,
    email_verified: user.email_verified === true,
    name: user.name ?? null,
    connection: event.connection?.name ?? null,
    tenant: event.tenant?.id ?? null,
  });
  const id = `msg_${crypto.randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000).toString();

  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, {
    method: 'POST',
    body,
    // A redirect would re-send the signed body elsewhere: treat it as a failure.
    redirect: 'manual',
    signal,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': sign(key, id, timestamp, body),
    },
  });
  // Read the body under the same budget (the signal covers it).
  const text = await res.text();
  if (res.status < 200 || res.status > 299) {
    const hint = STATUS_HINTS[res.status];
    return { error: `HTTP ${res.status}${hint ? ` (${hint})` : ''}` };
  }
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    return { error: `HTTP ${res.status} with a body that is not JSON` };
  }
  if (!isObject(answer) || !isNonEmptyString(answer.consumer_id)) {
    return { error: `HTTP ${res.status} without a consumer_id` };
  }
  return { consumerId: answer.consumer_id };
}

exports.onExecutePostLogin = async (event, api) => {
  const secrets = (event && isObject(event.secrets) && event.secrets) || {};
  let failMode = 'closed';
  try {
    failMode = readFailMode(secrets.FAIL_MODE);
    const claim = isNonEmptyString(secrets.CONSUMER_CLAIM) ? secrets.CONSUMER_CLAIM.trim() : DEFAULT_CLAIM;

    const have = existingConsumerId(event.user.app_metadata);
    if (have) {
      api.idToken.setCustomClaim(claim, have);
      api.accessToken.setCustomClaim(claim, have);
      return;
    }

    let outcome;
    try {
      outcome = await provision(event, secrets, readTimeout(secrets.TIMEOUT_MS));
    } catch (err) {
      if (err instanceof Misconfigured) console.error(`${TAG} misconfigured: ${err.message}`);
      outcome = { error: describeError(err) };
    }
    if (outcome.consumerId) {
      api.user.setAppMetadata(METADATA_KEY, outcome.consumerId);
      api.idToken.setCustomClaim(claim, outcome.consumerId);
      api.accessToken.setCustomClaim(claim, outcome.consumerId);
      return;
    }
    return fail(api, failMode, outcome.error);
  } catch (err) {
    // Anything unexpected (a claim name Auth0 refuses, a malformed event): same rules.
    return fail(api, failMode, `unexpected ${describeError(err)}`);
  }
};

function fail(api, failMode, why) {
  if (failMode === 'open') {
    console.log(`${TAG} could not provision a Zuplo consumer: ${why}; login continues without the claim (FAIL_MODE=open)`);
    return;
  }
  console.log(`${TAG} could not provision a Zuplo consumer: ${why}; login denied (FAIL_MODE=closed)`);
  try {
    return api.access.deny(DENY_MESSAGE);
  } catch {
    return undefined;
  }
}
