'use strict';
// Shared by the tests in ../test/ (kept out of test/, where every file runs as a test).

const path = require('node:path');
const { spawn } = require('node:child_process');

const SERVER = path.join(__dirname, '..', 'server.js');

// Starts `node server.js` on a free port (PORT=0) and waits for its listening line.
// The relay runs as its own process, as on Cloud Run, so that everything it writes
// can be checked for leaked request bodies.
function startRelay(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER], {
      env: { PATH: process.env.PATH, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /relay listening on (\d+)/.exec(stderr);
      if (m && !child.started) {
        child.started = true;
        resolve({
          url: `http://127.0.0.1:${m[1]}`,
          logs: () => stdout + stderr,
          stop() {
            if (child.exitCode !== null) return Promise.resolve();
            // SIGTERM waits for requests in flight: a hung one must not hang the tests.
            const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
            return new Promise((done) => {
              child.once('exit', () => done(clearTimeout(kill)));
              child.kill('SIGTERM');
            });
          },
        });
      }
    });
    child.once('exit', (code) => {
      if (!child.started) reject(new Error(`relay exited with ${code}: ${stderr}`));
    });
  });
}

module.exports = { SERVER, startRelay };
