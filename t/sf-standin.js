// t/sf-standin.js — a Salesforce org on loopback, for the tests.
//
// Written from Salesforce's documentation (OAuth 2.0 JWT bearer and
// client-credentials flows; Bulk API 2.0 ingest and query jobs), not from
// what calltrail sends; t/sf-jsforce.js runs jsforce against it to keep it
// honest.  Two listeners, as in real life: the login host (token
// endpoint only) and the instance (the REST API only), so a client must
// use the instance_url it is given.
//
//   node t/sf-standin.js CONFIG.json
//
// CONFIG: {"loginPort": N, "instancePort": N, "cert": PEM file of the
// connected app's certificate, "consumerKey": S, "clientSecret": S,
// "username": S, "uploadMax": bytes per job (default 150 MB),
// "records": {"Lead": [...], "Contact": [...]}}.  It prints "ready" when
// both listeners are up.
//
// Admin (instance port, no auth): GET /__admin/records?object=Lead,
// POST /__admin/fault (JSON, see `faults`), GET /__admin/log (every
// request: method, path, status), GET /__admin/tokens (issued tokens, so a
// test can look for them in calltrail's output), GET /__admin/hung (how
// many requests the `hang` fault holds unanswered).
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const conf = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const publicKey = new crypto.X509Certificate(fs.readFileSync(conf.cert)).publicKey;
const loginUrl = `http://127.0.0.1:${conf.loginPort}`;
const instanceUrl = `http://127.0.0.1:${conf.instancePort}`;
const uploadMax = conf.uploadMax || 150 * 1000 * 1000;

// The objects: field name -> {type, length, label, updateable}.
const custom = {
  Last_Voice_Session__c: { type: 'string', length: 128, label: 'Last Voice Session' },
  Last_Voice_Call_Date__c: { type: 'datetime', label: 'Last Voice Call Date' },
  Voice_Qualification_Tier__c: { type: 'string', length: 255, label: 'Voice Qualification Tier' },
  Voice_Calls__c: { type: 'double', precision: 18, scale: 0, label: 'Voice Calls' },
};
const base = {
  Id: { type: 'id', label: 'Record ID', updateable: false },
  FirstName: { type: 'string', length: 40, label: 'First Name' },
  LastName: { type: 'string', length: 80, label: 'Last Name' },
  Email: { type: 'email', length: 80, label: 'Email' },
};
// An org's admin may have made a field shorter than docs/salesforce.md
// asks (conf.fieldLengths: {"Voice_Qualification_Tier__c": 100}): then
// Salesforce refuses the longer values row by row.
for (const [f, n] of Object.entries(conf.fieldLengths || {})) {
  if (custom[f]) custom[f] = Object.assign({}, custom[f], { length: n });
}
const objects = {
  Lead: Object.assign({}, base, {
    Company: { type: 'string', length: 255, label: 'Company' },
    IsConverted: { type: 'boolean', label: 'Converted', updateable: false },
  }, custom),
  Contact: Object.assign({}, base, custom),
};
const prefix = { Lead: '00Q', Contact: '003' };

// The org's records, keyed by the 18-character id.
const db = {};
let seq = 1;
function newId(p) {
  const id15 = p + '5g000' + String(seq++).padStart(7, '0');
  return id15 + 'AAA';   // the suffix's checksum is not modelled
}
for (const obj of Object.keys(objects)) {
  db[obj] = new Map();
  for (const r of (conf.records && conf.records[obj]) || []) {
    const rec = Object.assign({ IsConverted: false }, r);
    if (obj !== 'Lead') delete rec.IsConverted;
    rec.Id = rec.Id || newId(prefix[obj]);
    db[obj].set(rec.Id, rec);
  }
}
function findRecord(obj, id) {
  if (id.length === 18) return db[obj].get(id);
  if (id.length === 15) for (const [k, v] of db[obj]) if (k.slice(0, 15) === id) return v;
  return undefined;
}

