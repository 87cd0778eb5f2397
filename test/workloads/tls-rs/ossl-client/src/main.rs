//! The tls_client.c contract over OpenSSL 1.1.1 (the `openssl` crate with
//! a vendored openssl-src 111.x, linked statically): COUNT HTTP/1.1 GETs, one
//! TLS connection each, through SSL_write/SSL_read on a socket BIO. Prints what
//! it moved:
//!   DONE requests=N sent=BYTES received=BYTES
//!
//! Usage: ossl-client HOST PORT PATH COUNT [--comm NAME]
extern crate openssl as tls;

include!("../../tls_client.rs");
