-- sql/leads.sql — the daily Salesforce leads file (SPEC sections 5 and 10)
-- from the archive table calltrail_sessions: exactly the rows of
-- `calltrail-export csv --day DAY --source target`, in its order, one CSV
-- line per row of the result (column "line"; the header is the first
-- row).  Write the lines joined and ended by CRLF and the bytes equal
-- calltrail's file.
--
-- When one host's `calltrail-export csv` is too slow for a day that many
-- agent hosts exported, this is how to build it.  One query for Athena
-- (engine version 3), Trino and DuckDB; the table is the caller's:
--   * Athena or Trino: sql/athena.sql's table;
--   * DuckDB: sql/duckdb.sql's view (run it first, in the same session);
-- t/sql.sh runs it in DuckDB and compares it with calltrail-export csv.
-- The day is the query's three parameters, year, month and day, as the
-- partitions spell them ('2025', '10', '29'); they hold exactly the calls
-- whose end_time falls on that UTC day.  Athena:
--   aws athena start-query-execution --query-string file://leads.sql \
--     --execution-parameters "'2025'" "'10'" "'29'" ...
-- Trino: PREPARE leads FROM <this query>; EXECUTE leads USING '2025', '10', '29'.
--
-- The rules, in the order calltrail applies them:
--   * email = lower(trim(user_email)), trimming space, TAB, LF, FF, CR;
--     sessions without one, or whose email breaks calltrail's email rule
--     (WHATWG's valid e-mail address; at most 64 bytes before the @; a
--     dot in the domain; not starting with = + - @), or longer than 80
--     characters (Salesforce's Email field) are left out;
--   * one row per email: the call with the latest end_time wins, on equal
--     end times the larger session_id (byte order), then the larger tier
--     (none lowest); Voice_Calls__c counts that email's calls of the day;
--   * the end time as YYYY-MM-DDTHH:MM:SS.sssZ (UTC, milliseconds cut);
--   * a row with a cell beginning with = + - @, TAB or CR is left out,
--     never rewritten;
--   * RFC 4180 quoting only where needed (a comma, a quote, CR or LF):
--     only session_id and the tier can need it (the email rule, the time
--     and the count leave no such byte in the others);
--   * rows sorted by email in byte order (Trino and DuckDB compare
--     varchar by code point, which for UTF-8 is byte order).
-- end_time is read to the nanosecond in Trino and to the microsecond in
-- DuckDB; calltrail keeps microseconds, so in Trino two calls of one
-- caller less than a microsecond apart may tie differently.
--
-- Written in the SQL both engines read: each trim is anchored (Trino's
-- regexp_replace replaces every match, DuckDB's only the first).

WITH calls AS (
  SELECT
    regexp_replace(regexp_replace(user_email, '^[ \t\n\f\r]+', ''),
                   '[ \t\n\f\r]+$', '') AS email,
    session_id,
    from_iso8601_timestamp_nanos(upper(end_time)) AS end_ts,
    discovered_signals.qualification_tier AS tier
  FROM calltrail_sessions
  WHERE year = ? AND month = ? AND day = ?
),
valid AS (
  SELECT lower(email) AS email, session_id, end_ts, tier
  FROM calls
  WHERE email IS NOT NULL AND email <> ''
    AND length(email) <= 80
    AND NOT regexp_like(email, '^[=+@-]')
    AND regexp_like(email,
      '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$')
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
    format_datetime(end_ts AT TIME ZONE 'UTC', 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS ended,
    coalesce(tier, '') AS tier,
    CAST(calls AS varchar) AS calls
  FROM ranked
  WHERE rn = 1
),
safe AS (
  SELECT * FROM rows
  WHERE NOT regexp_like(session_id, '^[=+@\t\r-]')
    AND NOT regexp_like(tier, '^[=+@\t\r-]')
),
quoted AS (
  SELECT email, ended, calls,
    CASE WHEN regexp_like(session_id, '[,"\r\n]')
         THEN '"' || replace(session_id, '"', '""') || '"' ELSE session_id END AS sid,
    CASE WHEN regexp_like(tier, '[,"\r\n]')
         THEN '"' || replace(tier, '"', '""') || '"' ELSE tier END AS tier
  FROM safe
)
SELECT line FROM (
  SELECT 0 AS part, '' AS email,
    'Email,Last_Voice_Session__c,Last_Voice_Call_Date__c,Voice_Qualification_Tier__c,Voice_Calls__c' AS line
  UNION ALL
  SELECT 1, email, email || ',' || sid || ',' || ended || ',' || tier || ',' || calls
  FROM quoted
)
ORDER BY part, email;
