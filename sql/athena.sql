-- sql/athena.sql — calltrail's archive as an external table for Amazon
-- Athena (engine version 3) or Trino with the Hive connector (SPEC 10).
--
-- The archive (SPEC section 5): one gzipped JSON object per session at
--   s3://BUCKET/PREFIX/sessions/year=YYYY/month=MM/day=DD/<session_id>_<hash>.json.gz
-- (the day of end_time, UTC).  Each object gunzips to the session record
-- exactly as the agent wrote it, one JSON object (see calltrail-spool(1)).
--
-- Replace BUCKET/PREFIX (twice) and run once.  Partition projection
-- computes the partitions from the query's year/month/day predicates
-- (month and day as the two-digit names the archive writes), so
-- no MSCK REPAIR or crawler is needed and a new day is queryable as soon
-- as its first object is stored.  Always filter on year, month and day:
-- Athena then reads only that day's objects.
--
-- The fields calltrail relies on are typed; every other field of the
-- record is still in the objects and can be added here as a column.
-- Records are JSON objects over one or more lines; the OpenX SerDe reads
-- one object per line, which is what calltrail-spool's records are when
-- the agent writes compact JSON (its json.dumps default).

CREATE EXTERNAL TABLE IF NOT EXISTS calltrail_sessions (
  session_id          string,
  user_email          string,
  start_time          string,   -- RFC 3339, as the agent wrote it
  end_time            string,   -- RFC 3339; its UTC day is the partition
  duration_seconds    double,
  user_metadata       string,   -- any JSON: read with json_extract
  discovered_signals  struct<qualification_tier: string>,
  metrics_summary     string,
  tool_calls          string
)
PARTITIONED BY (year string, month string, day string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json' = 'false'
)
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://BUCKET/PREFIX/sessions/'
TBLPROPERTIES (
  'projection.enabled'        = 'true',
  'projection.year.type'      = 'integer',
  'projection.year.range'     = '2024,2099',
  'projection.month.type'     = 'enum',
  'projection.month.values'   = '01,02,03,04,05,06,07,08,09,10,11,12',
  'projection.day.type'       = 'enum',
  'projection.day.values'     = '01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31',
  'storage.location.template' = 's3://BUCKET/PREFIX/sessions/year=${year}/month=${month}/day=${day}/',
  'classification'            = 'json',
  'has_encrypted_data'        = 'false'
);
