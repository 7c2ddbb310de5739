//! Collectors for minetsdb.
