//! stream-enrich (under construction).
