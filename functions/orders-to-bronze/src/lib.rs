//! orders-to-bronze (under construction).
