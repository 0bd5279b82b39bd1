// node-oidc-provider configured as close to citizen-idp as its options allow, for
// bench/run: the same client (id and secret from the environment), ES256 ID tokens,
// JWT access tokens (ES256 or RS256, chosen by the `resource` of the request),
// client_credentials, refresh-token rotation, introspection and userinfo.
//
// Its login is the application's job, not the library's: /interaction/:uid logs in
// BENCH_ACCOUNT at once and grants the client what it asked for, so that the harness
// can make one live session per run, as a citizen would after their password.
//
// PORT, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_REDIRECT_URI come from bench/run.
// Keys are generated at each start and never written anywhere.
//
// Its state (sessions, grants, codes, tokens) lives in the library's in-memory adapter,
// or with BENCH_NODE_STORE=redis in Redis (redis_adapter.mjs), as deployments of it
// run: BENCH_NODE_REDIS_URL (default redis://127.0.0.1:6379/) and every key under
// BENCH_NODE_REDIS_PREFIX (default oidc-bench:).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

import { redisAdapter } from './redis_adapter.mjs';

const port = Number(process.env.PORT ?? 3000);
const issuer = `http://127.0.0.1:${port}`;
const account = process.env.BENCH_ACCOUNT ?? 'citizen-0001';

function jwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig' };
}

const store = process.env.BENCH_NODE_STORE ?? 'memory';
if (!['memory', 'redis'].includes(store)) throw new Error(`BENCH_NODE_STORE: ${store}?`);

const resources = {
  'urn:citizen-idp:bench:es256': 'ES256',
  'urn:citizen-idp:bench:rs256': 'RS256',
};

const configuration = {
  clients: [
    {
      client_id: process.env.BENCH_CLIENT_ID,
      client_secret: process.env.BENCH_CLIENT_SECRET,
      redirect_uris: [process.env.BENCH_REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      scope: 'openid profile offline_access api:read',
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: {
    keys: [
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'family_name', 'given_name', 'birthdate', 'gender', 'updated_at'],
  },
  scopes: ['openid', 'offline_access', 'api:read'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: 'Nguyễn Văn An',
          family_name: 'Nguyễn',
          given_name: 'An',
          birthdate: '1990-01-01',
          gender: 'male',
          updated_at: 1767225600,
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        return oneOf;
      },
      async getResourceServerInfo(ctx, resource) {
        const alg = resources[resource];
        if (!alg) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api:read',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
  // citizen-idp rotates every refresh token on use.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 300,
    ClientCredentials: 300,
    IdToken: 300,
    AuthorizationCode: 60,
    RefreshToken: 2592000,
    Session: 28800,
    Grant: 28800,
    Interaction: 600,
  },
  pkce: { required: () => false },
};
if (store === 'redis') {
  configuration.adapter = redisAdapter({
    url: process.env.BENCH_NODE_REDIS_URL ?? 'redis://127.0.0.1:6379/',
    prefix: process.env.BENCH_NODE_REDIS_PREFIX ?? 'oidc-bench:',
  });
}

const provider = new Provider(issuer, configuration);
const callback = provider.callback();

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: account } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const grant = new provider.Grant({ accountId: account, clientId: details.params.client_id });
  grant.addOIDCScope('openid profile offline_access');
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  );
}

http
  .createServer((req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((error) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`node-oidc-provider (${store} adapter) is listening on ${issuer}`);
  });
