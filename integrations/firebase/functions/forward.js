/**
 * zuplo-auth-hooks: the deletion forwarder's logic, kept apart from index.js so that
 * node --test can drive it without the Firebase SDK (test/forward.test.js).
 *
 * One deleted Firebase user becomes one signed POST to the zuplo-auth-hooks function:
 *
 *   POST <FORWARD_URL>                      (the function's /firebase/user-deleted route)
 *   content-type: application/json
 *   webhook-id: msg_<32 hex>                 (stable across Google's retries of one event)
 *   webhook-timestamp: <unix seconds>        (fresh on every attempt)
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">
 *
 *   {"project":"<project id>","tenant":"<tenant id>"|null,"uid":"<uid>","email":"<email>"|null}
 *
 * That is the Standard Webhooks scheme: the HMAC key is the base64 after `whsec_` in
 * FORWARD_SECRET, the same value as the field `firebase_deletion_secret` of the
 * function's secret in AWS Secrets Manager.
 *
 * WHAT THROWS (and so makes Google retry, with `failurePolicy: true`, for up to 7 days)
 *   - a network error, or no complete answer within the timeout (10 s);
 *   - any answer that is not 2xx, except 400: 5xx and 503 (transient), 429, 401 (the
 *     secrets do not match), 404 (Firebase deletion is not enabled in the function, or
 *     FORWARD_URL names the wrong route), 3xx (redirects are not followed: a redirect
 *     would re-send a signed body elsewhere);
 *   - a misconfigured forwarder (FORWARD_URL or FORWARD_SECRET missing or malformed).
 *   401 and 404 are misconfigurations, not outages, and retrying them is deliberate: every
 *   deletion is kept in Google's retry queue while the settings are wrong (each failed
 *   attempt logs an error that names the problem) and is delivered once they are fixed,
 *   with no `zuplo-auth-sync prune` needed, unless the fix takes longer than 7 days. The
 *   price is one failing invocation per deleted user per backoff step meanwhile.
 *
 * WHAT DOES NOT THROW
 *   - 2xx: done ({"status":"deleted"} or {"status":"absent"}; absent also covers a
 *     replayed or retried delivery whose consumer is already gone);
 *   - 400: the function refused this body (it is malformed, or `project` is not the
 *     function's FIREBASE_PROJECT_ID). Re-sending the same body cannot succeed, so it is
 *     logged as an error and dropped; `zuplo-auth-sync prune` is the backstop.
 */
'use strict';

const crypto = require('node:crypto');

const DEFAULT_TIMEOUT_MS = 10_000;
const TAG = 'zuplo-auth-hooks:';

// What a non-2xx answer from the function means (its documented contract).
const STATUS_HINTS = {
  400: 'the function refused the body: malformed, or "project" is not its FIREBASE_PROJECT_ID',
  401: "the signature was refused: FORWARD_SECRET does not match the function's firebase_deletion_secret",
  404: 'Firebase is not enabled in the function, its secret has no firebase_deletion_secret, or FORWARD_URL names the wrong route',
  429: 'rate limited',
  503: 'transient failure in the function',
};

/** Thrown for anything a later attempt may get past: Google retries the event. */
class RetryableError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** The project of the event: `projects/<id>` in the context, else the runtime's. */
function projectIdOf(context, env = process.env) {
  const name = context && context.resource && context.resource.name;
  const match = typeof name === 'string' ? /^projects\/([^/]+)/.exec(name) : null;
  if (match) return match[1];
  const fromEnv = env.GCLOUD_PROJECT || env.GOOGLE_CLOUD_PROJECT;
  if (fromEnv) return fromEnv;
  throw new RetryableError('cannot tell the project: no projects/<id> in the event and no GCLOUD_PROJECT');
}

/**
 * The body. Reads `user.tenantId` directly: the v1 UserRecord's toJSON() leaves
 * tenantId out, so JSON.stringify(user) would silently drop the tenant.
 */
function tenantOf(user) {
  return typeof user.tenantId === 'string' && user.tenantId !== '' ? user.tenantId : null;
}

function deletionBody(user, project) {
  return JSON.stringify({
    project,
    tenant: tenantOf(user),
    uid: user.uid,
    email: user.email ?? null,
  });
}

