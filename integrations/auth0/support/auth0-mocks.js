'use strict';
// Hand-built `event` and `api` for the post-login trigger, shared by the tests in
// ../test/ (kept out of test/, where every file runs as a test).
//
// Auth0's own test helpers (@auth0/actions, src/post-login/v3/test) cannot be installed
// here, so these follow Auth0's documented types instead (reference clerk-auth0.md §5.2,
// §5.3, §8; Auth0 docs actions/reference/post-login/post-login-event-object and
// post-login-api-object):
//   - every api method returns `api`, so `return api.access.deny(...)` works;
//   - api.user.setAppMetadata throws `Unexpected app_metadata format` when
//     event.user.app_metadata is not an object, and does not change event.user (the
//     changes are persisted at the end of the flow);
//   - setCustomClaim('scope', ...) throws `The "scope" claim cannot be set.`; every other
//     name is accepted at call time (Auth0 filters reserved names later, silently);
//   - event.user.app_metadata and user_metadata are always objects, identities an array,
//     event.secrets a map of strings.

// Verbatim `event.user` from Auth0's official test fixture (A0A
// src/post-login/v3/test/index.js @ 09eb3b6e), '{{DATE}}' filled in below.
const FIXTURE_USER = {
  app_metadata: {},
  created_at: '{{DATE}}',
  email_verified: true,
  email: 'j+smith@example.com',
  family_name: 'Smith',
  given_name: 'John',
  identities: [
    {
      connection: 'Username-Password-Authentication',
      isSocial: false,
      provider: 'auth0',
      userId: '5f7c8ec7c33c6c004bbafe82',
      accessToken:
        'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gU21pdGgiLCJpYXQiOjE1MTYyMzkwMjJ9.Q_w2AVguPRU2KskCXwR7ZHl09TQXEntfEA8Jj2_Jyew',
      profileData: {},
      user_id: '5f7c8ec7c33c6c004bbafe82',
    },
  ],
  last_password_reset: '{{DATE}}',
  name: 'j+smith@example.com',
  nickname: 'j+smith',
  phone_number: '18882352699',
  phone_verified: false,
  picture: 'http://www.gravatar.com/avatar/?d=identicon',
  updated_at: '{{DATE}}',
  user_id: 'auth0|5f7c8ec7c33c6c004bbafe82',
  user_metadata: {},
  username: 'jsmith',
  multifactor: [],
  enrolledFactors: [],
};

const DATE = '2026-12-02T10:00:00.000Z';

function fixtureUser() {
  const user = structuredClone(FIXTURE_USER);
  for (const k of Object.keys(user)) if (user[k] === '{{DATE}}') user[k] = DATE;
  return user;
}

// A post-login event: the fixture user (with `user` fields overridden; a field given as
// undefined is removed), the given secrets, and the rest of the documented top-level fields.
function makeEvent({ user = {}, secrets = {}, tenant = 'dev-zuplo-hooks', connection } = {}) {
  const u = { ...fixtureUser(), ...user };
  for (const [k, v] of Object.entries(u)) if (v === undefined) delete u[k];
  for (const [k, v] of Object.entries(secrets)) {
    if (typeof v !== 'string') throw new Error(`mock: event.secrets.${k} must be a string (Auth0 secrets are)`);
  }
  const conn = connection || {
    id: 'con_fpe5kj482KO1eOzh',
    name: (u.identities[0] && u.identities[0].connection) || 'Username-Password-Authentication',
    strategy: 'auth0',
    metadata: {},
  };
  return {
    authentication: { methods: [{ name: 'pwd', timestamp: DATE }] },
    authorization: { roles: [] },
    client: { client_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', name: 'My Web App', metadata: {} },
    connection: conn,
    request: {
      ip: '203.0.113.7',
      method: 'GET',
      hostname: 'dev-zuplo-hooks.us.auth0.com',
      user_agent: 'Mozilla/5.0',
      language: 'en',
      geoip: { countryCode: 'US', countryCode3: 'USA', countryName: 'United States', cityName: 'Seattle' },
      query: {},
      body: {},
    },
    resource_server: { identifier: 'https://api.example.com' },
    stats: { logins_count: Object.keys(u.app_metadata || {}).length ? 2 : 1 },
    tenant: { id: tenant },
    transaction: {
      id: 'tx_0123456789',
      protocol: 'oidc-basic-profile',
      requested_scopes: ['openid', 'profile', 'email'],
      locale: 'en',
      ui_locales: [],
      response_type: ['code'],
      response_mode: 'query',
      redirect_uri: 'https://app.example.com/callback',
    },
    user: u,
    secrets: { ...secrets },
  };
}

const RESERVED_CUSTOM_CLAIMS = ['scope'];

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// The api object for `event`, recording what the Action asked for in `api.calls`.
function makeApi(event) {
  const calls = { appMetadata: [], userMetadata: [], idTokenClaims: [], accessTokenClaims: [], deny: [], all: [] };
  const api = {};
  const record = (list, name, args) => {
    list.push(args.length === 1 ? args[0] : args);
    calls.all.push([name, ...args]);
  };
  const customClaim = (list, name) => (key, value) => {
    if (RESERVED_CUSTOM_CLAIMS.includes(key)) throw new Error(`The "${key}" claim cannot be set.`);
    record(list, name, [key, value]);
    return api;
  };
  api.access = {
    deny(reason) {
      record(calls.deny, 'access.deny', [reason]);
      return api;
    },
  };
  api.idToken = { setCustomClaim: customClaim(calls.idTokenClaims, 'idToken.setCustomClaim') };
  api.accessToken = {
    setCustomClaim: customClaim(calls.accessTokenClaims, 'accessToken.setCustomClaim'),
    addScope(scope) {
      calls.all.push(['accessToken.addScope', scope]);
      return api;
    },
    removeScope(scope) {
      calls.all.push(['accessToken.removeScope', scope]);
      return api;
    },
  };
  api.user = {
    setAppMetadata(key, value) {
      if (!isObject(event.user.app_metadata)) throw new Error('Unexpected app_metadata format');
      record(calls.appMetadata, 'user.setAppMetadata', [key, value]);
      return api;
    },
    setUserMetadata(key, value) {
      if (!isObject(event.user.user_metadata)) throw new Error('Unexpected user_metadata format');
      record(calls.userMetadata, 'user.setUserMetadata', [key, value]);
      return api;
    },
  };
  const cache = new Map();
  api.cache = {
    get: (key) => (cache.has(key) ? { value: cache.get(key) } : undefined),
    set: (key, value) => {
      cache.set(key, value);
      return { type: 'success' };
    },
    delete: (key) => {
      cache.delete(key);
      return { type: 'success' };
    },
  };
  api.multifactor = {
    enable() {
      calls.all.push(['multifactor.enable']);
      return api;
    },
  };
  Object.defineProperty(api, 'calls', { value: calls, enumerable: false });
  return api;
}

// Runs fn with console.log/info/warn/error captured; returns [result, lines].
async function captureConsole(fn) {
  const lines = [];
  const saved = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    saved[level] = console[level];
    console[level] = (...args) => lines.push(`${level}: ${args.map(String).join(' ')}`);
  }
  try {
    return [await fn(), lines];
  } finally {
    Object.assign(console, saved);
  }
}

module.exports = { FIXTURE_USER, fixtureUser, makeEvent, makeApi, captureConsole };
