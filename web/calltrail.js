// calltrail.js — the browser half of calltrail (SPEC section 8).
//
// The page that starts a voice call asks calltrail-token for a LiveKit
// token, and the visitor's email must travel with that request so that it
// ends up in the token's metadata, the agent's session record and the
// Salesforce CSV.  This module finds the address and sends it.
//
// A dependency-free ES module: no build step, nothing from a CDN.
//
//   import { connectionDetails } from '/calltrail/calltrail.js';
//   const details = await connectionDetails({ agentName: 'sales-agent' });
//
// With livekit-client:
//   TokenSource.custom(() => connectionDetails({ agentName: 'sales-agent' }))

/** Where sign-up forms keep what the visitor typed: sessionStorage key
 *  holding JSON with an `email` field. */
export const STORAGE_KEY = 'userFormData';

const ENDPOINT = '/api/connection-details';

// A string, or '' for anything else.
function str(v) {
  return typeof v === 'string' ? v.trim() : '';
}

// The email the form stored, or '' when storage is missing, disabled
// (reading it throws in some privacy modes), empty or not our JSON.
function fromStorage(key) {
  try {
    const raw = globalThis.sessionStorage ? globalThis.sessionStorage.getItem(key) : null;
    if (!raw) return '';
    const data = JSON.parse(raw);
    return data && typeof data === 'object' ? str(data.email) : '';
  } catch {
    return '';
  }
}

// The value of a form field given as an element or a CSS selector.
function fromField(field) {
  const el = typeof field === 'string' ? globalThis.document?.querySelector(field) : field;
  return el ? str(el.value) : '';
}

/** The visitor's email, from the first of these that has one: `email` (a
 *  value), `field` (an <input> or a CSS selector), the sessionStorage key
 *  `storageKey` (default 'userFormData').  '' when none has one. */
export function findEmail(options = {}) {
  return str(options.email) || (options.field ? fromField(options.field) : '') ||
    fromStorage(options.storageKey || STORAGE_KEY);
}

// An Error the page can decide on by .code, never by message text.
function failure(code, message, status) {
  const e = new Error(message);
  e.code = code;
  if (status !== undefined) e.status = status;
  return e;
}

/**
 * connectionDetails(options) — ask calltrail-token for a LiveKit token.
 *
 * POSTs {"user_email": E, "room_config": {"agents": [{"agent_name": A}]}}
 * to options.endpoint (default '/api/connection-details'); without an
 * agentName there is no room_config and the server's default_agent
 * applies.  E comes from findEmail(options) and is '' when there is none:
 * the call still starts, the agent will ask.  Also passed on when given:
 * participantName, participantAttributes, agentMetadata (the names of
 * livekit-client's TokenSourceFetchOptions).  options.fetch replaces the
 * global fetch; options.signal aborts.
 *
 * Resolves to the endpoint's JSON ({serverUrl, roomName, participantName,
 * participantToken, ...}), exactly what TokenSource.custom expects.
 * Rejects with an Error whose .code is the server's `error`
 * ('invalid_email' when the address was refused, 'rate_limited', ...) and
 * .message its message, with .status the HTTP status; 'network_error'
 * when no answer came (also a cross-origin answer the browser withheld),
 * 'bad_response' when the answer was not a token.
 */
export async function connectionDetails(options = {}) {
  const body = { user_email: findEmail(options) };
  if (str(options.agentName)) {
    const agent = { agent_name: str(options.agentName) };
    if (typeof options.agentMetadata === 'string') agent.metadata = options.agentMetadata;
    body.room_config = { agents: [agent] };
  }
  if (typeof options.participantName === 'string' && options.participantName)
    body.participant_name = options.participantName;
  if (options.participantAttributes && typeof options.participantAttributes === 'object')
    body.participant_attributes = options.participantAttributes;

  const doFetch = options.fetch || globalThis.fetch;
  let res;
  try {
    res = await doFetch(options.endpoint || ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      // The service needs no cookie; none is sent to another origin.
      credentials: 'same-origin',
      cache: 'no-store',
      signal: options.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw failure('network_error', 'the token service could not be reached');
  }

  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (data && typeof data.error === 'string')
      throw failure(data.error, str(data.message) || data.error, res.status);
    throw failure('bad_response', `the token service answered ${res.status}`, res.status);
  }
  if (!data || typeof data.participantToken !== 'string' || typeof data.serverUrl !== 'string')
    throw failure('bad_response', 'the token service answered without a token', res.status);
  return data;
}

/** The claims of a LiveKit token (no verification: for display only),
 *  with `metadata` parsed when it is JSON; null when it is not a JWT. */
export function tokenClaims(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
    if (typeof claims.metadata === 'string') {
      try {
        claims.metadata = JSON.parse(claims.metadata);
      } catch {
        // not JSON: left as the string it is
      }
    }
    return claims;
  } catch {
    return null;
  }
}