/** The HMAC key: the base64 after `whsec_` (a `v1,` prefix, as some dashboards show it, is accepted). */
function signingKey(secret) {
  if (typeof secret !== 'string' || secret.trim() === '') {
    throw new RetryableError('FORWARD_SECRET is not set');
  }
  const b64 = secret.trim().replace(/^v1,/, '').replace(/^whsec_/, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new RetryableError('FORWARD_SECRET is not a whsec_ secret (base64 after "whsec_")');
  }
  return Buffer.from(b64, 'base64');
}

function sign(key, id, timestamp, body) {
  return `v1,${crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * `msg_` and 32 hex digits. Derived from the event ID when there is one, so that Google's
 * retries of one event carry the same webhook-id (as Standard Webhooks asks of a retry);
 * random otherwise.
 */
function messageId(eventId) {
  if (typeof eventId === 'string' && eventId !== '') {
    return `msg_${crypto.createHash('sha256').update(`firebase-user-deleted:${eventId}`).digest('hex').slice(0, 32)}`;
  }
  return `msg_${crypto.randomUUID().replace(/-/g, '')}`;
}

function forwardUrl(raw) {
  if (typeof raw !== 'string' || raw.trim() === '') throw new RetryableError('FORWARD_URL is not set');
  let url;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new RetryableError('FORWARD_URL is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RetryableError('FORWARD_URL is not an http(s) URL');
  }
  return url;
}

// A one-line description of a failed fetch: the error's class and code, never its
// message (which may quote the URL) and never anything signed.
function describeError(err) {
  const name = (err && err.name) || 'Error';
  if (name === 'TimeoutError') return 'TimeoutError (no complete answer within the timeout)';
  const code = err && err.cause && typeof err.cause.code === 'string' ? err.cause.code : null;
  return code ? `${name} (${code})` : name;
}

/**
 * Forwards one deletion. Resolves with `{status, answer}` when it is done (2xx) or can
 * never succeed (400); throws a RetryableError for everything else (see the header).
 */
async function forwardDeletion({ user, context, url, secret, timeoutMs = DEFAULT_TIMEOUT_MS, fetchImpl = fetch, env = process.env, log = console }) {
  const target = forwardUrl(url);
  const key = signingKey(secret);
  if (!user || typeof user.uid !== 'string' || user.uid === '') {
    // Nothing to forward, and no retry can change that.
    log.error(`${TAG} delete event without a uid; dropped`);
    return { status: null, answer: null };
  }
  const project = projectIdOf(context, env);
  const body = deletionBody(user, project);
  const id = messageId(context && context.eventId);
  const tenant = tenantOf(user);
  const what = `deletion of ${user.uid}${tenant === null ? '' : ` (tenant ${tenant})`}`;
  const timestamp = Math.floor(Date.now() / 1000).toString();

  let res;
  let text;
  try {
    res = await fetchImpl(target, {
      method: 'POST',
      body,
      redirect: 'manual',
      // Covers the answer's body too: it is read under the same signal.
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': sign(key, id, timestamp, body),
      },
    });
    text = await res.text();
  } catch (err) {
    throw new RetryableError(`${what} failed: ${describeError(err)}; Google retries`);
  }

  if (res.status >= 200 && res.status <= 299) {
    let answer = null;
    try {
      answer = JSON.parse(text);
    } catch {
      // A 2xx is a 2xx: the function took it.
    }
    const status = answer && typeof answer.status === 'string' ? answer.status : `HTTP ${res.status}`;
    log.log(`${TAG} ${what} forwarded: ${status}`);
    return { status: res.status, answer };
  }
  const hint = STATUS_HINTS[res.status] || (res.status >= 300 && res.status <= 399 ? 'a redirect (not followed); FORWARD_URL should name the route itself' : null);
  const detail = `HTTP ${res.status}${hint ? ` (${hint})` : ''}`;
  if (res.status === 400) {
    log.error(`${TAG} ${what} refused, not retried: ${detail}: ${text.slice(0, 300)}`);
    return { status: res.status, answer: null };
  }
  throw new RetryableError(`${what} failed: ${detail}; Google retries`);
}

module.exports = {
  DEFAULT_TIMEOUT_MS,
  RetryableError,
  deletionBody,
  forwardDeletion,
  messageId,
  projectIdOf,
  sign,
  signingKey,
};
