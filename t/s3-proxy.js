// t/s3-proxy.js — a checking, fault-injecting proxy in front of s3rver.
//
//   node s3-proxy.js LISTEN_PORT S3RVER_PORT PORTFILE
//   env: PROXY_AK, PROXY_SK, PROXY_TOKEN (optional), PROXY_REGION,
//        PROXY_MEM=1: no s3rver behind (S3RVER_PORT unused): the proxy
//        keeps the objects of bucket "bucket" in memory itself and answers
//        PUT, GET and ListObjectsV2 (paged, max-keys, continuation
//        tokens) like S3 (bench/run: a store that is never the bottleneck);
//        PROXY_TRUST=1: no signature or body checks either (bench/run
//        measures the client against latency, not this proxy's CPU; the
//        tests always check)
//
// Every request the client sends is checked before it reaches s3rver:
//   - the SigV4 signature is recomputed with @smithy/signature-v4 (the
//     AWS SDK's own signer) over the headers named in SignedHeaders; a
//     mismatch answers 403 SignatureDoesNotMatch, as S3 would;
//   - x-amz-content-sha256 must be the body's SHA-256 (never
//     UNSIGNED-PAYLOAD), Content-MD5 the body's MD5;
//   - the path must be encoded the way the AWS SDK encodes object keys
//     (so '=' is %3D), since S3 signs the path as sent.
// Faults for the next N PUTs are set with GET /__proxy/fault?kind=K&count=N
// (kinds: 503, 429, reset, lostreply, stall, etag, slow: 200 ms late,
// expired: 400 ExpiredToken,
// corrupt: one byte of the body flipped on the way, which the Content-MD5
// check answers with 400 BadDigest); GET /__proxy/stats reports counters
// (max concurrent requests, distinct connections...).
// GET /__proxy/mode?kms=1 answers every PUT like a bucket whose default
// encryption is SSE-KMS: x-amz-server-side-encryption: aws:kms and an
// ETag that is not the body's MD5.  &region=R makes the bucket live in
// region R: every request signed for another region gets S3's answer,
// with x-amz-bucket-region: 400 AuthorizationHeaderMalformed naming the
// <Region>, or with &answer=301 a 301 PermanentRedirect.
// &delay=MS holds every request that long before answering (latency).
'use strict';
const http = require('http');
const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
// The signer's SHA-256 and HMAC from node's own crypto (OpenSSL): the
// pure-JavaScript @aws-crypto/sha256-js costs ~2 ms a request, which made
// this proxy, not the client, the bottleneck of bench/run's latency rows.
class Sha256 {
  constructor(secret) {
    this.h = secret ? crypto.createHmac('sha256', Buffer.from(secret)) : crypto.createHash('sha256');
  }
  update(data) { this.h.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)); }
  digest() { return Promise.resolve(new Uint8Array(this.h.digest())); }
}

const [listenPort, upstreamPort, portFile] = process.argv.slice(2);
const AK = process.env.PROXY_AK, SK = process.env.PROXY_SK;
const TOKEN = process.env.PROXY_TOKEN || undefined;
const REGION = process.env.PROXY_REGION || 'us-east-1';

const stats = { requests: 0, puts: 0, gets: 0, inflight: 0, maxInflight: 0,
  connections: 0, sigFailures: 0, hashFailures: 0, pathFailures: 0, badDigests: 0,
  faults: 0, tokenSeen: 0, sseSeen: 0, sse: [], paths: [] };
let fault = { kind: '', count: 0 };
let mode = { kms: false, region: '', answer: '', delay: 0 };
const stalled = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const signer = new SignatureV4({
  credentials: { accessKeyId: AK, secretAccessKey: SK, sessionToken: TOKEN },
  region: REGION, service: 's3', sha256: Sha256, uriEscapePath: false,
  applyChecksum: false,
});

