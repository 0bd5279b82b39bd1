// The Redis adapter against a real Redis (BENCH_REDIS_URL, default the local one), under
// a prefix of its own that it deletes at the end.
//
//   node --test bench/node/

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';

import Redis from 'ioredis';

import { redisAdapter } from './redis_adapter.mjs';

const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/';
const prefix = `oidc-adapter-test-${randomBytes(6).toString('hex')}:`;
const Adapter = redisAdapter({ url, prefix });
const redis = new Redis(url);

after(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await Adapter.close();
});

test('a record is found until it expires, and not after destroy', async () => {
  const codes = new Adapter('AuthorizationCode');
  await codes.upsert('c1', { jti: 'c1', accountId: 'a' }, 60);
  assert.deepEqual(await codes.find('c1'), { jti: 'c1', accountId: 'a' });
  const ttl = await redis.ttl(`${prefix}AuthorizationCode:c1`);
  assert.ok(ttl > 55 && ttl <= 60, `ttl ${ttl}`);
  assert.equal(await new Adapter('RefreshToken').find('c1'), undefined, 'models apart');
  await codes.destroy('c1');
  assert.equal(await codes.find('c1'), undefined);
});

test('consume marks the record once and keeps its TTL; a missing one stays missing', async () => {
  const codes = new Adapter('AuthorizationCode');
  await codes.upsert('c2', { jti: 'c2' }, 60);
  await codes.consume('c2');
  const first = (await codes.find('c2')).consumed;
  assert.equal(typeof first, 'number');
  assert.ok(await redis.ttl(`${prefix}AuthorizationCode:c2`) > 0);
  await codes.consume('missing');
  assert.equal(await redis.exists(`${prefix}AuthorizationCode:missing`), 0);
  // An upsert replaces the record, its mark included.
  await codes.upsert('c2', { jti: 'c2', again: true }, 60);
  assert.deepEqual(await codes.find('c2'), { jti: 'c2', again: true });
});

test('sessions are found by uid, device codes by user code', async () => {
  const sessions = new Adapter('Session');
  await sessions.upsert('s1', { jti: 's1', uid: 'u1' }, 60);
  assert.equal((await sessions.findByUid('u1')).jti, 's1');
  assert.equal(await sessions.findByUid('u2'), undefined);
  const devices = new Adapter('DeviceCode');
  await devices.upsert('d1', { jti: 'd1', userCode: 'ABCD-EFGH' }, 60);
  assert.equal((await devices.findByUserCode('ABCD-EFGH')).jti, 'd1');
});

test('revoking a grant ends its tokens and codes, not those of another grant', async () => {
  const access = new Adapter('AccessToken');
  const refresh = new Adapter('RefreshToken');
  await access.upsert('a1', { jti: 'a1', grantId: 'g1' }, 60);
  await refresh.upsert('r1', { jti: 'r1', grantId: 'g1' }, 3600);
  await refresh.upsert('r2', { jti: 'r2', grantId: 'g2' }, 3600);
  // The grant's set lives as long as its longest-lived member.
  const ttl = await redis.ttl(`${prefix}grant:g1`);
  assert.ok(ttl > 3500, `grant set ttl ${ttl}`);
  await access.revokeByGrantId('g1');
  assert.equal(await access.find('a1'), undefined);
  assert.equal(await refresh.find('r1'), undefined);
  assert.equal((await refresh.find('r2')).jti, 'r2');
  assert.equal(await redis.exists(`${prefix}grant:g1`), 0);
});

test('a record without a lifetime does not expire', async () => {
  const clients = new Adapter('Client');
  await clients.upsert('cl', { client_id: 'cl' });
  assert.equal(await redis.ttl(`${prefix}Client:cl`), -1);
  assert.equal((await clients.find('cl')).client_id, 'cl');
});
