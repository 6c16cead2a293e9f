#!/usr/bin/env node
/*
 * Differential test of warden's Cedar extension types (lib/cedar/ext.c) against the reference
 * implementation, @cedar-policy/cedar-wasm. Not part of CI (needs Node >= 18 and the npm
 * package).
 *
 *   node tests/cedar/ext-diff.mjs [--n 3000] [--seed 1] [--wasm DIR] [--probe PATH]
 *                                 [--cases FILE] [-v]
 *
 * --wasm DIR: directory holding node_modules/@cedar-policy/cedar-wasm (default: $CEDAR_WASM,
 *             else the usual Node resolution from this directory).
 * --probe:    the warden probe built by `make` (default build/debug/tools/cedar_ext_probe).
 * --cases:    also check fixed cases, one JSON array per line: ["decimal", "1.23"],
 *             ["inrange", "10.0.0.1", "10.0.0.0/8"], ["todate", "-1"] (kinds as below;
 *             integers as strings). `--n 0 --cases F` checks only those.
 * --unit:     also check every input of the tables in tests/unit/test_cedar_ext.c, so the
 *             unit test's expectations (which the unit test holds warden to) are confirmed
 *             by the reference too: `--n 0 --unit`.
 *
 * It generates random strings around each grammar (valid values, edge values and mutations),
 * runs them through the probe, turns each probe answer into a Cedar expression that must be
 * `true` in the reference (e.g. decimal("<input>") == decimal("<warden's canonical text>"),
 * or decimal("<input>") == decimal("<input>") raising an error when warden rejects the input),
 * evaluates those in batches through isAuthorized, and reports every disagreement. The last
 * line is "ext-diff: N cases, N disagreements".
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/* ---------- options ---------- */
const opt = { n: 3000, seed: 1, wasm: process.env.CEDAR_WASM || '', probe: '', cases: '', unit: false, verbose: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--n') opt.n = Number(process.argv[++i]);
  else if (a === '--seed') opt.seed = Number(process.argv[++i]);
  else if (a === '--wasm') opt.wasm = process.argv[++i];
  else if (a === '--probe') opt.probe = process.argv[++i];
  else if (a === '--cases') opt.cases = process.argv[++i];
  else if (a === '--unit') opt.unit = true;
  else if (a === '-v') opt.verbose = true;
  else {
    console.error('usage: ext-diff.mjs [--n N] [--seed S] [--wasm DIR] [--probe PATH] [--cases FILE] [--unit] [-v]');
    process.exit(2);
  }
}
if (!opt.probe) opt.probe = path.join(root, 'build', 'debug', 'tools', 'cedar_ext_probe');

async function loadCedar() {
  const req = createRequire(opt.wasm ? path.join(path.resolve(opt.wasm), 'x.js') : import.meta.url);
  const entry = req.resolve('@cedar-policy/cedar-wasm/nodejs');
  return import(pathToFileURL(entry).href);
}
const cedar = await loadCedar();

/* ---------- deterministic random numbers (mulberry32) ---------- */
let rngState = opt.seed >>> 0;
function rnd() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1)); /* inclusive */
const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
const chance = (p) => rnd() < p;
const digits = (k) => Array.from({ length: k }, () => String(ri(0, 9))).join('');
const pad = (v, w) => String(v).padStart(w, '0');

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
function randI64() {
  const r = rnd();
  if (r < 0.15) return pick([I64_MIN, I64_MAX, I64_MIN + 1n, I64_MAX - 1n, 0n, -1n, 1n]);
  if (r < 0.3) return clampI64(pick([I64_MIN, I64_MAX]) + BigInt(ri(-86400001, 86400001)));
  if (r < 0.6) return BigInt(ri(-2e9, 2e9)) * BigInt(ri(1, 1e6)) + BigInt(ri(-86400000, 86400000));
  let v = 0n;
  for (let i = 0; i < 4; i++) v = (v << 16n) | BigInt(ri(0, 65535));
  return BigInt.asIntN(64, v);
}
const clampI64 = (v) => (v < I64_MIN ? I64_MIN : v > I64_MAX ? I64_MAX : v);

