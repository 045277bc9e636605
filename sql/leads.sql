-- sql/leads.sql — the daily Salesforce leads file (SPEC sections 5 and 10)
-- from the archive table of sql/athena.sql, for Athena (engine version 3)
-- or Trino: exactly the rows of `calltrail-export csv --day DAY
-- --source target`, in its order, one CSV line per row of the result
-- (column "line"; the header is the first row).  Write the lines joined
-- and ended by CRLF and the bytes equal calltrail's file.
--
-- When one host's `calltrail-export csv` is too slow for a day that many
-- agent hosts exported, this is how to build it.  Replace the day in the
-- WHERE clause (three places: year, month, day; and the partitions hold
-- exactly the calls whose end_time falls on that UTC day).
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
--   * RFC 4180 quoting only where needed (a comma, a quote, CR or LF);
--     rows sorted by email in byte order.
-- Trino compares varchar by code point, which for UTF-8 is byte order.
-- end_time is read to the nanosecond; calltrail keeps microseconds, so
-- two calls of one caller less than a microsecond apart may tie
-- differently.

WITH calls AS (
  SELECT
    regexp_replace(user_email, '^[ \t\n\f\r]+|[ \t\n\f\r]+$', '') AS email,
    session_id,
    from_iso8601_timestamp_nanos(upper(end_time)) AS end_ts,
    discovered_signals.qualification_tier AS tier
  FROM calltrail_sessions
  WHERE year = '2025' AND month = '10' AND day = '29'
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
)
SELECT line FROM (
  SELECT 0 AS part, '' AS email,
    'Email,Last_Voice_Session__c,Last_Voice_Call_Date__c,Voice_Qualification_Tier__c,Voice_Calls__c' AS line
  UNION ALL
  SELECT 1, email, array_join(transform(ARRAY[email, session_id, ended, tier, calls],
      c -> CASE WHEN regexp_like(c, '[,"\r\n]')
                THEN '"' || replace(c, '"', '""') || '"' ELSE c END), ',')
  FROM safe
)
ORDER BY part, to_utf8(email);
