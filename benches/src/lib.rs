//! Shared helpers for the benchmarks: synthetic photos and masks.
