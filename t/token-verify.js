// t/token-verify.js — check calltrail-token's answers with LiveKit's own code.
//
// stdin: one response body per line (the JSON calltrail-token answered).
// env:   LK_KEY, LK_SECRET   the key and secret to verify with
//        WANT_EMAIL          (optional) the user_email every token must carry
//        WANT_AGENT          (optional) the agent dispatched; "" means none
//        WANT_NAME           (optional) the participant name
// stdout: "ok ROOM IDENTITY" or "fail REASON" per line; exit 1 on any fail.
//
// Every token goes through TokenVerifier from livekit-server-sdk (signature,
// issuer, exp), and roomConfig through RoomConfiguration.fromJson from
// @livekit/protocol WITHOUT ignoreUnknownFields: an unknown key there is
// what makes older LiveKit clients refuse the token.
'use strict';
const { TokenVerifier } = require('livekit-server-sdk');
const { RoomConfiguration } = require('@livekit/protocol');

const env = process.env;
const verifier = new TokenVerifier(env.LK_KEY, env.LK_SECRET);
const GRANTS = ['canPublish', 'canPublishData', 'canSubscribe', 'room', 'roomJoin'];

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function check(line) {
  const r = JSON.parse(line);
  const tok = r.participantToken;
  if (typeof tok !== 'string' || tok !== r.participant_token) throw new Error('token fields differ');
  if (r.serverUrl !== r.server_url) throw new Error('serverUrl fields differ');
  const parts = tok.split('.');
  if (parts.length !== 3 || /[=+/]/.test(tok)) throw new Error('not base64url without padding');
  const hdr = Buffer.from(parts[0], 'base64url').toString('utf8');
  if (hdr !== '{"alg":"HS256","typ":"JWT"}') throw new Error('header ' + hdr);
  const c = await verifier.verify(tok);
  if (c.iss !== env.LK_KEY) throw new Error('iss');
  if (!/^[A-Za-z0-9_-]+_[0-9a-f]{16}$/.test(c.sub)) throw new Error('sub ' + c.sub);
  if (typeof c.nbf !== 'number' || c.exp - c.nbf < 120) throw new Error('nbf/exp');
  if (env.WANT_NAME !== undefined && c.name !== env.WANT_NAME) throw new Error('name ' + c.name);
  if (r.participantName !== c.name) throw new Error('participantName');
  if (typeof c.metadata !== 'string') throw new Error('metadata is not a string');
  const md = JSON.parse(c.metadata);
  if (typeof md.user_email !== 'string') throw new Error('metadata.user_email');
  if (env.WANT_EMAIL !== undefined && md.user_email !== env.WANT_EMAIL)
    throw new Error('metadata.user_email ' + md.user_email);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(md.session_start)) throw new Error('session_start');
  const v = c.video || {};
  if (JSON.stringify(Object.keys(v).sort()) !== JSON.stringify(GRANTS)) throw new Error('video keys ' + Object.keys(v));
  if (!(v.roomJoin && v.canPublish && v.canSubscribe && v.canPublishData)) throw new Error('video grant');
  if (v.room !== r.roomName) throw new Error('room differs from roomName');
  if (!/^[A-Za-z0-9_-]+_\d{10}_[a-z2-7]{12}$/.test(v.room)) throw new Error('room ' + v.room);
  if (env.WANT_AGENT !== undefined) {
    if (env.WANT_AGENT === '') {
      if (c.roomConfig !== undefined) throw new Error('roomConfig present');
    } else {
      if (JSON.stringify(Object.keys(c.roomConfig)) !== '["agents"]') throw new Error('roomConfig keys');
      const rc = RoomConfiguration.fromJson(c.roomConfig);
      if (rc.agents.length !== 1 || rc.agents[0].agentName !== env.WANT_AGENT)
        throw new Error('agentName');
      const am = JSON.parse(rc.agents[0].metadata);
      if (am.user_email !== md.user_email) throw new Error('agent metadata user_email');
    }
  }
  b64json(parts[1]);
  return 'ok ' + v.room + ' ' + c.sub;
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  let failed = 0;
  for (const line of input.split('\n')) {
    if (line.trim() === '') continue;
    try {
      console.log(await check(line));
    } catch (e) {
      failed++;
      console.log('fail ' + (e && e.message ? e.message : e));
    }
  }
  process.exit(failed ? 1 : 0);
}
main();
