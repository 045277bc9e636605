// t/sf-jsforce.js — jsforce (Salesforce's widely used JavaScript client)
// runs calltrail's push against the stand-in: JWT bearer sign-in, a Bulk
// 2.0 query for the day's emails, a Bulk 2.0 update of the four fields.
// If the stand-in spoke something real clients do not, this fails.
//
//   node t/sf-jsforce.js ORG.json KEY.pem salesforce-leads-DAY.csv
//
// Exits 0 when every step behaved as Salesforce documents; prints why not.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const jsforce = require('jsforce');
const { parse } = require('csv-parse/sync');

const [orgPath, keyPath, csvPath] = process.argv.slice(2);
const org = JSON.parse(fs.readFileSync(orgPath, 'utf8'));
const loginUrl = `http://127.0.0.1:${org.loginPort}`;
const poll = { pollInterval: 20, pollTimeout: 10000 };

function assertion(sub) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = b64({ alg: 'RS256' }) + '.' + b64({
    iss: org.consumerKey, sub, aud: loginUrl, exp: Math.floor(Date.now() / 1000) + 180,
  });
  const sig = crypto.sign('RSA-SHA256', Buffer.from(input), fs.readFileSync(keyPath));
  return input + '.' + sig.toString('base64url');
}
function check(cond, what) {
  if (!cond) { console.log('FAIL: ' + what); process.exitCode = 1; } else console.log('ok: ' + what);
}
function records(stream) {
  return new Promise((resolve, reject) => {
    const out = [];
    stream.on('record', (r) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
  });
}
const soqlStr = (s) => "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
const cell = (v) => (/[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);

(async () => {
  const conn = new jsforce.Connection({ loginUrl, version: '62.0' });
  // a refused assertion first: jsforce must see an OAuth error
  let refused = null;
  try { await conn.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: assertion('nobody@nowhere.example') }); } catch (e) { refused = e; }
  check(refused && /invalid_grant/.test(String(refused.name) + String(refused.message)), 'an unapproved user is refused with invalid_grant');
  await conn.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: assertion(org.username) });
  check(conn.instanceUrl === `http://127.0.0.1:${org.instancePort}`, 'jsforce uses the instance_url it was given');

  const rows = parse(fs.readFileSync(csvPath), { columns: true, strict: true });
  const soql = 'SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email IN (' +
    rows.map((r) => soqlStr(r.Email)).join(',') + ')';
  const found = await records(await conn.bulk2.query(soql, poll));
  check(found.length === 5, `the query finds the 5 unconverted Leads (${found.length})`);

  const fields = ['Last_Voice_Session__c', 'Last_Voice_Call_Date__c', 'Voice_Qualification_Tier__c', 'Voice_Calls__c'];
  let csv = 'Id,' + fields.join(',') + '\r\n';
  for (const rec of found) {
    const row = rows.find((r) => r.Email === rec.Email.toLowerCase());
    csv += [rec.Id, ...fields.map((f) => row[f])].map(cell).join(',') + '\r\n';
  }
  // data with CRLF under lineEnding LF: Salesforce fails the job
  let failed = null;
  try { await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'update', lineEnding: 'LF', input: csv, ...poll }); } catch (e) { failed = e; }
  check(failed && /LineEnding/.test(failed.message), 'a lineEnding that does not match the data fails the job');

  const res = await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'update', lineEnding: 'CRLF', input: csv, ...poll });
  check(res.successfulResults.length === found.length && res.failedResults.length === 0,
    `every record updated (${res.successfulResults.length} ok, ${res.failedResults.length} failed)`);
  check(res.successfulResults.every((r) => r.sf__Id && r.sf__Created === 'false'), 'successfulResults carry sf__Id and sf__Created');

  // one row too long for Text(255) lands in failedResults
  const long = 'Id,Voice_Qualification_Tier__c\r\n' + found[0].Id + ',' + 'x'.repeat(300) + '\r\n';
  const bad = await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'update', lineEnding: 'CRLF', input: long, ...poll });
  check(bad.failedResults.length === 1 && /^STRING_TOO_LONG/.test(bad.failedResults[0].sf__Error),
    'a value past the field length lands in failedResults with sf__Error');

  // the CSV rules Salesforce applies, seen through jsforce
  const load = (input) => conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'update', lineEnding: 'CRLF', input, ...poll });
  const fails = async (input) => { try { await load(input); return null; } catch (e) { return e; } };
  let e = await fails('\ufeffId,Voice_Calls__c\r\n' + found[0].Id + ',1\r\n');
  check(e && /InvalidBatch/.test(e.message), 'a BOM fails the job');
  e = await fails('Id,No_Such_Field__c\r\n' + found[0].Id + ',1\r\n');
  check(e && /Field name not found : No_Such_Field__c/.test(e.message), 'a header that is not a field fails the job');
  e = await fails('Voice_Calls__c\r\n1\r\n');
  check(e && /Id/.test(e.message), 'an update without an Id column fails the job');
  const rowwise = await load('Id,Voice_Calls__c,Last_Voice_Call_Date__c\r\n' +
    found[0].Id + ',many,\r\n' + found[0].Id + ',,yesterday\r\n' + ',3,\r\n' + '00Q000000000000AAA,3,\r\n');
  const errs = rowwise.failedResults.map((r) => r.sf__Error.split(':')[0]).sort().join(' ');
  check(errs === 'INVALID_CROSS_REFERENCE_KEY INVALID_TYPE_ON_FIELD_IN_RECORD INVALID_TYPE_ON_FIELD_IN_RECORD MISSING_ARGUMENT',
    `per-row checks: number, date/time, missing Id, unknown Id (${errs})`);
  // results only once complete; a job takes data only while Open
  const job = conn.bulk2.createJob({ object: 'Lead', operation: 'update', lineEnding: 'CRLF' });
  await job.open();
  let early = null;
  try { await job.getAllResults(); } catch (x) { early = x; }
  check(early !== null, 'results are refused before JobComplete');
  await job.uploadData('Id,Voice_Calls__c\r\n' + found[0].Id + ',' + rows.find((r) => r.Email === found[0].Email.toLowerCase()).Voice_Calls__c + '\r\n');
  await job.close();
  let late = null;
  try { await job.uploadData('Id\r\n'); } catch (x) { late = x; }
  check(late !== null, 'no upload once the job is no longer Open');
  await job.poll(20, 10000);
  check((await job.getAllResults()).successfulResults.length === 1, 'the job completes asynchronously and is polled to JobComplete');
})().catch((e) => { console.log('FAIL: ' + (e && e.stack || e)); process.exitCode = 1; });