function s3error(res, status, code, message, extra = '') {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message>${extra}</Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// The AWS SDK's object key encoding, segment by segment.
function awsEncode(seg) {
  return encodeURIComponent(seg).replace(/[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

async function verify(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'malformed Authorization header';
  const [, ak, , region, signedList, sig] = m;
  if (ak !== AK) return 'unknown access key';
  if (region !== (mode.region || REGION)) return 'wrong region';
  const amzDate = req.headers['x-amz-date'] || '';
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!d) return 'bad x-amz-date';
  const signingDate = new Date(Date.UTC(+d[1], +d[2] - 1, +d[3], +d[4], +d[5], +d[6]));
  const [rawPath, rawQuery = ''] = req.url.split('?', 2);
  const query = {};
  for (const part of rawQuery.split('&').filter(Boolean)) {
    const i = part.indexOf('=');
    const k = decodeURIComponent(i < 0 ? part : part.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(part.slice(i + 1));
    query[k] = k in query ? [].concat(query[k], v) : v;
  }
  const headers = {};
  for (const h of signedList.split(';')) {
    if (req.headers[h] === undefined) return `signed header ${h} missing`;
    headers[h] = req.headers[h];
  }
  for (const h of ['host', 'x-amz-content-sha256', 'x-amz-date'])
    if (!(h in headers)) return `${h} not signed`;
  if (req.headers['x-amz-security-token'] !== undefined) {
    stats.tokenSeen++;
    if (!('x-amz-security-token' in headers)) return 'x-amz-security-token not signed';
  }
  for (const h of ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id'])
    if (req.headers[h] !== undefined && !(h in headers)) return `${h} not signed`;
  if (req.headers['x-amz-server-side-encryption'] !== undefined) {
    stats.sseSeen++;
    const v = req.headers['x-amz-server-side-encryption'] + ' ' +
      (req.headers['x-amz-server-side-encryption-aws-kms-key-id'] || '');
    if (!stats.sse.includes(v)) stats.sse.push(v);
  }
  const sg = mode.region ? new SignatureV4({
    credentials: { accessKeyId: AK, secretAccessKey: SK, sessionToken: TOKEN },
    region: mode.region, service: 's3', sha256: Sha256, uriEscapePath: false,
    applyChecksum: false }) : signer;
  const signed = await sg.sign({ method: req.method, protocol: 'http:',
    hostname: req.headers.host.split(':')[0], path: rawPath, query, headers, body },
    { signingDate });
  const want = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
  return want === sig ? null : 'signature mismatch';
}

function checkBody(req, body) {
  // Content-MD5 first, as S3 does: a body changed on the way is BadDigest
  if (req.method === 'PUT') {
    const md5 = crypto.createHash('md5').update(body).digest('base64');
    if (req.headers['content-md5'] !== md5)
      return ['BadDigest', 'The Content-MD5 you specified did not match what we received.'];
  }
  const sha = crypto.createHash('sha256').update(body).digest('hex');
  if (req.headers['x-amz-content-sha256'] !== sha)
    return ['XAmzContentSHA256Mismatch', 'x-amz-content-sha256 is not the SHA-256 of the body'];
  const raw = req.url.split('?')[0];
  const canon = raw.split('/').map((s) => awsEncode(decodeURIComponent(s))).join('/');
  if (canon !== raw) return ['InvalidURI', `path not encoded as AWS does: ${raw}`];
  return null;
}

// ---- PROXY_MEM: the bucket in memory ----------------------------------
const MEM = process.env.PROXY_MEM === '1';
const TRUST = process.env.PROXY_TRUST === '1';
const store = new Map();
let sorted = null;
const xmlEsc = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function memAnswer(req, res, body, after) {
  const [rawPath, rawQuery = ''] = req.url.split('?', 2);
  const m = /^\/bucket(?:\/(.*))?$/.exec(rawPath);
  if (!m) return s3error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
  const key = m[1] === undefined ? '' : m[1].split('/').map(decodeURIComponent).join('/');
  if (req.method === 'PUT' && key) {
    store.set(key, Buffer.from(body));
    sorted = null;
    if (after === 'lostreply') { req.socket.destroy(); return; }
    const etag = after === 'etag' ? '00000000000000000000000000000000'
      : crypto.createHash('md5').update(body).digest('hex');
    const h = { ETag: `"${etag}"`, 'Content-Length': 0 };
    if (mode.kms) {
      h['x-amz-server-side-encryption'] = 'aws:kms';
      h.ETag = '"' + crypto.randomBytes(16).toString('hex') + '"';
    }
    res.writeHead(200, h);
    return res.end();
  }
  if (req.method === 'GET' && key) {
    const b = store.get(key);
    if (!b) return s3error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': b.length,
      ETag: '"' + crypto.createHash('md5').update(b).digest('hex') + '"' });
    return res.end(b);
  }
  if (req.method === 'GET') {
    const q = new URLSearchParams(rawQuery);
    const prefix = q.get('prefix') || '';
    const max = Math.min(+(q.get('max-keys') || 1000), 1000);
    const after2 = q.get('continuation-token') ?
      Buffer.from(q.get('continuation-token'), 'base64').toString() : '';
    if (!sorted) sorted = [...store.keys()].sort();
    let i = 0, lo = 0, hi = sorted.length;
    const from = after2 > prefix ? after2 : prefix;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < from) lo = mid + 1; else hi = mid; }
    i = lo;
    if (i < sorted.length && sorted[i] === after2) i++;
    const out = [];
    while (i < sorted.length && sorted[i].startsWith(prefix) && out.length < max) out.push(sorted[i++]);
    const more = i < sorted.length && sorted[i].startsWith(prefix);
    let x = '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>bucket</Name><Prefix>${xmlEsc(prefix)}</Prefix><KeyCount>${out.length}</KeyCount>` +
      `<MaxKeys>${max}</MaxKeys><IsTruncated>${more}</IsTruncated>`;
    for (const k of out)
      x += `<Contents><Key>${xmlEsc(k)}</Key><Size>${store.get(k).length}</Size></Contents>`;
    if (more) x += `<NextContinuationToken>${Buffer.from(out[out.length - 1]).toString('base64')}</NextContinuationToken>`;
    x += '</ListBucketResult>';
    res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(x) });
    return res.end(x);
  }
  return s3error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed');
}