// Fault switches: counters that fire on the next requests.
const faults = {
  limit: 0,           // 403 REQUEST_LIMIT_EXCEEDED on the next N API requests
  serverError: 0,     // 503 on the next N API requests
  tokenError: 0,      // 503 on the next N token requests
  expireAfter: -1,    // after N more API requests every session is invalid
  failJob: '',        // 'ingest' or 'query': the next such job ends Failed
  abortJob: '',       // 'ingest' or 'query': the next such job is Aborted
  neverComplete: false,
  delayMs: 30,        // each state step takes this long
  hang: null,         // {method, path (a regex)}: such API requests are never answered
  huge: 0,            // the next N API JSON replies carry 2 MiB of padding
};
const hung = [];      // the requests held by `hang` (GET /__admin/hung counts them)
const tokens = new Set();
const issued = [];
const log = [];

// ---- HTTP helpers ----------------------------------------------------------
function send(res, status, body, type, headers) {
  if (faults.huge > 0 && body !== undefined && typeof body !== 'string' && !Array.isArray(body) &&
      res.req && !res.req.url.startsWith('/__admin') && res.req.socket.localPort === conf.instancePort) {
    faults.huge--;
    body = Object.assign({}, body, { padding: ' '.repeat(2 * 1024 * 1024) });
  }
  res.writeHead(status, Object.assign({ 'Content-Type': type || 'application/json;charset=UTF-8' }, headers || {}));
  res.end(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
}
function apiError(res, status, code, message) {
  send(res, status, [{ errorCode: code, message }]);
}
function readBody(req, max) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > max) { reject(Object.assign(new Error('too large'), { tooLarge: true })); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---- OAuth 2.0 token endpoint (login host) ---------------------------------
function b64urlJson(s) { return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')); }
function grant(res) {
  const token = '00D5g000000STAND!' + crypto.randomBytes(48).toString('base64url');
  tokens.add(token);
  issued.push(token);
  send(res, 200, {
    access_token: token, instance_url: instanceUrl,
    id: `${loginUrl}/id/00D5g000000STAND/0055g000000INTEG`, token_type: 'Bearer',
    issued_at: String(Date.now()), scope: 'api',
    signature: crypto.randomBytes(32).toString('base64'),
  });
}
function tokenError(res, status, error, description) {
  send(res, status, { error, error_description: description });
}
async function token(req, res) {
  if (req.method !== 'POST') return tokenError(res, 400, 'invalid_request', 'must use HTTP POST');
  if (faults.tokenError > 0) { faults.tokenError--; return send(res, 503, 'Service Unavailable', 'text/html'); }
  if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || ''))
    return tokenError(res, 400, 'invalid_request', 'unsupported content type');
  const p = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
  const gt = p.get('grant_type');
  if (gt === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    const parts = (p.get('assertion') || '').split('.');
    if (parts.length !== 3) return tokenError(res, 400, 'invalid_grant', 'invalid assertion');
    let hdr, claims;
    try { hdr = b64urlJson(parts[0]); claims = b64urlJson(parts[1]); } catch (e) {
      return tokenError(res, 400, 'invalid_grant', 'invalid assertion');
    }
    if (hdr.alg !== 'RS256') return tokenError(res, 400, 'invalid_grant', 'invalid assertion');
    const ok = crypto.verify('RSA-SHA256', Buffer.from(parts[0] + '.' + parts[1]),
      publicKey, Buffer.from(parts[2], 'base64url'));
    if (!ok) return tokenError(res, 400, 'invalid_grant', 'invalid assertion');
    if (claims.iss !== conf.consumerKey) return tokenError(res, 400, 'invalid_client_id', 'client identifier invalid');
    if (claims.aud !== loginUrl) return tokenError(res, 400, 'invalid_grant', 'audience is invalid');
    if (claims.sub !== conf.username) return tokenError(res, 400, 'invalid_grant', "user hasn't approved this consumer");
    const now = Math.floor(Date.now() / 1000);
    // exp: the assertion's expiry, within 3 minutes from now
    if (typeof claims.exp !== 'number' || claims.exp < now || claims.exp > now + 180 + 5)
      return tokenError(res, 400, 'invalid_grant', 'expired authorization code');
    return grant(res);
  }
  if (gt === 'client_credentials') {
    if (p.get('client_id') !== conf.consumerKey || !conf.clientSecret ||
        p.get('client_secret') !== conf.clientSecret)
      return tokenError(res, 400, 'invalid_client', 'invalid client credentials');
    return grant(res);
  }
  return tokenError(res, 400, 'unsupported_grant_type', 'grant type not supported');
}

