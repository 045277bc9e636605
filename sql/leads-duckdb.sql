-- sql/leads-duckdb.sql — the DuckDB form of sql/leads.sql (SPEC 10): the
-- daily leads file from a calltrail archive on a disk (file:// target) or
-- anything DuckDB reads, with no table to declare.  The same rules as
-- leads.sql and calltrail-export csv, and the same bytes: the result is
-- one column "line", the header first; join the lines with CRLF and end
-- the last with one.  t/sql.sh runs it over an archive the test suite
-- wrote and compares it with `calltrail-export csv` byte for byte.
--
-- Before running it, name the day's objects (the day of end_time, UTC):
--   SET VARIABLE calltrail_day =
--     '/var/lib/calltrail/archive/sessions/year=2025/month=10/day=29/*.json.gz';
-- e.g.  duckdb -c "SET VARIABLE calltrail_day = '…'" -f leads-duckdb.sql
-- It sets the session's TimeZone to UTC (end times without an offset are
-- UTC, as calltrail reads them).

SET TimeZone = 'UTC';

WITH records AS (
  SELECT json FROM read_json_objects(getvariable('calltrail_day'), format = 'auto')
),
calls AS (
  SELECT
    regexp_replace(json_extract_string(json, '$.user_email'),
                   '^[ \t\n\f\r]+|[ \t\n\f\r]+$', '', 'g') AS email,
    json_extract_string(json, '$.session_id') AS session_id,
    CAST(upper(json_extract_string(json, '$.end_time')) AS TIMESTAMPTZ) AS end_ts,
    json_extract_string(json, '$.discovered_signals.qualification_tier') AS tier
  FROM records
),
valid AS (
  SELECT lower(email) AS email, session_id, end_ts, tier
  FROM calls
  WHERE email IS NOT NULL AND email <> ''
    AND length(email) <= 80
    AND NOT regexp_matches(email, '^[=+@-]')
    AND regexp_full_match(email,
      '[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+')
),
ranked AS (
  SELECT
    email, session_id, end_ts, tier,
    count(*) OVER (PARTITION BY email) AS calls,
    row_number() OVER (PARTITION BY email
                       ORDER BY end_ts DESC, session_id DESC, tier DESC NULLS LAST) AS rn
  FROM valid
),
rows AS (
  SELECT
    email,
    session_id,
    strftime(end_ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS ended,
    coalesce(tier, '') AS tier,
    CAST(calls AS VARCHAR) AS calls
  FROM ranked
  WHERE rn = 1
),
safe AS (
  SELECT * FROM rows
  WHERE NOT regexp_matches(session_id, '^[=+@\t\r-]')
    AND NOT regexp_matches(tier, '^[=+@\t\r-]')
)
SELECT line FROM (
  SELECT 0 AS part, '' AS email,
    'Email,Last_Voice_Session__c,Last_Voice_Call_Date__c,Voice_Qualification_Tier__c,Voice_Calls__c' AS line
  UNION ALL
  SELECT 1, email, array_to_string(list_transform([email, session_id, ended, tier, calls],
      c -> CASE WHEN regexp_matches(c, '[,"\r\n]')
                THEN '"' || replace(c, '"', '""') || '"' ELSE c END), ',')
  FROM safe
)
ORDER BY part, email;
