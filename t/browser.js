// t/browser.js — web/calltrail.js and web/demo/ in Debian's Chromium
// (headless, driven by playwright-core; nothing downloaded).  Started by
// t/browser.sh, which runs nginx and calltrail-token and passes:
//   URL_A  the site: token endpoint, web/ at /calltrail/, livekit-client at /lk/
//   URL_B  another origin serving the same files: cors_origin
//   URL_C  a third origin, not cors_origin
//   LK_KEY, LK_SECRET  for LiveKit's TokenVerifier
//   CHROMIUM, PROFILE  the browser and a fresh user-data dir
//   SHOT   where the screenshot of the demo page with its token goes
//   TOKEN_LOG  calltrail-token's log
// Prints TAP.
'use strict';
const { chromium } = require('playwright-core');
const { TokenVerifier } = require('livekit-server-sdk');

const env = process.env;
const A = env.URL_A, B = env.URL_B, C = env.URL_C;
const DEMO = '/calltrail/demo/';
const verifier = new TokenVerifier(env.LK_KEY, env.LK_SECRET);

let n = 0, failed = 0;
function ok(cond, what, detail) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
  if (!cond) {
    failed++;
    if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`.slice(0, 2000));
  }
  return cond;
}

// LiveKit's own check of a token; the claims, metadata parsed, or null.
async function verify(token) {
  try {
    const c = await verifier.verify(token);
    c.md = JSON.parse(c.metadata);
    return c;
  } catch (e) {
    console.log(`#   TokenVerifier: ${e.message}`);
    return null;
  }
}

// Click Start on the demo page; the request the browser sent, and the
// answer it got (status, JSON).
async function start(page) {
  const [req] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith('/api/connection-details') && r.method() === 'POST'),
    page.click('#go'),
  ]);
  const res = await req.response();
  await page.waitForFunction(() => !document.getElementById('go').disabled &&
    ['token', 'refused', 'error'].includes(document.getElementById('status').dataset.state));
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  return { sent: req.postDataJSON(), status: res.status(), json };
}

const statusOf = (page) => page.evaluate(() => {
  const s = document.getElementById('status');
  return { state: s.dataset.state, code: s.dataset.code || '', text: s.innerText };
});

// connectionDetails(opts) run inside the page; {ok, value} or {ok:false, code, ...}.
const inPage = (page, opts) => page.evaluate(async (o) => {
  const m = await import('/calltrail/calltrail.js');
  try {
    return { ok: true, value: await m.connectionDetails(o) };
  } catch (e) {
    return { ok: false, code: e.code, status: e.status, message: e.message, isError: e instanceof Error };
  }
}, opts);

