// A Redis adapter for node-oidc-provider, as a deployment of it would run one: every
// model in Redis with the TTL the provider gives, nothing held in the process, so that
// any number of instances can share the state. Written for bench/run (the reference
// with its state in Redis, beside citizen-idp on Redis); server.mjs picks it when
// BENCH_NODE_STORE=redis.
//
// Layout, every key under one prefix (BENCH_NODE_REDIS_PREFIX):
//   <model>:<id>          a hash: `payload` (the JSON the provider gave) and, once
//                         consumed, `consumed` (epoch seconds); expires with the model
//   grant:<grantId>       a set of the keys of the tokens and codes issued under that
//                         grant, for revokeByGrantId; lives as long as its longest member
//   sessionUid:<uid>      the id of the Session with that uid (findByUid)
//   userCode:<code>       the id of the DeviceCode with that user code (findByUserCode)
//
// A hash rather than a JSON string, so that consume() sets one field: it keeps the
// key's TTL and needs no read-modify-write of the payload.

import Redis from 'ioredis';

// The models the provider issues under a grant: revoking the grant ends them.
const UNDER_A_GRANT = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

// Deletes a grant's set and every key listed in it, in one step, so that a token
// upserted while the grant is revoked cannot survive it. The member keys are not
// declared in KEYS: this needs one Redis server (or all of a grant's keys in one slot),
// which is how the bench runs it.
const REVOKE_GRANT = `
local members = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(members) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return #members
`;

// Marks an existing record consumed, keeping its TTL and the time of the first use;
// a missing one stays missing (a plain HSET would create it, without payload or TTL).
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
end
return -1
`;

const epochSeconds = () => Math.floor(Date.now() / 1000);

export function redisAdapter({ url, prefix }) {
  const client = new Redis(url, {
    // Fail a request rather than queue it without bound while Redis is away.
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
  });
  client.defineCommand('revokeGrant', { numberOfKeys: 1, lua: REVOKE_GRANT });
  client.defineCommand('consumeRecord', { numberOfKeys: 1, lua: CONSUME });

  const grantKey = (grantId) => `${prefix}grant:${grantId}`;
  const sessionUidKey = (uid) => `${prefix}sessionUid:${uid}`;
  const userCodeKey = (code) => `${prefix}userCode:${code}`;

  return class RedisAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${prefix}${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      // expiresIn is undefined for models that do not expire (a registered Client).
      const ttl = Number.isFinite(expiresIn) && expiresIn > 0 ? Math.ceil(expiresIn) : 0;
      const tx = client.multi();
      // An upsert replaces the whole record, a `consumed` mark included.
      tx.del(key);
      tx.hset(key, 'payload', JSON.stringify(payload));
      if (ttl) tx.expire(key, ttl);
      if (this.model === 'Session' && payload.uid) {
        if (ttl) tx.set(sessionUidKey(payload.uid), id, 'EX', ttl);
        else tx.set(sessionUidKey(payload.uid), id);
      }
      if (payload.userCode) {
        if (ttl) tx.set(userCodeKey(payload.userCode), id, 'EX', ttl);
        else tx.set(userCodeKey(payload.userCode), id);
      }
      if (UNDER_A_GRANT.has(this.model) && payload.grantId) {
        const set = grantKey(payload.grantId);
        tx.sadd(set, key);
        if (ttl) {
          // The set must outlive its longest-lived member: give it a TTL if it has
          // none yet (NX), and lengthen it when this member lives longer (GT).
          tx.expire(set, ttl, 'NX');
          tx.expire(set, ttl, 'GT');
        } else {
          tx.persist(set);
        }
      }
      check(await tx.exec());
    }

    async find(id) {
      return read(await client.hmget(this.key(id), 'payload', 'consumed'));
    }

    async findByUid(uid) {
      const id = await client.get(sessionUidKey(uid));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await client.get(userCodeKey(userCode));
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      await client.consumeRecord(this.key(id), epochSeconds());
    }

    async destroy(id) {
      await client.del(this.key(id));
    }

    // eslint-disable-next-line class-methods-use-this
    async revokeByGrantId(grantId) {
      await client.revokeGrant(grantKey(grantId));
    }

    static async close() {
      await client.quit();
    }
  };
}

function read([payload, consumed]) {
  if (payload === null) return undefined;
  const record = JSON.parse(payload);
  if (consumed !== null) record.consumed = Number(consumed);
  return record;
}

// MULTI answers [error, result] per command; any error fails the whole call.
function check(results) {
  if (results === null) throw new Error('redis: transaction aborted');
  for (const [error] of results) if (error) throw error;
}
