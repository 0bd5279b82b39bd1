// Before the load: logs the benchmark citizen in once (a live session, as after their
// password), then runs the code flow enough times to hold one refresh token per
// refresh-rotation connection. Works against either server: it follows redirects by
// hand, keeps the cookies, and fills in citizen-idp's login and consent forms when they
// appear.
//
//   node bench/setup.mjs OUT_DIR
//
// Reads BENCH_BASE, BENCH_AUTHORIZE_PATH, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
// BENCH_REDIRECT_URI, BENCH_CITIZEN, BENCH_PASSWORD, BENCH_REFRESH_TOKENS (how many)
// and BENCH_TOKEN_EXTRA (extra token-request parameters). Writes OUT_DIR/cookie (the
// session's Cookie header), OUT_DIR/refresh_tokens (one per line), OUT_DIR/access_token
// (a citizen's access token for userinfo) and OUT_DIR/introspect_token.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env('BENCH_BASE');
const clientId = env('BENCH_CLIENT_ID');
const secret = env('BENCH_CLIENT_SECRET');
const redirectUri = env('BENCH_REDIRECT_URI');
const out = process.argv[2];
const jar = new Map();

function remember(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const at = pair.indexOf('=');
    const name = pair.slice(0, at).trim();
    const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))
      || pair.slice(at + 1).trim() === '';
    if (expired) jar.delete(name);
    else jar.set(name, pair.slice(at + 1).trim());
  }
}

const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function browse(url, init = {}) {
  const response = await fetch(new URL(url, base), {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers ?? {}), cookie: cookieHeader() },
  });
  remember(response);
  return response;
}

function hidden(html, name) {
  const match = html.match(new RegExp(`name="${name}"[^>]*value="([^"]*)"`))
    ?? html.match(new RegExp(`value="([^"]*)"[^>]*name="${name}"`));
  if (!match) throw new Error(`no ${name} field in the page`);
  return match[1].replaceAll('&amp;', '&');
}

/** Runs one authorization request to its end: the code. */
async function authorize() {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid profile offline_access',
    state: 'bench-state',
    nonce: 'bench-nonce',
    prompt: 'consent',
  });
  let response = await browse(`${env('BENCH_AUTHORIZE_PATH')}?${query}`);
  for (let hop = 0; hop < 12; hop += 1) {
    const location = response.headers.get('location');
    if (location?.startsWith(redirectUri)) {
      const code = new URL(location).searchParams.get('code');
      if (!code) throw new Error(`no code: ${location}`);
      return code;
    }
    if (location) {
      await response.arrayBuffer();
      response = await browse(location);
      continue;
    }
    const html = await response.text();
    if (response.status !== 200 || !html.includes('csrf_token')) {
      throw new Error(`unexpected answer ${response.status}: ${html.slice(0, 300)}`);
    }
    // Either citizen-idp's consent page (prompt=consent asks again each time) or its
    // login form.
    const consent = html.includes('action="/consent"');
    const fields = consent
      ? { decision: 'allow' }
      : { national_id: env('BENCH_CITIZEN'), password: env('BENCH_PASSWORD') };
    response = await browse(consent ? '/consent' : '/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        flow: hidden(html, 'flow'),
        csrf_token: hidden(html, 'csrf_token'),
        ...fields,
      }),
    });
  }
  throw new Error('too many redirects');
}

async function token(params) {
  const response = await fetch(new URL('/token', base), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams(params),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`token: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

const refreshTokens = [];
let first;
const count = Number(process.env.BENCH_REFRESH_TOKENS ?? 128);
for (let i = 0; i < count; i += 1) {
  const code = await authorize();
  const tokens = await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri });
  if (!tokens.refresh_token) throw new Error('no refresh token');
  refreshTokens.push(tokens.refresh_token);
  first ??= tokens;
}
// The session cookie alone (citizen-idp's login flow cookies are spent by now).
writeFileSync(join(out, 'cookie'), cookieHeader());
writeFileSync(join(out, 'refresh_tokens'), `${refreshTokens.join('\n')}\n`);
writeFileSync(join(out, 'access_token'), first.access_token);
writeFileSync(join(out, 'introspect_token'), first.access_token);
console.log(`setup: a session, ${refreshTokens.length} refresh tokens`);
