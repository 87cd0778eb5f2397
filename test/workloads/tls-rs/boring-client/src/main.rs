//! The tls_client.c contract over BoringSSL (the `boring` crate, linked
//! statically): COUNT HTTP/1.1 GETs, one TLS connection each, through
//! SSL_write/SSL_read on a socket BIO. Prints what it moved:
//!   DONE requests=N sent=BYTES received=BYTES
//!
//! Usage: boring-client HOST PORT PATH COUNT [--comm NAME]
extern crate boring as tls;

include!("../../tls_client.rs");
