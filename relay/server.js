'use strict';
// A relay for Identity Platform blocking functions. Identity Platform may refuse a
// functionUri outside Google Cloud (see README.md here), so this runs on Cloud Run or
// Cloud Functions and hands every call to the Lambda Function URL unchanged.
//
//   Cloud Run:       node server.js  (listens on $PORT, default 8080)
//   Cloud Functions: entry point `relay`, a (req, res) HTTP function
//
// Env: TARGET_URL (required, the Function URL base), RELAY_TIMEOUT_MS (default 6500).

const http = require('node:http');

// The Lambda refuses bodies above the same size; refusing here spares the hop.
const MAX_BODY_BYTES = 256 * 1024;
// Identity Platform gives up after 7 s: answering before that lets our message,
// rather than a generic timeout, reach the client.
const DEFAULT_TIMEOUT_MS = 6500;
// What the Lambda itself answers under FAIL_MODE=closed, so that clients see one
// shape whichever hop failed. FAIL_MODE=open cannot apply here: when the Lambda is
// unreachable nothing can vouch for the sign-up, so it is refused.
const UNAVAILABLE = Buffer.from(
  JSON.stringify({
    error: {
      code: 503,
      status: 'UNAVAILABLE',
      message: 'Sign-up is temporarily unavailable. Please try again shortly.',
    },
  }),
);

function loadConfig(env) {
  if (!env.TARGET_URL) {
    throw new Error(
      'TARGET_URL is required: the Lambda Function URL, e.g. https://abc.lambda-url.us-east-1.on.aws',
    );
  }
  let target;
  try {
    target = new URL(env.TARGET_URL);
  } catch {
    throw new Error(`TARGET_URL is not a URL: ${env.TARGET_URL}`);
  }
  if (!['https:', 'http:'].includes(target.protocol) || target.search || target.hash) {
    throw new Error('TARGET_URL must be an http(s) URL without query or fragment');
  }
  const raw = env.RELAY_TIMEOUT_MS;
  const timeoutMs = raw === undefined || raw === '' ? DEFAULT_TIMEOUT_MS : Number(raw);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`RELAY_TIMEOUT_MS must be a positive integer (milliseconds), got ${raw}`);
  }
  return { target, timeoutMs };
}

// Only the path and query come from the request: an absolute-form request line
// ("POST http://elsewhere/x HTTP/1.1") must not get to choose the upstream host.
function upstreamUrl(target, requestUrl) {
  let pathAndQuery = requestUrl;
  if (!pathAndQuery.startsWith('/')) {
    const parsed = new URL(pathAndQuery);
    pathAndQuery = parsed.pathname + parsed.search;
  }
  const q = pathAndQuery.indexOf('?');
  const url = new URL(target);
  url.pathname = url.pathname.replace(/\/+$/, '') + (q < 0 ? pathAndQuery : pathAndQuery.slice(0, q));
  url.search = q < 0 ? '' : pathAndQuery.slice(q);
  return url;
}

// Returns null when the body is too large. The rest of an oversized body is still
// read (and dropped) so that the client reliably gets the 413 instead of a reset.
async function readBody(req) {
  // The Functions Framework has already consumed the stream and kept the exact bytes.
  if (Buffer.isBuffer(req.rawBody)) {
    return req.rawBody.length > MAX_BODY_BYTES ? null : req.rawBody;
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? null : Buffer.concat(chunks, size);
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { ...headers, 'content-length': body.length });
  res.end(body);
}

function errorBody(code, status, message) {
  return Buffer.from(JSON.stringify({ error: { code, status, message } }));
}

const JSON_TYPE = { 'content-type': 'application/json' };

// One line, never the body: it carries the user's JWT. JSON with a severity is what
// Cloud Logging turns into a structured entry.
function logFailure(url, started, err, timeoutMs) {
  const reason =
    err.name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms`
      : String((err.cause && (err.cause.code || err.cause.message)) || err.message);
  console.error(
    JSON.stringify({
      severity: 'ERROR',
      message: `relay: upstream unavailable, answered 503: ${reason}`,
      path: url.pathname,
      elapsed_ms: Date.now() - started,
    }),
  );
}

function createRelay({ target, timeoutMs }) {
  return async function relay(req, res) {
    try {
      if (req.method !== 'POST') {
        send(res, 405, errorBody(405, 'UNIMPLEMENTED', 'Method Not Allowed: use POST'), {
          ...JSON_TYPE,
          allow: 'POST',
        });
        return;
      }
      const body = await readBody(req);
      if (body === null) {
        send(res, 413, errorBody(413, 'INVALID_ARGUMENT', 'Payload Too Large'), JSON_TYPE);
        return;
      }
      const url = upstreamUrl(target, req.originalUrl || req.url);
      // identity: the answer is passed on as the exact bytes the function wrote.
      const headers = { 'accept-encoding': 'identity' };
      if (req.headers['content-type'] !== undefined) {
        headers['content-type'] = req.headers['content-type'];
      }
      const started = Date.now();
      let upstream;
      let answer;
      try {
        upstream = await fetch(url, {
          method: 'POST',
          headers,
          body,
          // A redirect is the function's answer to pass on, not one for us to follow.
          redirect: 'manual',
          // Covers the whole exchange, reading the answer included.
          signal: AbortSignal.timeout(timeoutMs),
        });
        answer = Buffer.from(await upstream.arrayBuffer());
      } catch (err) {
        logFailure(url, started, err, timeoutMs);
        send(res, 503, UNAVAILABLE, JSON_TYPE);
        return;
      }
      const contentType = upstream.headers.get('content-type');
      send(res, upstream.status, answer, contentType === null ? {} : { 'content-type': contentType });
    } catch {
      // The client went away mid-request, or the request line was unusable: there is
      // nobody left to answer, or nothing sensible to forward.
      if (!res.headersSent) {
        send(res, 400, errorBody(400, 'INVALID_ARGUMENT', 'Bad Request'), JSON_TYPE);
      } else {
        res.destroy();
      }
    }
  };
}

if (require.main === module) {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    console.error(`relay: ${err.message}`);
    process.exit(1);
  }
  const server = http.createServer(createRelay(config));
  server.listen(Number(process.env.PORT || 8080), () => {
    console.error(
      JSON.stringify({
        severity: 'INFO',
        message: `relay listening on ${server.address().port}, forwarding to ${config.target.href} (timeout ${config.timeoutMs} ms)`,
      }),
    );
  });
  // Cloud Run sends SIGTERM before stopping an instance: let in-flight sign-ups finish.
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  // Loaded by the Functions Framework: a missing TARGET_URL fails the deployment
  // instead of every sign-up.
  module.exports.relay = createRelay(loadConfig(process.env));
}