/* Mutate a string: insert, delete, replace or duplicate characters from a grammar alphabet. */
const NOISE = ['٣', '１', 'é', '\n', '\t', ' ', '\u0000', 'x', '\\', '"'];
function mutate(s, alphabet) {
  const k = ri(1, 3);
  for (let j = 0; j < k; j++) {
    const chars = [...s];
    const at = ri(0, chars.length);
    const c = chance(0.9) ? pick(alphabet) : pick(NOISE);
    switch (ri(0, 3)) {
      case 0: chars.splice(at, 0, c); break;
      case 1: chars.splice(at, 1); break;
      case 2: chars.splice(at, 1, c); break;
      default: chars.splice(at, 0, ...chars.slice(at, at + ri(1, 3)));
    }
    s = chars.join('');
  }
  return s;
}

/* ---------- generators ---------- */
function genDecimal() {
  const r = rnd();
  if (r < 0.15) {
    return pick(['922337203685477.5807', '922337203685477.5808', '-922337203685477.5808',
      '-922337203685477.5809', '0.0', '-0.0', '0.0001', '-0.0001', '00.000', '1.0000',
      '1.00000', '922337203685478.0', '-922337203685478.0', '922337203685477.58070',
      '9223372036854775807.0', '9223372036854775808.0', '-9223372036854775808.0',
      '99999999999999999999.00000', '0000000000000000000000001.5', '-0.5', '1', '.5', '1.',
      '+1.0', '1.0e3', '-', '.', '-.5', '']);
  }
  let s = (chance(0.4) ? '-' : '') + (chance(0.1) ? '0'.repeat(ri(1, 25)) : '') +
      digits(pick([1, 1, 2, 3, 5, 10, 14, 15, 15, 16, 19, 20]));
  s += '.' + digits(pick([1, 2, 3, 4, 4, 5]));
  return chance(0.3) ? mutate(s, [...'0123456789.-+eE']) : s;
}

function genV4() {
  const oct = () => (chance(0.05) ? pick(['256', '00', '01', '999', '0001', '']) : String(pick([0, 1, 10, 127, 224, 239, 240, 255, ri(0, 255)])));
  let s = [oct(), oct(), oct(), oct()].join('.');
  if (chance(0.5)) s += '/' + (chance(0.08) ? pick(['', '00', '08', '33', '+8', '100', '-1', '032']) : String(ri(0, 32)));
  return s;
}
function genV6() {
  const g = Array.from({ length: 8 }, () => (chance(0.45) ? 0 : pick([1, 0xffff, 0xff00, 0xfe80, 0x7f00, ri(0, 65535)])));
  if (chance(0.15)) { g.fill(0); if (chance(0.5)) g[7] = 1; }
  if (chance(0.1)) { g.fill(0); g[5] = 0xffff; }
  let parts = g.map((x) => {
    let h = x.toString(16);
    if (chance(0.2)) h = h.padStart(ri(h.length, 4), '0');
    if (chance(0.03)) h = '0' + h.padStart(4, '0');
    return chance(0.3) ? h.toUpperCase() : h;
  });
  let s;
  if (chance(0.7)) {
    /* compress a run [a, b) with b - a >= 1 (zero or not: non-zero runs test acceptance only) */
    const a = ri(0, 7);
    const b = ri(a + 1, 8);
    const head = parts.slice(0, a).join(':');
    const tail = parts.slice(b).join(':');
    s = head + '::' + tail;
    if (chance(0.05)) s = parts.join(':') + '::';
  } else {
    s = parts.join(':');
    if (chance(0.05)) s += ':' + parts[0];
  }
  if (chance(0.05)) s = s.replace(/[0-9a-f]+$/i, '1.2.3.4');
  if (chance(0.5)) s += '/' + (chance(0.08) ? pick(['', '00', '064', '129', '0128', '1280', '+8']) : String(pick([0, 7, 8, 64, 127, 128, ri(0, 128)])));
  return s;
}
function genIp() {
  const r = rnd();
  if (r < 0.1) {
    return pick(['127.0.0.1', '127.0.0.1/8', '127.0.0.1/7', '::1', '::1/127', '::ffff:7f00:1',
      '::ffff:1.2.3.4', '::1.2.3.4', 'fe80::1%eth0', '[::1]', '1:2:3:4:5:6:7::8',
      '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '0000:0000:0000:0000:0000:0000:0000:0000/128',
      '0000:0000:0000:0000:0000:0000:0000:0000/0128', '255.255.255.255/32', '::/0', '0.0.0.0/0',
      '224.0.0.0/4', 'ff00::/8', 'ff00::/7', '1.2.3.4:80', ' 1.2.3.4', '1.2.3.4/8/8', '']);
  }
  const s = chance(0.5) ? genV4() : genV6();
  return chance(0.25) ? mutate(s, [...'0123456789abcdefABCDEF.:/']) : s;
}

