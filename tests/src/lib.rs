//! Shared fixtures for the integration tests: namespaces, veth pairs, peers.
