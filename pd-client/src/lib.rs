//! pd-client library.
