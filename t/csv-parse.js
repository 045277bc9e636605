// t/csv-parse.js FILE — read a calltrail Salesforce CSV with csv-parse in
// strict mode and print what it holds as JSON: {"rows": [[...], ...]}
// (the header first).  Exits 1 with a message on anything csv-parse or the
// checks below refuse: a BOM, a line not ending in CRLF, a column count
// other than 5, a bad header.
'use strict';
const fs = require('fs');
const { parse } = require('csv-parse/sync');

const HEADER = ['Email', 'Last_Voice_Session__c', 'Last_Voice_Call_Date__c',
  'Voice_Qualification_Tier__c', 'Voice_Calls__c'];

function fail(msg) {
  process.stderr.write(`csv-parse.js: ${msg}\n`);
  process.exit(1);
}

const buf = fs.readFileSync(process.argv[2]);
if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
  fail('file starts with a UTF-8 BOM');
if (buf.length < 2 || buf[buf.length - 2] !== 0x0d || buf[buf.length - 1] !== 0x0a)
  fail('file does not end with CRLF');
if (!buf.equals(Buffer.from(buf.toString('utf8'), 'utf8')))
  fail('not valid UTF-8');

let rows;
try {
  rows = parse(buf, {
    bom: false, record_delimiter: '\r\n', relax_quotes: false,
    relax_column_count: false, skip_empty_lines: false, info: true,
  });
} catch (e) {
  fail(`strict parse failed: ${e.message}`);
}

// Every record must end in CRLF: check the bytes after each record's last
// byte (info.bytes is the running offset past the record delimiter).
for (const r of rows) {
  const end = r.info.bytes;
  if (buf[end - 2] !== 0x0d || buf[end - 1] !== 0x0a)
    fail(`record at line ${r.info.lines} does not end with CRLF`);
  if (r.record.length !== 5)
    fail(`record at line ${r.info.lines} has ${r.record.length} columns`);
}
const records = rows.map((r) => r.record);
if (JSON.stringify(records[0]) !== JSON.stringify(HEADER))
  fail(`bad header: ${JSON.stringify(records[0])}`);
process.stdout.write(JSON.stringify({ rows: records }) + '\n');
