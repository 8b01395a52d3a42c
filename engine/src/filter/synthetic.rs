//! Synthetic physical memory images for the filter tests.
