// Prints bench/run's results as markdown: one table per citizen-idp backend, each
// beside the reference run both ways (its in-memory adapter, and Redis), then the
// login storms, on the demo register and on the large ones.
//
//   node bench/report.mjs bench/.work/run

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const work = process.argv[2];
const rows = [];
for (const line of readFileSync(join(work, 'results.tsv'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const [target, scenario, conns, ...rest] = line.split('\t');
  const fields = {};
  for (const part of rest.join(' ').split(/\s+/)) {
    const [k, v] = part.split('=');
    if (v !== undefined) fields[k] = Number(v);
  }
  rows.push({ target, scenario, conns: Number(conns), ...fields });
}

const find = (target, scenario, conns) =>
  rows.find((r) => r.target === target && r.scenario === scenario && r.conns === conns);
const n = (x, digits = 0) =>
  x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const cpuPer1k = (r) => (r && r.flows ? (r.cpu / r.flows) * 1000 : undefined);
// The server's CPU, then in brackets that of the stores it leans on (PostgreSQL, Redis)
// when bench/run could read it.
const storesPer1k = (r) => (r && r.flows && r.stores_cpu ? (r.stores_cpu / r.flows) * 1000 : undefined);
const cpuCell = (r, digits = 3) => {
  const stores = storesPer1k(r);
  const own = n(cpuPer1k(r), digits);
  return stores === undefined ? own : `${own} (+${n(stores, digits)})`;
};
const cells = (r) =>
  r
    ? [n(r.fps), n(r.p50_ms, 2), n(r.p99_ms, 2), n(r.errors), cpuCell(r), n(r.peak_rss_mb, 0)]
    : ['–', '–', '–', '–', '–', '–'];
const ratio = (ours, ref) => (ours && ref && ref.fps ? `${n(ours.fps / ref.fps, 1)}×` : '–');

// The reference, each way it ran.
const references = [
  ['node', 'in-memory'],
  ['node-redis', 'Redis'],
].filter(([target]) => rows.some((r) => r.target === target));

const scenarios = [
  'discovery',
  'jwks',
  'client_credentials_es256',
  'client_credentials_rs256',
  'introspection',
  'userinfo',
  'sso_round_trip',
  'refresh',
];

console.log(readFileSync(join(work, 'notes'), 'utf8'));
// The reference alone (bench/run --only node --only node-redis).
if (!rows.some((r) => r.target === 'embedded' || r.target === 'postgres') && references.length) {
  console.log('\n### node-oidc-provider\n');
  const head = ['scenario', 'conns'];
  for (const [, label] of references) {
    head.push(`node ${label} /s`, 'p50 ms', 'p99 ms', 'errors', 'CPU s per 1k', 'peak RSS MB');
  }
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${'---|'.repeat(head.length)}`);
  for (const scenario of scenarios) {
    for (const conns of [16, 64]) {
      const refs = references.map(([target]) => find(target, scenario, conns));
      if (refs.every((r) => !r)) continue;
      console.log(`| ${[scenario, conns, ...refs.flatMap(cells)].join(' | ')} |`);
    }
  }
}
for (const backend of ['embedded', 'postgres']) {
  if (!rows.some((r) => r.target === backend && !r.scenario.startsWith('password_login_register'))) continue;
  console.log(`\n### citizen-idp (${backend === 'embedded' ? 'embedded: SQLite + in-process store' : 'PostgreSQL + Redis'}) beside node-oidc-provider\n`);
  const head = ['scenario', 'conns', 'citizen-idp /s', 'p50 ms', 'p99 ms', 'errors', 'CPU s per 1k', 'peak RSS MB'];
  for (const [, label] of references) {
    head.push(`node ${label} /s`, 'p50 ms', 'p99 ms', 'errors', 'CPU s per 1k', 'peak RSS MB', `× ${label}`);
  }
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${'---|'.repeat(head.length)}`);
  for (const scenario of scenarios) {
    for (const conns of [16, 64]) {
      const ours = find(backend, scenario, conns);
      const refs = references.map(([target]) => find(target, scenario, conns));
      if (!ours && refs.every((r) => !r)) continue;
      const line = [scenario, conns, ...cells(ours)];
      for (const ref of refs) line.push(...cells(ref), ratio(ours, ref));
      console.log(`| ${line.join(' | ')} |`);
    }
  }
  // The high-assurance steps, each beside the one before it: what a signature
  // (private_key_jwt), a DPoP proof, PAR and an encrypted ID token cost the server.
  const steps = [
    ['client_credentials_es256', 'client_credentials, client_secret_basic'],
    ['client_credentials_key', '+ private_key_jwt (ES256 assertion)'],
    ['client_credentials_key_dpop', '+ DPoP proof, bound token'],
    ['sso_round_trip', 'SSO round trip, client_secret_basic'],
    ['sso_par_dpop', 'FAPI 2.0: PAR + private_key_jwt ×2 + DPoP'],
    ['sso_par_dpop_jwe', '+ encrypted ID token (ECDH-ES+A256KW, A256GCM)'],
  ];
  if (steps.slice(1).some(([s]) => find(backend, s, 16))) {
    console.log(`\n#### High-assurance steps (${backend}): server CPU per 1,000 flows\n`);
    console.log('| scenario | conns | flows /s | p50 ms | p99 ms | errors | CPU s per 1k | added CPU s per 1k |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const conns of [16, 64]) {
      steps.forEach(([scenario, label], i) => {
        const r = find(backend, scenario, conns);
        if (!r) return;
        const prev = i % 3 === 0 ? undefined : find(backend, steps[i - 1][0], conns);
        const added = prev ? cpuPer1k(r) - cpuPer1k(prev) : undefined;
        console.log(`| ${label} | ${conns} | ${n(r.fps)} | ${n(r.p50_ms, 2)} | ${n(r.p99_ms, 2)} | ${n(r.errors)} | ${n(cpuPer1k(r), 3)} | ${n(added, 3)} |`);
      });
    }
  }
  const storm = find(backend, 'password_login', 64);
  const during = find(backend, 'password_login_cc', 16);
  const alone = find(backend, 'client_credentials_es256', 16);
  if (storm) {
    console.log(`\nPassword logins (${backend}), 64 connections, the demo citizen on the demo register: ${n(storm.fps, 1)} logins/s, p50 ${n(storm.p50_ms, 1)} ms, p99 ${n(storm.p99_ms, 1)} ms per request, ${n(storm.errors)} errors (${n(storm.busy)} of them "busy" 503s), CPU ${cpuCell(storm, 2)} s per 1k logins, peak RSS ${n(storm.peak_rss_mb, 0)} MB.`);
  }
  if (during) {
    console.log(`client_credentials at 16 connections during the storm: ${n(during.fps)} /s, p50 ${n(during.p50_ms, 2)} ms, p99 ${n(during.p99_ms, 2)} ms, ${n(during.errors)} errors` +
      (alone ? ` (alone: ${n(alone.fps)} /s, p99 ${n(alone.p99_ms, 2)} ms).` : '.'));
  }
}

// The login storm as the register grows (bench/run --register N).
const registerRows = rows.filter((r) => r.scenario === 'password_login_register');
if (registerRows.length) {
  console.log('\n### The login storm as the register grows\n');
  console.log('Each storm: 64 connections of password logins, each login one of the drawn citizens in turn; client_credentials at 16 connections beside it. CPU in brackets: PostgreSQL and Redis.\n');
  console.log('| backend | citizens in the register | generated in | citizens logging in | logins/s | p50 ms | p99 ms | errors (of which busy) | CPU s per 1k logins | peak RSS MB | client_credentials beside: /s, p99 ms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of registerRows) {
    const cc = rows.find((c) => c.target === r.target && c.scenario === 'password_login_register_cc' && c.register === r.register);
    const generated = r.generate_secs ? `${n(r.generate_secs, 1)} s` : '–';
    console.log(`| ${r.target} | ${n(r.register)} | ${generated} | ${n(r.citizens)} | ${n(r.fps, 1)} | ${n(r.p50_ms, 1)} | ${n(r.p99_ms, 1)} | ${n(r.errors)} (${n(r.busy)}) | ${cpuCell(r, 2)} | ${n(r.peak_rss_mb, 0)} | ${cc ? `${n(cc.fps)}, ${n(cc.p99_ms, 1)}` : '–'} |`);
  }
}
