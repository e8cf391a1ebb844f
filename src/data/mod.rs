//! Corpora: protocol and key loaders for public SDD datasets, a generic CSV loader, and the built-in
//! seeded demo corpus.
