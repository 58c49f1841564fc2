//! Caps, de-duplication, races between processes and crash recovery.
