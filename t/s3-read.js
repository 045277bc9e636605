// t/s3-read.js — read back what the client stored, with the AWS SDK.
//
//   node s3-read.js S3RVER_PORT BUCKET PREFIX
//
// Lists every object under PREFIX (ListObjectsV2, paginated) straight from
// s3rver with @aws-sdk/client-s3, fetches each one, gunzips it and prints
// "KEY SHA256-OF-GUNZIPPED-BYTES" per line, so the test can compare them
// with the records it spooled.
'use strict';
const zlib = require('zlib');
const crypto = require('crypto');
const { S3Client, ListObjectsV2Command, GetObjectCommand } = require('@aws-sdk/client-s3');

async function main() {
  const [port, bucket, prefix] = process.argv.slice(2);
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true,
    region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  let token;
  const lines = [];
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix,
      ContinuationToken: token }));
    for (const o of page.Contents || []) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      const bytes = Buffer.from(await got.Body.transformToByteArray());
      let sum;
      try {
        sum = crypto.createHash('sha256').update(zlib.gunzipSync(bytes)).digest('hex');
      } catch (e) {
        sum = 'not-gzip';
      }
      lines.push(`${o.Key} ${sum}`);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  process.stdout.write(lines.map((l) => l + '\n').join(''));
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