function genDatetime() {
  if (chance(0.08)) {
    return pick(['1970-01-01', '0000-01-01', '9999-12-31T23:59:59.999Z', '2016-12-31T23:59:60Z',
      '2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '2024-01-01T24:00:00Z',
      '2024-01-01T00:00:00', '2024-01-01T00:00:00.1Z', '2024-01-01T00:00:00+24:00',
      '0000-01-01T00:00:00+2359', '9999-12-31T23:59:59-2359', '10000-01-01', '+2024-01-01',
      '2024-01-01t00:00:00Z', '2024-01-01T00:00:00z', '2024-01-01 00:00:00Z', '']);
  }
  const y = chance(0.1) ? pick([0, 1, 1969, 1970, 9999]) : ri(0, 9999);
  const mo = chance(0.05) ? pick([0, 13, 99]) : ri(1, 12);
  const d = chance(0.1) ? pick([0, 29, 30, 31, 32]) : ri(1, 28);
  let s = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`;
  if (chance(0.75)) {
    const h = chance(0.05) ? pick([24, 25, 99]) : ri(0, 23);
    const mi = chance(0.05) ? pick([60, 61]) : ri(0, 59);
    const se = chance(0.05) ? pick([60, 61]) : ri(0, 59);
    s += `T${pad(h, 2)}:${pad(mi, 2)}:${pad(se, 2)}`;
    if (chance(0.5)) s += '.' + digits(chance(0.9) ? 3 : pick([1, 2, 4]));
    if (chance(0.4)) s += 'Z';
    else {
      const oh = chance(0.05) ? pick([24, 99]) : ri(0, 23);
      const om = chance(0.05) ? pick([60, 99]) : ri(0, 59);
      s += pick(['+', '-']) + pad(oh, 2) + pad(om, 2);
    }
  }
  return chance(0.2) ? mutate(s, [...'0123456789-:T.Z+']) : s;
}

function genDuration() {
  if (chance(0.08)) {
    return pick(['', '-', '-0ms', '0d', '1h1d', '1d1d', '1D', '+1d', '1.5h', '1', 'ms',
      '-9223372036854775808ms', '9223372036854775808ms', '9223372036854775807ms',
      '106751991167d', '106751991168d', '18446744073709551616ms', '18446744073709551615ms',
      '-106751991167d12h', '00001d', '1d ', '1m1ms', '1ms1m', '2562047788015215h',
      '-2562047788015215h30m8s', '153722867280912930m', '9223372036854775s807ms',
      '-9223372036854775s808ms']);
  }
  const units = ['d', 'h', 'm', 's', 'ms'];
  let s = chance(0.4) ? '-' : '';
  let any = false;
  for (const u of units) {
    if (chance(0.45)) {
      const big = chance(0.15);
      s += (big ? digits(ri(12, 21)) : String(ri(0, 100000))) + u;
      any = true;
    }
  }
  if (!any) s += ri(0, 1000) + pick(units);
  return chance(0.25) ? mutate(s, [...'0123456789dhms-']) : s;
}

/* ---------- Cedar text helpers ---------- */
function lit(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else out += `\\u{${cp.toString(16)}}`;
  }
  return out + '"';
}
const hex = (s) => 'x' + Buffer.from(s, 'utf8').toString('hex');
const EPOCH = 'datetime("1970-01-01")';
const dt = (ms) => `${EPOCH}.offset(duration("${ms}ms"))`;

/* ---------- build the cases ---------- */
const cases = []; /* {kind, input, probeLine, check(answer) -> [{expr, want, note}]} */

function addParse(kind, input) {
  cases.push({ kind, input, line: `${kind} ${hex(input)}` });
}
function addRaw(kind, input, line) {
  cases.push({ kind, input, line });
}

/* The inputs of the unit test's tables, read from its C source. */
function unitRows() {
  const src = readFileSync(path.join(root, 'tests', 'unit', 'test_cedar_ext.c'), 'utf8');
  const block = (name) => {
    const m = src.match(new RegExp(`static const struct \\w+ ${name}\\[\\] = \\{([\\s\\S]*?)\\n\\};`));
    if (!m) throw new Error(`table ${name} not found`);
    return m[1];
  };
  /* C string literal(s) -> JS string (UTF-8) */
  const cstr = (lits) => {
    const bytes = [];
    for (const [, lit] of lits.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
      for (let i = 0; i < lit.length; i++) {
        if (lit[i] !== '\\') { bytes.push(...Buffer.from(lit[i])); continue; }
        const e = lit[++i];
        if (e === 'x') { bytes.push(parseInt(lit.slice(i + 1, i + 3), 16)); i += 2; }
        else bytes.push({ 0: 0, n: 10, t: 9, '"': 34, '\\': 92 }[e]);
      }
    }
    return Buffer.from(bytes).toString('utf8');
  };
  const int = (t) => ({ INT64_MIN: String(I64_MIN), INT64_MAX: String(I64_MAX) })[t] || t;
  const rows = [];
  for (const [name, kind] of [['dec_cases', 'decimal'], ['ip_cases', 'ip'], ['dt_cases', 'datetime'], ['dur_cases', 'duration']]) {
    for (const m of block(name).matchAll(/\{S\(((?:"(?:[^"\\]|\\.)*"\s*)+)\)/g)) rows.push([kind, cstr(m[1])]);
  }
  for (const [name, kind] of [['in_range_cases', 'inrange'], ['eq_cases', 'ipeq']]) {
    for (const m of block(name).matchAll(/\{"([^"]*)", "([^"]*)"/g)) rows.push([kind, m[1], m[2]]);
  }
  for (const m of block('date_cases').matchAll(/\{(-?\w+), WD_/g)) rows.push(['todate', int(m[1])]);
  for (const m of block('dt_fmt_cases').matchAll(/\{(-?\w+), /g)) rows.push(['dtfmt', int(m[1])]);
  for (const m of block('dec_fmt_cases').matchAll(/\{-?\w+, "([^"]*)"\}/g)) rows.push(['decimal', m[1]]);
  for (const m of src.matchAll(/wd_cedar_datetime_(offset|since)\((-?\w+), (-?\w+), &v\)/g)) {
    rows.push([m[1], int(m[2]), int(m[3])]);
  }
  return rows;
}

const fixedRows = [];
if (opt.cases) {
  for (const row of readFileSync(opt.cases, 'utf8').split('\n')) {
    if (row.trim()) fixedRows.push(JSON.parse(row));
  }
}
if (opt.unit) fixedRows.push(...unitRows());
{
  for (const [kind, ...args] of fixedRows) {
    if (['decimal', 'ip', 'datetime', 'duration'].includes(kind)) addParse(kind, args[0]);
    else if (kind === 'inrange' || kind === 'ipeq') addRaw(kind, args, `${kind} ${hex(args[0])} ${hex(args[1])}`);
    else if (['offset', 'since'].includes(kind)) addRaw(kind, args.map(BigInt), `${kind} ${args[0]} ${args[1]}`);
    else if (['todate', 'dtfmt'].includes(kind)) addRaw(kind, [BigInt(args[0])], `${kind} ${args[0]}`);
    else throw new Error(`unknown case kind: ${kind}`);
  }
}

const per = Math.floor(opt.n / 8);
for (let i = 0; i < per * 1.5; i++) addParse('decimal', genDecimal());
for (let i = 0; i < per * 2; i++) addParse('ip', genIp());
for (let i = 0; i < per * 1.5; i++) addParse('datetime', genDatetime());
for (let i = 0; i < per * 1.5; i++) addParse('duration', genDuration());
/* ip pairs: draw from a pool of related valid-looking addresses */
for (let i = 0; i < per * 0.75; i++) {
  const base = chance(0.5) ? genV4().split('/')[0] : genV6().split('/')[0];
  const a = chance(0.5) ? `${base}/${ri(0, base.includes(':') ? 128 : 32)}` : genIp();
  const b = chance(0.6) ? `${base}/${ri(0, base.includes(':') ? 128 : 32)}` : genIp();
  const op = chance(0.7) ? 'inrange' : 'ipeq';
  addRaw(op, [a, b], `${op} ${hex(a)} ${hex(b)}`);
}
/* arithmetic on random int64 values near the edges */
for (let i = 0; i < per * 0.75; i++) {
  const a = randI64();
  const b = chance(0.5) ? randI64() : BigInt(ri(-1e9, 1e9));
  const op = pick(['offset', 'since', 'todate', 'dtfmt']);
  if (op === 'todate' || op === 'dtfmt') {
    const v = op === 'dtfmt' && chance(0.7)
      ? BigInt(ri(-62167219200000 - 86400000, 253402300799999 + 86400000)) : a;
    addRaw(op, [v], `${op} ${v}`);
  } else addRaw(op, [a, b], `${op} ${a} ${b}`);
}

/* ---------- run the probe ---------- */
const input = cases.map((c) => c.line).join('\n') + '\n';
const pr = spawnSync(opt.probe, [], { input, maxBuffer: 1 << 28, encoding: 'utf8' });
if (pr.status !== 0 || pr.error) {
  console.error(`probe failed: ${pr.error || pr.stderr}`);
  process.exit(2);
}
const answers = pr.stdout.split('\n');
if (answers.length < cases.length) {
  console.error(`probe gave ${answers.length} lines for ${cases.length} cases`);
  process.exit(2);
}

/* ---------- turn answers into reference checks ---------- */
/* A check is an expression and the outcome the reference must give: 'true' or 'error'. */
const checks = [];
function want(c, expr, outcome, note) {
  checks.push({ c, expr, outcome, note });
}
cases.forEach((c, i) => {
  const a = answers[i].split(' ');
  c.answer = answers[i];
  if (a[0] === 'bad') throw new Error(`probe rejected line: ${c.line}`);
  const s = typeof c.input === 'string' ? lit(c.input) : null;
  switch (c.kind) {
    case 'decimal': {
      const e = `decimal(${s})`;
      if (a[0] === 'ok') {
        want(c, `${e} == decimal("${a[2]}")`, 'true', 'value');
        /* the scaled value, independently of the format function */
        const v = BigInt(a[1]);
        const lo = `${v < 0n ? '-' : ''}${(v < 0n ? -v : v) / 10000n}.${pad((v < 0n ? -v : v) % 10000n, 4)}`;
        want(c, `${e} == decimal("${lo}")`, 'true', 'scaled');
      } else want(c, `${e} == ${e}`, 'error', a[1]);
      break;
    }
    case 'ip': {
      const e = `ip(${s})`;
      if (a[0] === 'ok') {
        want(c, `${e} == ip("${a[1]}")`, 'true', 'value');
        want(c, `${e}.isIpv4() == ${a[2] === '4'} && ${e}.isIpv6() == ${a[2] === '6'}`, 'true', 'family');
        want(c, `${e}.isLoopback() == ${a[3] === '1'}`, 'true', 'loopback');
        want(c, `${e}.isMulticast() == ${a[4] === '1'}`, 'true', 'multicast');
      } else want(c, `${e} == ${e}`, 'error', a[1]);
      break;
    }
    case 'inrange':
    case 'ipeq': {
      const [x, y] = c.input.map((t) => `ip(${lit(t)})`);
      const e = c.kind === 'inrange' ? `${x}.isInRange(${y})` : `(${x} == ${y})`;
      if (a[0] === 'error') want(c, `${e} == ${e}`, 'error', a[1]);
      else want(c, `${e} == ${a[0]}`, 'true', c.kind);
      break;
    }
    case 'datetime': {
      const e = `datetime(${s})`;
      if (a[0] === 'ok') {
        want(c, `${e} == ${dt(a[1])}`, 'true', 'value');
        if (a[2] !== '-') want(c, `datetime("${a[2]}") == ${dt(a[1])}`, 'true', 'format');
      } else want(c, `${e} == ${e}`, 'error', a[1]);
      break;
    }
    case 'duration': {
      const e = `duration(${s})`;
      if (a[0] === 'ok') {
        want(c, `${e} == duration("${a[1]}ms")`, 'true', 'value');
        want(c, `${e} == duration("${a[6]}")`, 'true', 'format');
        want(c, `${e}.toDays() == ${a[2]} && ${e}.toHours() == ${a[3]} && ${e}.toMinutes() == ${a[4]} && ${e}.toSeconds() == ${a[5]}`, 'true', 'toX');
      } else want(c, `${e} == ${e}`, 'error', a[1]);
      break;
    }
    case 'offset':
    case 'since': {
      const [x, y] = c.input;
      const e = c.kind === 'offset' ? `${dt(x)}.offset(duration("${y}ms"))` : `${dt(x)}.durationSince(${dt(y)})`;
      if (a[0] === 'ok') want(c, `${e} == ${c.kind === 'offset' ? dt(a[1]) : `duration("${a[1]}ms")`}`, 'true', c.kind);
      else want(c, `${e} == ${e}`, 'error', a[1]);
      break;
    }
    case 'todate': {
      const x = dt(c.input[0]);
      if (a[0] === 'ok') {
        want(c, `${x}.toDate() == ${dt(a[1])}`, 'true', 'toDate');
        want(c, `${x}.toTime() == duration("${a[2]}ms")`, 'true', 'toTime');
      } else {
        want(c, `${x}.toDate() == ${x}.toDate()`, 'error', a[1]);
        want(c, `${x}.toTime() == duration("${a[2]}ms")`, 'true', 'toTime');
      }
      break;
    }
    case 'dtfmt': {
      const v = c.input[0];
      if (a[0] !== '-') want(c, `datetime("${a[0]}") == ${dt(v)}`, 'true', 'format');
      else {
        /* no literal: the value must lie outside years 0000..9999 */
        want(c, `${dt(v)} < datetime("0000-01-01") || ${dt(v)} > datetime("9999-12-31T23:59:59.999Z")`, 'true', 'no-format');
      }
      break;
    }
    default:
      throw new Error(c.kind);
  }
});

/* ---------- evaluate in batches ---------- */
function evalBatch(batch) {
  const pols = {};
  batch.forEach((k, i) => {
    pols[`p${i}`] = `permit(principal, action, resource) when { ${k.expr} };`;
  });
  const r = cedar.isAuthorized({
    principal: { type: 'U', id: 'a' }, action: { type: 'A', id: 'a' }, resource: { type: 'R', id: 'a' },
    context: {}, policies: { staticPolicies: pols }, entities: [],
  });
  if (r.type !== 'success') {
    if (batch.length === 1) return [{ got: 'parse failure', msg: JSON.stringify(r.errors) }];
    const mid = batch.length >> 1;
    return evalBatch(batch.slice(0, mid)).concat(evalBatch(batch.slice(mid)));
  }
  const out = batch.map(() => ({ got: 'false', msg: '' }));
  for (const id of r.response.diagnostics.reason) out[Number(id.slice(1))].got = 'true';
  for (const e of r.response.diagnostics.errors) {
    out[Number(e.policyId.slice(1))] = { got: 'error', msg: e.error.message };
  }
  return out;
}

let disagreements = 0;
let kindMismatch = 0;
const byKind = {};
const failedCases = new Set();
for (let i = 0; i < checks.length; i += 400) {
  const batch = checks.slice(i, i + 400);
  const res = evalBatch(batch);
  batch.forEach((k, j) => {
    const { got, msg } = res[j];
    if (got !== k.outcome) {
      disagreements++;
      failedCases.add(k.c);
      byKind[k.c.kind] = (byKind[k.c.kind] || 0) + 1;
      if (disagreements <= 40 || opt.verbose) {
        console.log(`DIFF ${k.c.kind} ${JSON.stringify(k.c.input)}: warden "${k.c.answer}", check [${k.note}] ${k.expr} -> reference ${got}${msg ? ` (${msg})` : ''}`);
      }
    } else if (got === 'error') {
      /* Both reject: compare the error category (overflow vs malformed), informational. */
      const refOverflow = /overflow/i.test(msg);
      if (refOverflow !== (k.note === 'elimit')) {
        kindMismatch++;
        if (opt.verbose) console.log(`KIND ${k.c.kind} ${JSON.stringify(k.c.input)}: warden ${k.note}, reference "${msg}"`);
      }
    }
  });
}
const counts = {};
for (const c of cases) {
  const k = (counts[c.kind] = counts[c.kind] || { cases: 0, accepted: 0 });
  k.cases++;
  if (!c.answer.startsWith('error') && c.answer !== '-') k.accepted++;
}
console.log(`cases per kind (accepted by warden): ${Object.entries(counts).map(([k, v]) => `${k} ${v.cases} (${v.accepted})`).join(', ')}`);
console.log(`reference checks: ${checks.length}; error-category differences (informational): ${kindMismatch}`);
if (disagreements) console.log(`disagreements per kind: ${JSON.stringify(byKind)}`);
console.log(`ext-diff: ${cases.length} cases, ${failedCases.size} disagreements`);
process.exit(disagreements ? 1 : 0);