function forward(req, res, body, after) {
  if (MEM) return memAnswer(req, res, body, after);
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method,
    path: req.url, headers: req.headers, agent }, (ur) => {
    const chunks = [];
    ur.on('data', (c) => chunks.push(c));
    ur.on('end', () => {
      const headers = { ...ur.headers };
      if (after === 'etag') headers.etag = '"00000000000000000000000000000000"';
      if (mode.kms && req.method === 'PUT' && ur.statusCode === 200) {
        // SSE-KMS: the ETag is not the MD5 of the body
        headers['x-amz-server-side-encryption'] = 'aws:kms';
        headers['x-amz-server-side-encryption-aws-kms-key-id'] =
          req.headers['x-amz-server-side-encryption-aws-kms-key-id'] || 'arn:aws:kms:us-east-1:111122223333:key/default';
        headers.etag = '"' + crypto.randomBytes(16).toString('hex') + '"';
      }
      if (after === 'lostreply') { req.socket.destroy(); return; }
      res.writeHead(ur.statusCode, headers);
      res.end(Buffer.concat(chunks));
    });
  });
  up.on('error', (e) => s3error(res, 502, 'ProxyError', String(e.message)));
  up.end(body);
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__proxy/')) {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/__proxy/fault')
      fault = { kind: u.searchParams.get('kind') || '', count: +(u.searchParams.get('count') || 0) };
    if (u.pathname === '/__proxy/mode')
      mode = { kms: u.searchParams.get('kms') === '1', region: u.searchParams.get('region') || '',
        answer: u.searchParams.get('answer') || '', delay: +(u.searchParams.get('delay') || 0) };
    if (u.pathname === '/__proxy/reset')
      Object.assign(stats, { requests: 0, puts: 0, gets: 0, maxInflight: 0, connections: 0,
        sigFailures: 0, hashFailures: 0, pathFailures: 0, faults: 0, tokenSeen: 0, sseSeen: 0,
        sse: [], badDigests: 0, paths: [] });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= 64 << 20) chunks.push(c); });
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    if (mode.delay > 0) await new Promise((r) => setTimeout(r, mode.delay));
    stats.requests++;
    stats.inflight++;
    stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
    res.on('close', () => { stats.inflight--; });
    if (req.method === 'PUT') stats.puts++;
    if (req.method === 'GET') stats.gets++;
    if (stats.paths.length < 5000) stats.paths.push(req.method + ' ' + req.url);
    // a bucket in another region: what S3 answers a request signed for
    // the wrong one, before it looks at the signature's validity
    if (mode.region) {
      const m = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization || '');
      if (m && m[1] !== mode.region) {
        res.setHeader('x-amz-bucket-region', mode.region);
        if (mode.answer === '301')
          return s3error(res, 301, 'PermanentRedirect', 'The bucket you are attempting to ' +
            'access must be addressed using the specified endpoint.');
        return s3error(res, 400, 'AuthorizationHeaderMalformed', "The authorization header " +
          `is malformed; the region '${m[1]}' is wrong; expecting '${mode.region}'`,
          `<Region>${mode.region}</Region>`);
      }
    }
    let kind = '';
    if (req.method === 'PUT' && fault.count > 0 && fault.kind === 'corrupt') {
      kind = fault.kind; fault.count--; stats.faults++;
      if (body.length > 0) body[body.length >> 1] ^= 0x01;   // a bit flipped on the way
    }
    let why = null;
    if (!TRUST)
      try { why = await verify(req, body); } catch (e) { why = 'verify failed: ' + e.message; }
    if (why) {
      stats.sigFailures++;
      return s3error(res, 403, 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided (' + why + ')');
    }
    const bad = TRUST ? null : checkBody(req, body);
    if (bad) {
      if (bad[0] === 'InvalidURI') stats.pathFailures++;
      else if (kind === 'corrupt' && bad[0] === 'BadDigest') stats.badDigests++;
      else stats.hashFailures++;
      return s3error(res, 400, bad[0], bad[1]);
    }
    if (req.method === 'PUT' && fault.count > 0 && !kind) { kind = fault.kind; fault.count--; stats.faults++; }
    if (kind === '503') return s3error(res, 503, 'SlowDown', 'Please reduce your request rate.');
    if (kind === 'expired') return s3error(res, 400, 'ExpiredToken', 'The provided token has expired.');
    if (kind === '429') return s3error(res, 429, 'TooManyRequests', 'Too many requests.');
    if (kind === 'reset') return req.socket.destroy();
    if (kind === 'stall') { stalled.push(req.socket); return; }
    if (kind === 'slow') return setTimeout(() => forward(req, res, body, kind), 200);
    forward(req, res, body, kind);
  });
});
server.on('connection', () => { stats.connections++; });
server.keepAliveTimeout = 60000;
server.listen(+listenPort, '127.0.0.1', () => {
  require('fs').writeFileSync(portFile, String(server.address().port));
});
process.on('SIGTERM', () => { for (const s of stalled) s.destroy(); process.exit(0); });