// ---- CSV (RFC 4180) ----------------------------------------------------------
function csvCell(v) {
  v = v === undefined || v === null ? '' : String(v);
  return '"' + v.replace(/"/g, '""') + '"';
}
function csvLine(cells) { return cells.map(csvCell).join(',') + '\n'; }
// Parse text whose records end with eol ('\n' or '\r\n'); quotes optional.
function csvParse(text, eol) {
  const rows = [];
  let row = [], cell = '', i = 0, quoted = false, any = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i++; continue; }
      cell += ch; i++; continue;
    }
    if (ch === '"' && cell === '') { quoted = true; any = true; i++; continue; }
    if (ch === ',') { row.push(cell); cell = ''; i++; continue; }
    if (text.startsWith(eol, i)) { row.push(cell); rows.push(row); row = []; cell = ''; i += eol.length; any = false; continue; }
    cell += ch; any = true; i++;
  }
  if (cell !== '' || row.length || any) { row.push(cell); rows.push(row); }
  return rows;
}
// Does the data's line ending match the job's lineEnding (outside quotes)?
function lineEndingOk(text, eol) {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    if (quoted || ch !== '\n') continue;
    const crlf = i > 0 && text[i - 1] === '\r';
    if ((eol === '\r\n') !== crlf) return false;
  }
  return true;
}

// ---- Jobs -----------------------------------------------------------------
const jobs = new Map();
let jobSeq = 1;
function jobInfo(j) {
  const o = {
    id: j.id, operation: j.operation, object: j.object,
    createdById: '0055g000000INTEG', createdDate: j.created, systemModstamp: new Date().toISOString(),
    state: j.state, concurrencyMode: 'Parallel', contentType: 'CSV',
    apiVersion: Number(j.version), lineEnding: j.lineEnding, columnDelimiter: 'COMMA',
  };
  if (j.kind === 'ingest') {
    o.jobType = 'V2Ingest';
    if (j.state === 'Open') o.contentUrl = `services/data/v${j.version}/jobs/ingest/${j.id}/batches`;
    o.numberRecordsProcessed = j.processed || 0;
    o.numberRecordsFailed = j.failed ? j.failed.length : 0;
    o.retries = 0; o.totalProcessingTime = 0;
  } else {
    o.jobType = 'V2Query';
    o.numberRecordsProcessed = j.result ? j.result.length : 0;
  }
  if (j.errorMessage) o.errorMessage = j.errorMessage;
  return o;
}
// Completion is asynchronous: UploadComplete -> InProgress -> outcome.
function start(j) {
  setTimeout(() => {
    if (j.state !== 'UploadComplete') return;
    j.state = 'InProgress';
    if (faults.neverComplete) return;
    setTimeout(() => finish(j), faults.delayMs);
  }, faults.delayMs);
}
function finish(j) {
  if (faults.failJob === j.kind) {
    faults.failJob = '';
    j.state = 'Failed';
    j.errorMessage = 'InvalidBatch : the stand-in was told to fail this job';
    if (j.kind === 'ingest') j.unprocessed = j.rows || [];
    return;
  }
  if (faults.abortJob === j.kind) {
    faults.abortJob = '';
    j.state = 'Aborted';
    j.errorMessage = 'Aborted by a user with Manage Data Integrations';
    return;
  }
  if (j.kind === 'query') runQuery(j); else runIngest(j);
}

