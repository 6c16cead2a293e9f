#!/usr/bin/env node
/*
 * bench/cedar/wasm.cjs: the cedar-wasm side of bench/cedar (bench/cedar/run.sh), measured
 * exactly as bench/cedar_bench.c measures warden, on the same test files.
 *
 *   node bench/cedar/wasm.cjs [--wasm DIR] [--seconds S] [--reps R] [--samples N] [--every E]
 *                             [--requests Q] [--slice] [--mem] NAME ROOT PATH...
 *   node bench/cedar/wasm.cjs [--wasm DIR] --check        (exit 0 when cedar-wasm loads)
 *
 * API: the reference's fastest entry point, statefulIsAuthorized, over a policy set (and
 * schema) pre-parsed once per file with preparsePolicySet / preparseSchema; entities cannot
 * be pre-parsed in cedar-wasm, so each call passes them as JS objects (built once, reused).
 * --slice passes, per request, only the entities a decision can read in the mesh sets: the
 * principal, action and resource and their ancestors (warden reads its whole frozen store);
 * the decisions are compared with warden's by run.sh to show the slice is enough.
 *
 * Per file: warm-up pass (counts, expected decisions), then passes timed as a block in CPU
 * time (at least R, default 10, and until the file's share of S seconds), then per-call
 * wall-clock timing for
 * the median and p99 (N samples over the run, default 20,000, but at least one pass per file
 * and no more than the file's share of S seconds once that pass is done). Prints
 *   cedar_wasm: set=NAME files=F policies=P requests=Q decisions=N seconds=S rate=R
 *   median_us=M p99_us=X mem_per_policy=B allow=A deny=D reasons=RS errors=ES
 *   expected=OK/T failed=N version=V
 * failed: requests cedar-wasm refused (e.g. an entity attribute beyond 2^53, which a JS number
 * cannot carry into the API). mem_per_policy (with --mem, else "-"): memory retained per
 * policy by a pre-parsed policy set, measured as the growth of the wasm linear memory while
 * pre-parsing 9 to 199 more copies of the set (about 20,000 policies in all; not measured
 * for sets over 2,000 policies, where too few copies would fit in the parser's high-water
 * mark to give a figure).
 */
'use strict';
/*
 * Node 20's V8 (11.3) can die with a fatal "unreachable code" in its deoptimizer when code
 * that inlined a JS-to-Wasm call is deoptimized during the call (seen in tests/cedar/diff-wasm).
 * Turn that inlining off; it costs nanoseconds against calls of tens of microseconds.
 */
require('v8').setFlagsFromString('--no-turbo-inline-js-wasm-calls');
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const usage = 'usage: bench/cedar/wasm.cjs [--wasm DIR] [--seconds S] [--reps R] [--samples N] [--every E] [--requests Q] [--slice] [--mem] NAME ROOT PATH...\n' +
  '       bench/cedar/wasm.cjs [--wasm DIR] --check';
const opt = { wasm: process.env.CEDAR_WASM || '', seconds: 0, reps: 10, samples: 20000, every: 1, requests: 0, mem: false, slice: false, check: false };
const args = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--wasm') opt.wasm = process.argv[++i];
  else if (a === '--seconds') opt.seconds = Number(process.argv[++i]);
  else if (a === '--reps') opt.reps = Number(process.argv[++i]);
  else if (a === '--samples') opt.samples = Number(process.argv[++i]);
  else if (a === '--every') opt.every = Number(process.argv[++i]);
  else if (a === '--requests') opt.requests = Number(process.argv[++i]);
  else if (a === '--slice') opt.slice = true;
  else if (a === '--mem') opt.mem = true;
  else if (a === '--check') opt.check = true;
  else if (a.startsWith('--')) { console.error(usage); process.exit(2); }
  else args.push(a);
}
if (!(opt.seconds >= 0) || !(opt.reps >= 1) || !(opt.samples >= 0) || !(opt.every >= 1) || !(opt.requests >= 0) || (!opt.check && args.length < 3)) {
  console.error(usage);
  process.exit(2);
}

