// t/awscred-sdk.js PROVIDER — the AWS SDK for JavaScript's own credential
// provider (@aws-sdk/credential-providers) resolves credentials from the
// same environment and stand-ins as calltrail's chain; prints
// "key=ACCESS_KEY_ID token=yes|no" (never the secret), or "error: …".
// PROVIDER: env, ini, process, tokenfile, container, http, imds.
"use strict";
const p = require("@aws-sdk/credential-providers");

const which = process.argv[2];
const region = process.env.AWS_REGION || "us-east-1";
const make = {
	env: () => p.fromEnv(),
	ini: () => p.fromIni(),
	process: () => p.fromProcess(),
	tokenfile: () => p.fromTokenFile({ clientConfig: { region, endpoint: process.env.AWS_ENDPOINT_URL_STS } }),
	container: () => p.fromContainerMetadata({ timeout: 2000 }),
	http: () => p.fromHttp({}),
	imds: () => p.fromInstanceMetadata({ timeout: 2000 }),
}[which];
if (!make) { console.log("error: unknown provider " + which); process.exit(2); }
make()().then((c) => {
	console.log(`key=${c.accessKeyId} token=${c.sessionToken ? "yes" : "no"}`);
}, (e) => { console.log("error: " + e.name + ": " + String(e.message).slice(0, 200)); process.exit(1); });
