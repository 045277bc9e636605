// t/aws-standin.js — stand-ins on loopback for AWS's credential endpoints,
// written from AWS's documentation, for t/awscred.sh:
//
//   EC2 instance metadata, IMDSv2 ("Use the Instance Metadata Service to
//   access instance metadata"): PUT /latest/api/token with
//   X-aws-ec2-metadata-token-ttl-seconds (1..21600, else 400) gives a token;
//   every GET without a valid X-aws-ec2-metadata-token is 401 (IMDSv2
//   required, as on a hardened instance).  GET
//   /latest/meta-data/iam/security-credentials/ lists the role (404 when
//   none is attached), …/ROLE gives {"Code":"Success", "LastUpdated",
//   "Type":"AWS-HMAC", "AccessKeyId", "SecretAccessKey", "Token",
//   "Expiration"}.
//
//   The container endpoint ("Amazon ECS task IAM role", EKS Pod Identity):
//   GET /container/creds with "Authorization: TOKEN" (401 otherwise) gives
//   {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"}.
//
//   STS AssumeRoleWithWebIdentity (STS API reference, Query API): POST /
//   with Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn&
//   RoleSessionName&WebIdentityToken, answered with the
//   AssumeRoleWithWebIdentityResponse XML, or an ErrorResponse
//   (InvalidIdentityToken 400, AccessDenied 403).
//
// usage: node aws-standin.js PORTFILE   (listens on a free loopback port)
// Environment: STANDIN_TTL (seconds the credentials live, default 3600),
// STANDIN_ROLE ("" : no role attached), STANDIN_AUTH (the container token),
// STANDIN_WEBID (the web identity token STS accepts), STANDIN_ROLE_ARN.
// STANDIN_AK, STANDIN_SK, STANDIN_TOKEN: hand out these instead (what an S3
// stand-in behind them accepts).
// GET /__standin/stats gives the number of credentials handed out per source.
// Every secret holds "STANDINSECRET" and every token "STANDINTOKEN", so a
// test can grep all output for a leak.
"use strict";
const http = require("http");
const crypto = require("crypto");
const fs = require("fs");

const ttl = +(process.env.STANDIN_TTL || 3600);
const role = process.env.STANDIN_ROLE ?? "calltrail-role";
const auth = process.env.STANDIN_AUTH || "container-auth-STANDINTOKEN";
const webid = process.env.STANDIN_WEBID || "eyJ-web-identity-STANDINTOKEN";
const roleArn = process.env.STANDIN_ROLE_ARN || "arn:aws:iam::123456789012:role/calltrail";
const imdsTokens = new Map(); // token -> expiry (ms)
const stats = { imds: 0, container: 0, sts: 0, token_put: 0, unauthorized: 0, sts_bodies: [] };

function creds(kind) {
	stats[kind]++;
	const exp = new Date(Date.now() + ttl * 1000);
	exp.setMilliseconds(0);
	return {
		AccessKeyId: process.env.STANDIN_AK || "ASIA" + kind.toUpperCase() + "STANDIN01",
		SecretAccessKey: process.env.STANDIN_SK ||
			kind + "-STANDINSECRET-" + crypto.randomBytes(8).toString("hex"),
		Token: process.env.STANDIN_TOKEN ||
			kind + "-STANDINTOKEN-" + crypto.randomBytes(16).toString("base64"),
		Expiration: exp.toISOString().replace(/\.\d{3}Z$/, "Z"),
	};
}

function send(res, status, type, body, headers = {}) {
	res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
	res.end(body);
}

function imds(req, res) {
	if (req.method === "PUT" && req.url === "/latest/api/token") {
		const t = +req.headers["x-aws-ec2-metadata-token-ttl-seconds"];
		if (!(t >= 1 && t <= 21600)) return send(res, 400, "text/plain", "Bad Request");
		const tok = crypto.randomBytes(24).toString("base64");
		imdsTokens.set(tok, Date.now() + t * 1000);
		stats.token_put++;
		return send(res, 200, "text/plain", tok, { "X-aws-ec2-metadata-token-ttl-seconds": String(t) });
	}
	if (req.method !== "GET") return send(res, 405, "text/plain", "Method Not Allowed");
	const tok = req.headers["x-aws-ec2-metadata-token"];
	if (!tok || !(imdsTokens.get(tok) > Date.now())) {
		stats.unauthorized++;
		return send(res, 401, "text/plain", "Unauthorized");
	}
	const base = "/latest/meta-data/iam/security-credentials/";
	if (req.url === base) {
		if (!role) return send(res, 404, "text/plain", "Not Found");
		return send(res, 200, "text/plain", role);
	}
	if (role && req.url === base + role) {
		const c = creds("imds");
		return send(res, 200, "text/plain", JSON.stringify({
			Code: "Success", LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
			Type: "AWS-HMAC", ...c }, null, 2));
	}
	return send(res, 404, "text/plain", "Not Found");
}

function container(req, res) {
	if (req.headers.authorization !== auth) {
		stats.unauthorized++;
		return send(res, 401, "application/json", JSON.stringify({ message: "unauthorized" }));
	}
	const c = creds("container");
	return send(res, 200, "application/json", JSON.stringify({ ...c, RoleArn: roleArn }));
}

function xmlError(res, status, code, message) {
	send(res, status, "text/xml", `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>${crypto.randomUUID()}</RequestId>
</ErrorResponse>
`);
}

function sts(req, res, body) {
	const p = new URLSearchParams(body);
	stats.sts_bodies.push([...p.keys()].sort().join(","));
	if (p.get("Action") !== "AssumeRoleWithWebIdentity" || p.get("Version") !== "2011-06-15")
		return xmlError(res, 400, "InvalidAction", "unknown action");
	if (p.get("RoleArn") !== roleArn)
		return xmlError(res, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
	if (p.get("WebIdentityToken") !== webid || !p.get("RoleSessionName"))
		return xmlError(res, 400, "InvalidIdentityToken", "The web identity token could not be validated");
	const c = creds("sts");
	send(res, 200, "text/xml", `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:calltrail:export</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/calltrail/${p.get("RoleSessionName")}</Arn>
      <AssumedRoleId>AROAEXAMPLE:${p.get("RoleSessionName")}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${c.Token}</SessionToken>
      <SecretAccessKey>${c.SecretAccessKey}</SecretAccessKey>
      <Expiration>${c.Expiration}</Expiration>
      <AccessKeyId>${c.AccessKeyId}</AccessKeyId>
    </Credentials>
    <Provider>oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`);
}

const server = http.createServer((req, res) => {
	const chunks = [];
	let size = 0;
	req.on("data", (d) => { size += d.length; if (size <= 65536) chunks.push(d); });
	req.on("end", () => {
		const body = Buffer.concat(chunks).toString();
		if (req.url === "/__standin/stats") return send(res, 200, "application/json", JSON.stringify(stats));
		if (req.url.startsWith("/latest/")) return imds(req, res);
		if (req.url.startsWith("/container/")) return container(req, res);
		if (req.method === "POST" && (req.url === "/" || req.url.startsWith("/?"))) return sts(req, res, body);
		send(res, 404, "text/plain", "Not Found");
	});
});
server.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(server.address().port)));