/* Catch the module's WebAssembly memory as it is instantiated (it is not exported). */
let wasmMemory = null;
const OrigInstance = WebAssembly.Instance;
WebAssembly.Instance = function (mod, imports) {
  const inst = new OrigInstance(mod, imports);
  for (const v of Object.values(inst.exports)) if (v instanceof WebAssembly.Memory) wasmMemory = v;
  return inst;
};
function loadCedar() {
  const bases = [];
  if (opt.wasm) {
    const d = path.resolve(opt.wasm);
    const pkg = path.join(d, 'nodejs', 'cedar_wasm.js');
    if (fs.existsSync(pkg)) return require(pkg);
    bases.push(path.join(d, 'x.js'), path.join(d, 'node_modules', 'x.js'));
  } else {
    bases.push(__filename);
  }
  for (const b of bases) {
    try {
      const r = createRequire(b);
      return r(r.resolve('@cedar-policy/cedar-wasm/nodejs'));
    } catch (e) { /* next */ }
  }
  return null;
}
const cedar = loadCedar();
WebAssembly.Instance = OrigInstance;
if (cedar === null) {
  console.error('cedar-wasm: cannot load @cedar-policy/cedar-wasm (npm install it in DIR, then CEDAR_WASM=DIR or --wasm DIR)');
  process.exit(2);
}
if (opt.check) process.exit(0);

const [name, root, ...paths] = args;

function walk(rel, out, depth) {
  const full = path.join(root, rel);
  const st = fs.statSync(full);
  if (!st.isDirectory()) {
    if (rel.endsWith('.json') && !rel.endsWith('.entities.json')) out.push(rel);
    return;
  }
  if (depth > 8) return;
  for (const e of fs.readdirSync(full)) if (!e.startsWith('.')) walk(rel ? `${rel}/${e}` : e, out, depth + 1);
}
const all = [];
for (const p of paths) walk(p, all, 0);
all.sort();
const files = [];
for (let i = 0; i < all.length; i += opt.every) files.push(all[i]);

const now = () => process.hrtime.bigint();
const cpuNs = () => {
  const u = process.cpuUsage();
  return BigInt(u.user + u.system) * 1000n;
};
const keyOf = (u) => {
  const x = u.__entity || u;
  return `${x.type}\u0000${x.id}`;
};

/* The entities a decision can read: the request's uids and their ancestors. */
function sliceFor(req, byKey) {
  const seen = new Set();
  const out = [];
  const stack = [req.principal, req.action, req.resource];
  while (stack.length > 0) {
    const k = keyOf(stack.pop());
    if (seen.has(k)) continue;
    seen.add(k);
    const e = byKey.get(k);
    if (e === undefined) continue;
    out.push(e);
    for (const p of e.parents) stack.push(p);
  }
  return out;
}

const res = {
  files: 0, policies: 0, requests: 0, decisions: 0, ns: 0n, samples: [], allow: 0, deny: 0,
  reasons: 0, errors: 0, expOk: 0, expTotal: 0, failed: 0, mem: 0, memPolicies: 0,
};
const budgetNs = BigInt(Math.floor((opt.seconds * 1e9) / Math.max(files.length, 1)));
const wantSamples = Math.floor(opt.samples / Math.max(files.length, 1)) + 1;