// A SOQL subset: SELECT f, ... FROM Obj [WHERE cond AND cond ...], cond
// being `field = literal` or `field IN (literal, ...)`.
function soql(q) {
  const toks = [];
  const re = /\s*(?:('(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_.]*)|(-?\d+(?:\.\d+)?)|([,()=]))/y;
  let m, pos = 0;
  while (pos < q.length && (re.lastIndex = pos, m = re.exec(q))) {
    pos = re.lastIndex;
    if (m[1]) toks.push({ s: m[1].slice(1, -1).replace(/\\(.)/g, '$1') });
    else if (m[2]) toks.push({ w: m[2] });
    else if (m[3]) toks.push({ n: Number(m[3]) });
    else toks.push({ p: m[4] });
    if (/^\s*$/.test(q.slice(pos))) pos = q.length;
  }
  if (pos < q.length) throw new Error(`unexpected text at ${pos}`);
  let i = 0;
  const kw = (w) => toks[i] && toks[i].w && toks[i].w.toUpperCase() === w && ++i;
  const punct = (p) => toks[i] && toks[i].p === p && ++i;
  const word = () => { if (!toks[i] || !toks[i].w) throw new Error('expected a name'); return toks[i++].w; };
  const literal = () => {
    const t = toks[i++];
    if (!t) throw new Error('expected a value');
    if (t.s !== undefined) return t.s;
    if (t.n !== undefined) return t.n;
    if (t.w && /^(true|false)$/i.test(t.w)) return t.w.toLowerCase() === 'true';
    if (t.w && /^null$/i.test(t.w)) return null;
    throw new Error('expected a value');
  };
  if (!kw('SELECT')) throw new Error('expected SELECT');
  const fields = [word()];
  while (punct(',')) fields.push(word());
  if (!kw('FROM')) throw new Error('expected FROM');
  const obj = word();
  const conds = [];
  if (kw('WHERE')) {
    do {
      const f = word();
      if (punct('=')) conds.push({ f, op: '=', v: literal() });
      else if (kw('IN')) {
        if (!punct('(')) throw new Error('expected (');
        const vs = [literal()];
        while (punct(',')) vs.push(literal());
        if (!punct(')')) throw new Error('expected )');
        conds.push({ f, op: 'IN', v: vs });
      } else throw new Error('expected = or IN');
    } while (kw('AND'));
  }
  if (i !== toks.length) throw new Error('unexpected token');
  return { fields, obj, conds };
}
function fieldName(obj, f) {
  return Object.keys(objects[obj]).find((k) => k.toLowerCase() === f.toLowerCase());
}
function same(a, b) {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return a === b;
}
function runQuery(j) {
  const recs = [...db[j.q.obj].values()].filter((r) => j.q.conds.every((c) => {
    const v = r[c.f];
    return c.op === '=' ? same(v, c.v) : c.v.some((x) => same(v, x));
  }));
  j.result = recs.map((r) => j.q.fields.map((f) => r[f]));
  j.state = 'JobComplete';
}

function fieldError(obj, name, v) {
  const f = objects[obj][name];
  const tail = `:${name} --`;
  if (f.updateable === false) return `INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: ${name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.:${name} --`;
  if ((f.type === 'string' || f.type === 'email') && v.length > f.length)
    return `STRING_TOO_LONG:${f.label}: data value too large: ${v} (max length=${f.length})${tail}`;
  if (f.type === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v))
    return `INVALID_EMAIL_ADDRESS:${f.label}: invalid email address: ${v}${tail}`;
  if (f.type === 'double' && (!/^-?\d+(\.\d+)?$/.test(v) || v.replace(/[-.]/g, '').length > f.precision))
    return `INVALID_TYPE_ON_FIELD_IN_RECORD:${f.label}: value not of required type: ${v}${tail}`;
  if (f.type === 'datetime' && (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) || isNaN(Date.parse(v))))
    return `INVALID_TYPE_ON_FIELD_IN_RECORD:${f.label}: value not of required type: ${v}${tail}`;
  if (f.type === 'boolean' && !/^(true|false|0|1)$/i.test(v))
    return `INVALID_TYPE_ON_FIELD_IN_RECORD:${f.label}: value not of required type: ${v}${tail}`;
  return null;
}
function convert(obj, name, v) {
  const f = objects[obj][name];
  if (v === '#N/A') return null;
  if (f.type === 'double') return Number(v);
  if (f.type === 'datetime') return new Date(v).toISOString().replace('Z', '+0000');
  return v;
}
function runIngest(j) {
  const text = j.data.toString('utf8');
  const eol = j.lineEnding === 'CRLF' ? '\r\n' : '\n';
  j.ok = []; j.failed = []; j.unprocessed = []; j.processed = 0;
  const fail = (msg) => { j.state = 'Failed'; j.errorMessage = msg; };
  if (j.data.length >= 3 && j.data[0] === 0xef && j.data[1] === 0xbb && j.data[2] === 0xbf)
    return fail('InvalidBatch : Field name not found : \ufeff' + text.slice(1).split(/[,\r\n]/)[0]);
  if (!lineEndingOk(text, eol))
    return fail(`ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${j.lineEnding}`);
  const rows = csvParse(text, eol);
  if (rows.length === 0) return fail('InvalidBatch : Empty CSV file');
  const header = rows[0];
  j.header = header;
  const names = [];
  for (const h of header) {
    const n = fieldName(j.object, h);
    if (!n) return fail(`InvalidBatch : Field name not found : ${h}`);
    if (names.includes(n)) return fail(`InvalidBatch : Duplicate field name: ${h}`);
    names.push(n);
  }
  if (j.operation === 'update' && !names.includes('Id'))
    return fail('InvalidBatch : Field name not found : Id');
  j.rows = rows.slice(1);
  for (const row of j.rows) {
    j.processed++;
    if (row.length !== header.length) { j.failed.push([ '', 'TooManyColumns:Too many columns in row:--', row ]); continue; }
    const id = row[names.indexOf('Id')];
    if (!id) { j.failed.push(['', 'MISSING_ARGUMENT:Id not specified in an update call:--', row]); continue; }
    const rec = findRecord(j.object, id);
    if (!rec) { j.failed.push([id, 'INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--', row]); continue; }
    if (j.object === 'Lead' && rec.IsConverted) { j.failed.push([rec.Id, 'CANNOT_UPDATE_CONVERTED_LEAD:cannot reference converted lead:--', row]); continue; }
    let err = null;
    const changes = {};
    names.forEach((n, k) => {
      if (err || n === 'Id' || row[k] === '') return;   // empty: unchanged
      err = fieldError(j.object, n, row[k]);
      if (!err) changes[n] = convert(j.object, n, row[k]);
    });
    if (err) { j.failed.push([rec.Id, err, row]); continue; }
    Object.assign(rec, changes);
    j.ok.push([rec.Id, row]);
  }
  j.state = 'JobComplete';
}

