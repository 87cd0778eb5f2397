// The body of both Rust TLS clients (boring-client/, ossl-client/): each crate
// root names its TLS crate `tls` (`extern crate boring as tls;` or
// `extern crate openssl as tls;`, whose ssl APIs have the same shape) and
// include!s this file. They stay two binaries: both libraries define SSL_*.
use tls::ssl::{SslConnector, SslMethod, SslVerifyMode};
use std::io::Write;
use std::net::TcpStream;
use std::process::exit;

fn set_comm(name: &str) {
    let c = std::ffi::CString::new(name).expect("comm");
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: {} HOST PORT PATH COUNT [--comm NAME]", args[0]);
        exit(2);
    }
    let mut i = 5;
    while i < args.len() {
        if args[i] == "--comm" && i + 1 < args.len() {
            i += 1;
            set_comm(&args[i]);
        }
        i += 1;
    }
    let (host, port, path) = (&args[1], &args[2], &args[3]);
    let count: u64 = args[4].parse().expect("COUNT");
    let mut b = SslConnector::builder(SslMethod::tls()).expect("SSL_CTX_new");
    b.set_verify(SslVerifyMode::NONE);
    let connector = b.build();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut buf = vec![0u8; 65536];
    for _ in 0..count {
        let tcp = TcpStream::connect(format!("{host}:{port}")).unwrap_or_else(|e| {
            eprintln!("connect: {e}");
            exit(1)
        });
        let mut cfg = connector.configure().expect("SSL_new");
        cfg.set_verify_hostname(false);
        let mut ssl = cfg.connect("localhost", tcp).unwrap_or_else(|e| {
            eprintln!("SSL_connect: {e}");
            exit(1)
        });
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        // One SSL_write for the whole request, as tls_client.c does.
        let n = ssl.ssl_write(req.as_bytes()).expect("SSL_write");
        assert_eq!(n, req.len(), "short SSL_write");
        sent += n as u64;
        loop {
            match ssl.ssl_read(&mut buf) {
                Ok(0) => break,
                Ok(r) => received += r as u64,
                Err(_) => break, // close_notify or EOF
            }
        }
        let _ = ssl.shutdown();
    }
    println!("DONE requests={count} sent={sent} received={received}");
    let _ = std::io::stdout().flush();
}