for (const rel of files) {
  const t = JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8'));
  if (typeof t.policies !== 'string' || !Array.isArray(t.requests)) continue;
  if (opt.requests > 0) t.requests = t.requests.slice(0, opt.requests);
  const text = fs.readFileSync(path.join(root, t.policies), 'utf8');
  const entities = t.entities ? JSON.parse(fs.readFileSync(path.join(root, t.entities), 'utf8')) : [];
  let schemaName;
  if (t.schema) {
    const s = fs.readFileSync(path.join(root, t.schema), 'utf8');
    const r = cedar.preparseSchema('bench', t.schema.endsWith('.json') ? JSON.parse(s) : s);
    if (r.type !== 'success') { res.failed += t.requests.length; continue; }
    schemaName = 'bench';
  }
  const pr = cedar.preparsePolicySet('bench', { staticPolicies: text });
  if (pr.type !== 'success') { res.failed += t.requests.length; continue; }
  const parts = cedar.policySetTextToParts(text);
  const npol = parts.type === 'success' ? parts.policies.length : 0;
  res.files++;
  res.policies += npol;
  if (opt.mem && wasmMemory && npol > 0 && npol <= 2000) {
    /* Retained memory: pre-parse more copies of the set (parser temporaries are already at
     * their high-water mark after the first) and divide the growth of the linear memory
     * (64 KiB pages) by the policies added. */
    const copies = Math.min(200, Math.ceil(20000 / npol));
    const m0 = wasmMemory.buffer.byteLength;
    for (let k = 1; k < copies; k++) cedar.preparsePolicySet(`bench-copy-${k}`, { staticPolicies: text });
    res.mem += (wasmMemory.buffer.byteLength - m0) / ((copies - 1) * npol) * npol;
    res.memPolicies += npol;
  }
  const byKey = new Map();
  if (opt.slice) for (const e of entities) byKey.set(keyOf(e.uid), e);
  const calls = [];
  for (const r of t.requests) {
    const call = {
      principal: r.principal, action: r.action, resource: r.resource, context: r.context || {},
      entities: opt.slice ? sliceFor(r, byKey) : entities, preparsedPolicySetId: 'bench', validateRequest: false,
    };
    if (schemaName) call.preparsedSchemaName = schemaName;
    calls.push(call);
  }
  res.requests += calls.length;
  if (calls.length === 0) continue;
  /* warm-up */
  for (let i = 0; i < calls.length; i++) {
    const a = cedar.statefulIsAuthorized(calls[i]);
    if (a.type !== 'success') { res.failed++; continue; }
    const allow = a.response.decision === 'allow';
    if (allow) res.allow++; else res.deny++;
    res.reasons += a.response.diagnostics.reason.length;
    res.errors += a.response.diagnostics.errors.length;
    const exp = t.requests[i].decision;
    if (typeof exp === 'string') {
      res.expTotal++;
      if ((exp.toLowerCase() === 'allow') === allow) res.expOk++;
    }
  }
  /* throughput, in CPU time (user + system, all threads: the JS glue's garbage collection
   * counts) */
  const t0 = cpuNs();
  let el = 0n;
  let passes = 0;
  while (passes < opt.reps || el < budgetNs) {
    for (let i = 0; i < calls.length; i++) cedar.statefulIsAuthorized(calls[i]);
    passes++;
    el = cpuNs() - t0;
  }
  res.ns += el;
  res.decisions += passes * calls.length;
  /* latency: one pass, then more until enough samples or the time share is used */
  let got = 0;
  const l0 = now();
  do {
    for (let i = 0; i < calls.length; i++) {
      const a = now();
      cedar.statefulIsAuthorized(calls[i]);
      res.samples.push(Number(now() - a));
      got++;
    }
  } while (got < wantSamples && now() - l0 < budgetNs);
}
if (res.files === 0 || res.decisions === 0) {
  console.error(`cedar-wasm: no test file could be run under ${root}/${paths.join(' ')}`);
  process.exit(1);
}
const s = Float64Array.from(res.samples).sort();
const q = (p) => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
const secs = Number(res.ns) / 1e9;
console.log(`cedar_wasm: set=${name} files=${res.files} policies=${res.policies} requests=${res.requests} ` +
  `decisions=${res.decisions} seconds=${secs.toFixed(3)} rate=${(res.decisions / secs).toFixed(0)} ` +
  `median_us=${(q(0.5) / 1e3).toFixed(3)} p99_us=${(q(0.99) / 1e3).toFixed(3)} ` +
  `mem_per_policy=${res.memPolicies > 0 ? (res.mem / res.memPolicies).toFixed(0) : '-'} allow=${res.allow} deny=${res.deny} ` +
  `reasons=${res.reasons} errors=${res.errors} expected=${res.expOk}/${res.expTotal} failed=${res.failed} ` +
  `version=${cedar.getCedarVersion()}`);
