//! ingest-api (under construction).
