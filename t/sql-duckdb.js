// t/sql-duckdb.js SQLDIR ARCHIVE DAY — run the daily leads query
// (SQLDIR/leads.sql) with @duckdb/node-api over the archive at ARCHIVE (a
// file:// target's directory), its table being SQLDIR/duckdb.sql's view,
// for DAY (YYYY-MM-DD), and write its lines to stdout, joined and ended by
// CRLF: the bytes `calltrail-export csv` writes for the same day.
"use strict";
const fs = require("fs");
const path = require("path");
const { DuckDBInstance } = require("@duckdb/node-api");

(async () => {
	const [sqlDir, archive, day] = process.argv.slice(2);
	const db = await DuckDBInstance.create(":memory:");
	const c = await db.connect();
	const sql = (f) => fs.readFileSync(path.join(sqlDir, f), "utf8");
	await c.run("SET VARIABLE calltrail_archive = '" + archive.replace(/'/g, "''") + "'");
	await c.run(sql("duckdb.sql"));
	const r = await c.runAndReadAll(sql("leads.sql"), day.split("-"));
	const lines = r.getRows().map((row) => row[0]);
	process.stdout.write(lines.map((l) => l + "\r\n").join(""));
})().catch((e) => { console.error("sql-duckdb: " + e.message); process.exit(1); });