// ---- the REST API (instance host) ----------------------------------------
async function api(req, res, url) {
  const m = url.pathname.match(/^\/services\/data\/v(\d+\.\d)\/jobs\/(ingest|query)(?:\/([A-Za-z0-9]+))?(?:\/(batches|successfulResults|failedResults|unprocessedrecords|results)\/?)?$/);
  const auth = (req.headers.authorization || '').replace(/^Bearer /, '');
  if (!tokens.has(auth)) return apiError(res, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
  if (faults.expireAfter === 0) { tokens.clear(); faults.expireAfter = -1; return apiError(res, 401, 'INVALID_SESSION_ID', 'Session expired or invalid'); }
  if (faults.expireAfter > 0) faults.expireAfter--;
  if (faults.limit > 0) { faults.limit--; return apiError(res, 403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'); }
  if (faults.serverError > 0) { faults.serverError--; return send(res, 503, '<html>Service Unavailable</html>', 'text/html'); }
  if (!m) return apiError(res, 404, 'NOT_FOUND', 'The requested resource does not exist');
  const [, version, kind, id, sub] = m;
  if (!id) {
    if (req.method !== 'POST') return apiError(res, 405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
    if (!/^application\/json/.test(req.headers['content-type'] || ''))
      return apiError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
    let b;
    try { b = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8')); } catch (e) {
      return apiError(res, 400, 'JSON_PARSER_ERROR', 'the body is not JSON');
    }
    const j = { id: '750' + String(jobSeq++).padStart(15, '0'), kind, version, created: new Date().toISOString(),
      lineEnding: b.lineEnding || 'LF' };
    if ((b.contentType || 'CSV') !== 'CSV') return apiError(res, 400, 'INVALIDJOB', 'only CSV');
    if ((b.columnDelimiter || 'COMMA') !== 'COMMA') return apiError(res, 400, 'INVALIDJOB', 'only COMMA here');
    if (!['LF', 'CRLF'].includes(j.lineEnding)) return apiError(res, 400, 'INVALIDJOB', 'bad lineEnding');
    if (kind === 'query') {
      if (b.operation !== 'query' && b.operation !== 'queryAll') return apiError(res, 400, 'INVALIDJOB', 'bad operation');
      if (typeof b.query !== 'string' || b.query.length > 100000) return apiError(res, 400, 'MALFORMED_QUERY', 'query too long');
      try { j.q = soql(b.query); } catch (e) { return apiError(res, 400, 'MALFORMED_QUERY', e.message); }
      if (!objects[j.q.obj]) return apiError(res, 400, 'INVALID_TYPE', `sObject type '${j.q.obj}' is not supported.`);
      const bad = [...j.q.fields, ...j.q.conds.map((c) => c.f)].find((f) => !fieldName(j.q.obj, f));
      if (bad) return apiError(res, 400, 'INVALID_FIELD', `No such column '${bad}' on entity '${j.q.obj}'.`);
      j.q.fields = j.q.fields.map((f) => fieldName(j.q.obj, f));
      for (const c of j.q.conds) c.f = fieldName(j.q.obj, c.f);
      j.operation = b.operation; j.object = j.q.obj; j.state = 'UploadComplete';
      jobs.set(j.id, j);
      start(j);
      return send(res, 200, jobInfo(j));
    }
    if (!objects[b.object]) return apiError(res, 400, 'INVALIDJOB', `Unable to find object: ${b.object}`);
    if (!['insert', 'update', 'upsert', 'delete', 'hardDelete'].includes(b.operation)) return apiError(res, 400, 'INVALIDJOB', 'bad operation');
    Object.assign(j, { object: b.object, operation: b.operation, state: 'Open', data: Buffer.alloc(0) });
    jobs.set(j.id, j);
    return send(res, 200, jobInfo(j));
  }
  const j = jobs.get(id);
  if (!j || j.kind !== kind) return apiError(res, 404, 'NOT_FOUND', 'The requested resource does not exist');
  if (!sub) {
    if (req.method === 'GET') return send(res, 200, jobInfo(j));
    if (req.method === 'DELETE') { jobs.delete(id); return send(res, 204); }
    if (req.method !== 'PATCH') return apiError(res, 405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
    let b;
    try { b = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')); } catch (e) {
      return apiError(res, 400, 'JSON_PARSER_ERROR', 'the body is not JSON');
    }
    if (b.state === 'Aborted' && ['Open', 'UploadComplete', 'InProgress'].includes(j.state)) {
      j.state = 'Aborted';
      return send(res, 200, jobInfo(j));
    }
    if (b.state === 'UploadComplete' && kind === 'ingest' && j.state === 'Open') {
      j.state = 'UploadComplete';
      start(j);
      return send(res, 200, jobInfo(j));
    }
    return apiError(res, 409, 'INVALIDJOBSTATE', `Job is in state ${j.state}`);
  }
  if (sub === 'batches') {
    if (kind !== 'ingest' || req.method !== 'PUT') return apiError(res, 405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
    if (j.state !== 'Open') return apiError(res, 409, 'INVALIDJOBSTATE', `Job is in state ${j.state}, data can be uploaded only while Open`);
    if (!/^text\/csv/.test(req.headers['content-type'] || '')) return apiError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be text/csv');
    let data;
    try { data = await readBody(req, uploadMax - j.data.length); } catch (e) {
      return apiError(res, 400, 'INVALIDBATCH', `the job's data exceeds ${uploadMax} bytes`);
    }
    j.data = Buffer.concat([j.data, data]);
    return send(res, 201);
  }
  if (req.method !== 'GET') return apiError(res, 405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
  if (sub === 'results') {
    if (kind !== 'query') return apiError(res, 404, 'NOT_FOUND', 'no such resource');
    if (version !== j.version) return apiError(res, 409, 'INVALIDJOBSTATE', 'use the API version the job was created with');
    if (j.state !== 'JobComplete') return apiError(res, 409, 'INVALIDJOBSTATE', `Job is in state ${j.state}`);
    const max = Number(url.searchParams.get('maxRecords') || 0) || j.result.length || 1;
    const at = Number(url.searchParams.get('locator') ? parseInt(url.searchParams.get('locator'), 36) : 0);
    const page = j.result.slice(at, at + max);
    const next = at + max < j.result.length ? (at + max).toString(36) : 'null';
    let body = csvLine(j.q.fields);
    for (const r of page) body += csvLine(r);
    return send(res, 200, body, 'text/csv', { 'Sforce-Locator': next, 'Sforce-NumberOfRecords': String(page.length) });
  }
  if (kind !== 'ingest') return apiError(res, 404, 'NOT_FOUND', 'no such resource');
  if (sub === 'unprocessedrecords') {
    if (!['JobComplete', 'Failed', 'Aborted'].includes(j.state)) return apiError(res, 409, 'INVALIDJOBSTATE', `Job is in state ${j.state}`);
    const header = j.header || (j.data.length ? csvParse(j.data.toString('utf8'), j.lineEnding === 'CRLF' ? '\r\n' : '\n')[0] : []);
    let body = csvLine(header);
    for (const r of j.unprocessed || []) body += csvLine(r);
    return send(res, 200, body, 'text/csv');
  }
  if (j.state !== 'JobComplete') return apiError(res, 409, 'INVALIDJOBSTATE', `Job is in state ${j.state}`);
  if (sub === 'successfulResults') {
    let body = csvLine(['sf__Id', 'sf__Created', ...j.header]);
    for (const [rid, row] of j.ok) body += csvLine([rid, 'false', ...row]);
    return send(res, 200, body, 'text/csv');
  }
  let body = csvLine(['sf__Id', 'sf__Error', ...j.header]);
  for (const [rid, e, row] of j.failed) body += csvLine([rid, e, ...row]);
  return send(res, 200, body, 'text/csv');
}

async function admin(req, res, url) {
  if (url.pathname === '/__admin/records') {
    const obj = url.searchParams.get('object') || 'Lead';
    return send(res, 200, [...db[obj].values()]);
  }
  if (url.pathname === '/__admin/fault' && req.method === 'POST') {
    Object.assign(faults, JSON.parse((await readBody(req, 65536)).toString('utf8')));
    return send(res, 200, faults);
  }
  if (url.pathname === '/__admin/log') return send(res, 200, log);
  if (url.pathname === '/__admin/hung') return send(res, 200, { count: hung.length });
  if (url.pathname === '/__admin/tokens') return send(res, 200, issued);
  return send(res, 404, { error: 'no such admin resource' });
}

function serve(handler) {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    res.on('finish', () => {
      if (!url.pathname.startsWith('/__admin')) log.push({ method: req.method, path: url.pathname, status: res.statusCode });
    });
    // A client killed at this step: the request is taken, never answered.
    if (faults.hang && !url.pathname.startsWith('/__admin') && req.method === faults.hang.method &&
        new RegExp(faults.hang.path).test(url.pathname)) {
      hung.push(res);
      return;
    }
    handler(req, res, url).catch((e) => {
      if (!res.headersSent) apiError(res, 500, 'UNKNOWN_EXCEPTION', String(e && e.message));
    });
  });
}
const login = serve(async (req, res, url) => {
  if (url.pathname === '/services/oauth2/token') return token(req, res);
  return send(res, 404, 'Not Found', 'text/html');
});
const instance = serve(async (req, res, url) => {
  if (url.pathname.startsWith('/__admin/')) return admin(req, res, url);
  return api(req, res, url);
});
let up = 0;
const ready = () => { if (++up === 2) console.log('ready'); };
login.listen(conf.loginPort, '127.0.0.1', ready);
instance.listen(conf.instancePort, '127.0.0.1', ready);
