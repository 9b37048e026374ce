/**
 * zuplo-auth-hooks: Firebase Auth / Identity Platform user-deletion forwarder.
 *
 * Cloud Functions for Firebase, 1st gen, runtime Node.js 22 (package.json "engines"; Node
 * 20 was decommissioned by Cloud Functions on 2026-10-30). The code uses only what Node 20
 * has too (global fetch, AbortSignal.timeout, node:crypto), which is what the emulator
 * test runs it on when the machine has Node 20.
 *
 * WHY IT EXISTS
 *   Blocking functions (beforeCreate/beforeSignIn, which provision the Zuplo consumer)
 *   have no delete event, and Firebase's delete events only reach Google Cloud targets.
 *   This function receives `auth.user().onDelete` and forwards it, signed, to the
 *   zuplo-auth-hooks function's `POST /firebase/user-deleted`, which deletes the user's
 *   consumer. What it sends, and which answers make Google retry: forward.js.
 *
 * SETTINGS (Firebase params; `firebase deploy` asks for any that have no value)
 *   FORWARD_URL     string param. The route's full URL, e.g.
 *                   https://<id>.lambda-url.<region>.on.aws/firebase/user-deleted.
 *                   Kept in functions/.env (or .env.<project id>).
 *   FORWARD_SECRET  secret param: a Cloud Secret Manager secret named FORWARD_SECRET,
 *                   `whsec_<base64>`, the same value as the field firebase_deletion_secret
 *                   of the function's secret in AWS Secrets Manager. Set it with
 *                   `firebase functions:secrets:set FORWARD_SECRET`. The Functions emulator
 *                   reads it from functions/.secret.local instead (one `FORWARD_SECRET=…`
 *                   line); without that file it tries Secret Manager and fails offline.
 *
 * RETRIES
 *   `failurePolicy: true`: when the handler throws (network error, timeout, a non-2xx
 *   answer other than 400), Cloud Functions re-delivers the event with backoff for up to
 *   7 days. Deletion is idempotent in the function (a second delivery answers
 *   {"status":"absent"}), so a retry after a lost answer is harmless. The Functions
 *   emulator does not retry: a throw there only logs and replaces the worker.
 *
 * NOT COVERED
 *   The Admin SDK's bulk `deleteUsers([...])` fires no delete event in production (the
 *   emulator does fire one per user), nor does anything that bypasses Firebase Auth's
 *   delete. Run `zuplo-auth-sync prune` as the backstop.
 */
'use strict';

const functions = require('firebase-functions/v1');
const { defineSecret, defineString } = require('firebase-functions/params');
const { forwardDeletion } = require('./forward');

const FORWARD_URL = defineString('FORWARD_URL', {
  description: "URL of the zuplo-auth-hooks function's POST /firebase/user-deleted route",
});
const FORWARD_SECRET = defineSecret('FORWARD_SECRET');

exports.forwardUserDeleted = functions
  .runWith({
    failurePolicy: true,
    secrets: [FORWARD_SECRET],
    // One POST with a 10 s budget; the default 60 s would only delay the next retry.
    timeoutSeconds: 30,
    memory: '128MB',
  })
  .auth.user()
  .onDelete(async (user, context) => {
    // Throws (so that Google retries) on anything a later attempt may get past.
    await forwardDeletion({
      user,
      context,
      url: FORWARD_URL.value(),
      secret: FORWARD_SECRET.value(),
    });
  });