async function main() {
  const ctx = await chromium.launchPersistentContext(env.PROFILE, {
    executablePath: env.CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 760, height: 520 },
  });
  ctx.setDefaultTimeout(20000);
  const pageErrors = [];
  const open = async (url) => {
    const p = await ctx.newPage();
    p.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
    await p.goto(url);
    return p;
  };

  try {
    // ---- the demo page: a typed address reaches the token ----------------
    const page = await open(A + DEMO);
    const typed = 'Jane.Doe@Acme.example.com';
    await page.fill('#email', typed);
    let r = await start(page);
    ok(r.sent && r.sent.user_email === typed, 'the request carries the typed address', r.sent);
    ok(r.sent && !('room_config' in r.sent), 'no agent name: no room_config in the request', r.sent);
    ok(r.status === 200 && r.json && typeof r.json.participantToken === 'string', 'the page got a token', r);
    const c = r.json ? await verify(r.json.participantToken) : null;
    ok(c !== null, "LiveKit's TokenVerifier accepts the token the page received");
    ok(c && c.md.user_email === typed, "the token's metadata carries the typed address", c && c.md);
    ok(c && c.roomConfig && c.roomConfig.agents[0].agentName === 'sales-agent',
      "the server's default_agent is dispatched", c && c.roomConfig);
    let st = await statusOf(page);
    ok(st.state === 'token' && st.text.includes(r.json.roomName) && st.text.includes(typed),
      'the status line shows the room and the email the token carries', st);
    const kept = await page.evaluate(() => sessionStorage.getItem('userFormData'));
    ok(kept === JSON.stringify({ email: typed }), 'the form keeps the address in sessionStorage (userFormData)', kept);
    await page.screenshot({ path: env.SHOT });
    console.log(`# screenshot: ${env.SHOT}`);

    // ---- an address the server refuses ---------------------------------
    await page.fill('#email', '=cmd@acme.com');
    r = await start(page);
    ok(r.status === 400 && r.json && r.json.error === 'invalid_email' && !('participantToken' in r.json),
      'a refused address: 400 invalid_email, no token', r);
    st = await statusOf(page);
    ok(st.state === 'refused' && /check your email address/i.test(st.text) && !st.text.includes('Room'),
      'the page says "check your email address" and shows no room', st);

    // ---- empty or corrupt sessionStorage: the call still starts -------
    const stored = [null, '', '{corrupt', '"a string"', '{"email":5}', 'null', '{"name":"Jane"}'];
    for (const v of stored) {
      const p = await open(A + DEMO);
      await p.evaluate((x) => { if (x === null) sessionStorage.removeItem('userFormData'); else sessionStorage.setItem('userFormData', x); }, v);
      await p.reload();
      const field = await p.inputValue('#email');
      const rr = await start(p);
      const cc = rr.json && rr.json.participantToken ? await verify(rr.json.participantToken) : null;
      ok(field === '' && rr.sent.user_email === '' && rr.status === 200 && cc && cc.md.user_email === '' &&
         (await statusOf(p)).state === 'token',
      `sessionStorage ${v === null ? 'absent' : JSON.stringify(v)}: starts without an email`, { field, sent: rr.sent, status: rr.status });
      await p.close();
    }
    // Storage that throws on every read (some privacy modes).
    {
      const p = await ctx.newPage();
      await p.addInitScript(() => {
        Object.defineProperty(window, 'sessionStorage', { get() { throw new DOMException('denied', 'SecurityError'); } });
      });
      p.on('pageerror', (e) => pageErrors.push(`storage-denied: ${e.message}`));
      await p.goto(A + DEMO);
      const rr = await start(p);
      ok(rr.status === 200 && rr.sent.user_email === '' && (await statusOf(p)).state === 'token',
        'sessionStorage that throws: starts without an email', rr.sent);
      await p.close();
    }

    // ---- the module on its own ------------------------------------------
    let m = await page.evaluate(() => sessionStorage.setItem('userFormData', JSON.stringify({ email: 'kept@acme.example.com', name: 'K' })));
    m = await inPage(page, {});
    let mc = m.ok ? await verify(m.value.participantToken) : null;
    ok(mc && mc.md.user_email === 'kept@acme.example.com', 'no value or field: the address comes from sessionStorage', m);
    m = await inPage(page, { email: 'value@acme.example.com', agentName: 'support-agent' });
    mc = m.ok ? await verify(m.value.participantToken) : null;
    ok(mc && mc.md.user_email === 'value@acme.example.com' && mc.roomConfig.agents[0].agentName === 'support-agent',
      'a given value and agent name win over storage; the agent is dispatched', m);
    await page.fill('#email', 'field@acme.example.com');
    m = await inPage(page, { field: '#email' });
    mc = m.ok ? await verify(m.value.participantToken) : null;
    ok(mc && mc.md.user_email === 'field@acme.example.com', 'a field given by CSS selector wins over storage', m);
    m = await inPage(page, { email: 'not an address' });
    ok(!m.ok && m.isError && m.code === 'invalid_email' && m.status === 400 && m.message.length > 0,
      "a refusal rejects with an Error carrying the server's code and message", m);
    m = await inPage(page, { agentName: 'root-agent' });
    ok(!m.ok && m.code === 'unknown_agent', 'an agent the server does not know: code unknown_agent', m);
    m = await inPage(page, { endpoint: '/api/nowhere' });
    ok(!m.ok && m.code === 'bad_response' && m.status === 404, "an answer that is not the service's JSON: bad_response and the status", m);

    // ---- livekit-client's TokenSource.custom -----------------------------
    const lk = await page.evaluate(async () => {
      const { TokenSource, decodeTokenPayload } = await import('/lk/livekit-client.esm.mjs');
      const { connectionDetails } = await import('/calltrail/calltrail.js');
      // The fetch options pass straight through: the module takes the
      // names it knows and never sends roomName, participantIdentity or
      // participantMetadata (the server owns those).
      const ts = TokenSource.custom((o) => connectionDetails({ ...o, email: 'lk@acme.example.com' }));
      const opts = { agentName: 'support-agent', participantName: 'Jane Doe', roomName: 'mine',
                     participantMetadata: '{"user_email":"x@evil.example.com"}' };
      const res = await ts.fetch(opts);
      const again = await ts.fetch(opts);
      const payload = decodeTokenPayload(res.participantToken);
      return { res: { serverUrl: res.serverUrl, participantToken: res.participantToken },
               cached: again.participantToken === res.participantToken, metadata: payload.metadata };
    }).catch((e) => ({ error: e.message }));
    const lc = lk.res ? await verify(lk.res.participantToken) : null;
    ok(lk.res && lk.res.serverUrl === 'ws://127.0.0.1:7880', 'TokenSource.custom(() => connectionDetails(opts)).fetch() gives serverUrl', lk);
    ok(lc && lc.md.user_email === 'lk@acme.example.com' && lc.roomConfig.agents[0].agentName === 'support-agent' &&
       lc.name === 'Jane Doe' && lc.video.room !== 'mine',
      "its participantToken passes TokenVerifier and carries the address, the agent and the name", lc);
    ok(lk.cached === true && typeof lk.metadata === 'string' && JSON.parse(lk.metadata).user_email === 'lk@acme.example.com',
      "livekit-client caches it and decodes the metadata the agent will read", lk);
    await page.close();

    // ---- across origins: from cors_origin only ----------------------------
    const pb = await open(B + DEMO);
    m = await inPage(pb, { endpoint: A + '/api/connection-details', email: 'bee@acme.example.com' });
    mc = m.ok ? await verify(m.value.participantToken) : null;
    ok(mc && mc.md.user_email === 'bee@acme.example.com', 'a page on cors_origin gets a token from the other origin', m);
    m = await inPage(pb, { endpoint: A + '/api/connection-details', email: 'x@localhost' });
    ok(!m.ok && m.code === 'invalid_email', "and reads the server's refusal across origins", m);
    await pb.close();
    const pc = await open(C + DEMO);
    m = await inPage(pc, { endpoint: A + '/api/connection-details', email: 'sea@acme.example.com' });
    ok(!m.ok && m.code === 'network_error', 'a page on any other origin is refused by the browser', m);
    // The refusing was the browser's: its preflight got an answer without
    // CORS headers, so the POST was never sent (no log line with its
    // address).
    // (The log line may follow the answer by a moment: look for 2 s.)
    let log = [], minted = [], pre = [];
    for (let i = 0; i < 40; i++) {
      log = require('fs').readFileSync(env.TOKEN_LOG, 'utf8').split('\n');
      minted = log.filter((l) => l.includes('email=s***@acme.example.com'));
      pre = log.filter((l) => l.includes('status=204'));
      if (pre.length >= 2) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    ok(minted.length === 0 && pre.length >= 2,
      "origin C's POST never reached the service; both preflights were answered", log.slice(-6));
    await pc.close();

    ok(pageErrors.length === 0, 'no uncaught errors in any page', pageErrors);
  } finally {
    await ctx.close();
  }
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok ${n + 1} - the browser run: ${e && e.message ? e.message.split('\n')[0] : e}`);
  console.log(`1..${n + 1}`);
  process.exit(1);
});
