// t/rgw-read.js — the AWS SDK for JavaScript (@aws-sdk/client-s3) on Ceph's
// RADOS Gateway, for t/rgw.sh.  Credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY; the endpoint is the first argument.
//
//   node rgw-read.js URL mkbucket BUCKET
//   node rgw-read.js URL read BUCKET PREFIX
//       lists PREFIX page by page (ListObjectsV2, 1,000 keys a page), gets
//       every object and prints "pages N" then, per object,
//       "KEY SHA256-OF-GUNZIPPED-BYTES SSE" (SSE: the
//       x-amz-server-side-encryption answer, "-" for none).
"use strict";
const zlib = require("zlib");
const crypto = require("crypto");
const { S3Client, CreateBucketCommand, ListObjectsV2Command, GetObjectCommand } =
	require("@aws-sdk/client-s3");

async function main() {
	const [url, cmd, bucket, prefix] = process.argv.slice(2);
	const s3 = new S3Client({ endpoint: url, forcePathStyle: true, region: "us-east-1" });
	if (cmd === "mkbucket") return s3.send(new CreateBucketCommand({ Bucket: bucket }));
	let token, pages = 0;
	const keys = [];
	do {
		const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix,
			ContinuationToken: token }));
		pages++;
		for (const o of page.Contents || []) keys.push(o.Key);
		token = page.IsTruncated ? page.NextContinuationToken : undefined;
	} while (token);
	const lines = new Array(keys.length);
	let next = 0;
	async function worker() {
		while (next < keys.length) {
			const i = next++;
			const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[i] }));
			const bytes = Buffer.from(await got.Body.transformToByteArray());
			const sum = crypto.createHash("sha256").update(zlib.gunzipSync(bytes)).digest("hex");
			lines[i] = `${keys[i]} ${sum} ${got.ServerSideEncryption || "-"}`;
		}
	}
	await Promise.all(Array.from({ length: 8 }, worker));
	process.stdout.write(`pages ${pages}\n` + lines.map((l) => l + "\n").join(""));
}
main().catch((e) => { console.error("rgw-read: " + e.name + ": " + e.message); process.exit(1); });
