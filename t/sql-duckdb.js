// t/sql-duckdb.js SQLFILE GLOB — run the DuckDB form of the leads query
// (sql/leads-duckdb.sql) with @duckdb/node-api over the objects GLOB names
// and write its lines to stdout, joined and ended by CRLF: the bytes
// `calltrail-export csv` writes for the same day.
"use strict";
const fs = require("fs");
const { DuckDBInstance } = require("@duckdb/node-api");

(async () => {
	const [sqlFile, glob] = process.argv.slice(2);
	const db = await DuckDBInstance.create(":memory:");
	const c = await db.connect();
	await c.run("SET VARIABLE calltrail_day = '" + glob.replace(/'/g, "''") + "'");
	const r = await c.runAndReadAll(fs.readFileSync(sqlFile, "utf8"));
	const lines = r.getRows().map((row) => row[0]);
	process.stdout.write(lines.map((l) => l + "\r\n").join(""));
})().catch((e) => { console.error("sql-duckdb: " + e.message); process.exit(1); });
