-- The warehouse schema. Every statement in jobs/redshift names its tables {schema}.<table>;
-- redshift-copy and the tests substitute a checked identifier (REDSHIFT_SCHEMA).
CREATE SCHEMA IF NOT EXISTS {schema};
