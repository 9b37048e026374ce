// Signs test cases with the official npm `standardwebhooks` library; same stdin and
// stdout contract as official_signer.py (see there), for tests/webhook_signatures.rs.

let Webhook;
try {
  ({ Webhook } = await import("standardwebhooks"));
} catch (err) {
  console.error(
    `cannot load the npm standardwebhooks package (${err.code ?? err.message}); ` +
      "run the tests with scripts/test.sh, which installs it into tests/support/node_modules",
  );
  process.exit(2);
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const signatures = cases.map(({ secret, id, timestamp, body }) =>
  new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
);
process.stdout.write(JSON.stringify(signatures));
