-- sql/duckdb.sql — calltrail's archive as a DuckDB view, for sql/leads.sql
-- (SPEC 10): what athena.sql is for Athena and Trino.  It reads the
-- archive where DuckDB can reach it (a file:// target's directory, or
-- s3:// with DuckDB's httpfs) and declares the view calltrail_sessions
-- with the columns leads.sql reads, plus the three Trino functions
-- leads.sql calls that DuckDB names otherwise.
--
-- Name the archive (the target's directory, without /sessions), then run
-- this file and then leads.sql with the day as its three parameters:
--   SET VARIABLE calltrail_archive = '/var/lib/calltrail/archive';
-- t/sql-duckdb.js does exactly that.  The session's TimeZone is set to
-- UTC: end times without an offset are UTC, as calltrail reads them.

SET TimeZone = 'UTC';

-- year, month and day come from the partition directories (kept as the
-- strings they are); a filter on them reads only that day's objects.
CREATE OR REPLACE VIEW calltrail_sessions AS
SELECT session_id, user_email, end_time, discovered_signals, year, month, day
FROM read_json(getvariable('calltrail_archive') || '/sessions/*/*/*/*.json.gz',
  columns = {
    session_id: 'VARCHAR', user_email: 'VARCHAR', end_time: 'VARCHAR',
    discovered_signals: 'STRUCT(qualification_tier VARCHAR)'
  },
  hive_partitioning = true, hive_types_autocast = false);

CREATE OR REPLACE MACRO regexp_like(s, p) AS regexp_matches(s, p);
CREATE OR REPLACE MACRO from_iso8601_timestamp_nanos(s) AS CAST(s AS TIMESTAMPTZ);
-- Only the one Joda pattern leads.sql uses; any other is an error.
CREATE OR REPLACE MACRO format_datetime(ts, f) AS
  CASE WHEN f = 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''
       THEN strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ')
       ELSE error('format_datetime: only leads.sql''s pattern') END;
