// SPDX-License-Identifier: Apache-2.0
'use strict';
// Upload a body with Node's core http client and `Expect: 100-continue`,
// the way Node's documentation suggests: send the body from the
// 'continue' event.  Node never adds Expect itself and never sends the
// body on its own, so without a 100 the request waits for ever; this
// script bounds that wait.  Prints one JSON object on stdout.
//
//   node node_http_upload.js URL HOST SIZE MODE
//   MODE: continue-only:MS   body only on 'continue'; the app gives up
//                            (aborts) after MS ms without a 100
//         fallback:MS        body on 'continue', or after MS ms anyway
//         no-expect          no Expect header, body at once
const http = require('http');
const crypto = require('crypto');

const [url, host, sizeArg, mode = 'continue-only:3000'] = process.argv.slice(2);
if (!url || !host || !sizeArg) {
  process.stderr.write('usage: node node_http_upload.js URL HOST SIZE MODE\n');
  process.exit(2);
}
const size = Number(sizeArg);
const body = crypto.randomBytes(size);
const [kind, msArg] = mode.split(':');
const waitMs = Number(msArg || 0);
if (!['continue-only', 'fallback', 'no-expect'].includes(kind)) {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

const t0 = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - t0) / 1e9;
const result = {
  client: 'node-http',
  version: `Node ${process.version}`,
  mode,
  status: null,
  error: null,
  statuses: [],
  got_100: false,
  requests: 1,
  requests_with_expect: kind === 'no-expect' ? 0 : 1,
  body_sent_by: null,      // 'continue' | 'timeout' | 'at-once' | null
  first_body_at: null,
  app_gave_up: false,
  elapsed: null,
  sent: size,
  uploaded: 0,
  echoed: 0,
  echo_matches: false,
};

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  result.elapsed = now();
  process.stdout.write(JSON.stringify(result) + '\n');
  // Do not wait for keep-alive sockets or timers.
  process.exit(0);
}

const headers = { Host: host, 'Content-Length': String(size),
                  'Content-Type': 'application/octet-stream' };
if (kind !== 'no-expect') headers.Expect = '100-continue';
const req = http.request(url, { method: 'POST', headers });

let timer = null;
function sendBody(why) {
  if (result.body_sent_by !== null) return;
  clearTimeout(timer);
  result.body_sent_by = why;
  result.first_body_at = now();
  result.uploaded = size;
  req.end(body);
}

req.on('information', (info) => {
  // Node emits 'continue' and then 'information' for the same 100.
  if (info.statusCode !== 100 || !result.statuses.includes(100)) {
    result.statuses.push(info.statusCode);
  }
});
req.on('continue', () => {
  result.got_100 = true;
  if (!result.statuses.includes(100)) result.statuses.push(100);
  sendBody('continue');
});
req.on('response', (res) => {
  clearTimeout(timer);
  result.status = res.statusCode;
  result.statuses.push(res.statusCode);
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    const echo = Buffer.concat(chunks);
    result.echoed = echo.length;
    result.echo_matches = echo.equals(body);
    finish();
  });
  res.on('error', (e) => { result.error = String(e.message || e); finish(); });
});
req.on('error', (e) => {
  if (!result.app_gave_up) result.error = String(e.code || e.message || e);
  finish();
});

if (kind === 'no-expect') {
  sendBody('at-once');
} else {
  // Headers go out now; the body waits for the 100.
  req.flushHeaders();
  timer = setTimeout(() => {
    if (kind === 'fallback') {
      sendBody('timeout');
    } else {
      result.app_gave_up = true;
      result.error = `no 100 within ${waitMs} ms: application aborted`;
      req.destroy();
      finish();
    }
  }, waitMs);
}
