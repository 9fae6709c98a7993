//! pd-server library.
