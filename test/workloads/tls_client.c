/*
 * A TLS client for the openssl probe's tests: COUNT HTTP/1.1 requests, one
 * TLS connection each, through OpenSSL's SSL_write/SSL_read, or only the _ex
 * forms with --ex. Built against the shared libssl.so.3 and statically with
 * libssl.a (test/workloads/build.ts). Prints what it moved, so tests compare
 * exact byte counts:
 *   DONE requests=N sent=BYTES received=BYTES
 *
 * Usage: tls_client HOST PORT PATH COUNT [--ex] [--comm NAME]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int use_ex;

static int tls_write(SSL *ssl, const char *buf, size_t n) {
  if (use_ex) {
    size_t w = 0;
    return SSL_write_ex(ssl, buf, n, &w) == 1 ? (int)w : -1;
  }
  return SSL_write(ssl, buf, (int)n);
}

static int tls_read(SSL *ssl, char *buf, size_t n) {
  if (use_ex) {
    size_t r = 0;
    return SSL_read_ex(ssl, buf, n, &r) == 1 ? (int)r : 0;
  }
  return SSL_read(ssl, buf, (int)n);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s HOST PORT PATH COUNT [--ex] [--comm NAME]\n", argv[0]);
    return 2;
  }
  for (int i = 5; i < argc; i++) {
    if (strcmp(argv[i], "--ex") == 0) use_ex = 1;
    else if (strcmp(argv[i], "--comm") == 0 && i + 1 < argc) prctl(PR_SET_NAME, argv[++i]);
  }
  const char *host = argv[1], *path = argv[3];
  int port = atoi(argv[2]), count = atoi(argv[4]);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return 1;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  unsigned long long sent = 0, received = 0;
  static char buf[65536];
  for (int i = 0; i < count; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) { perror("connect"); return 1; }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) { ERR_print_errors_fp(stderr); return 1; }
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    if (tls_write(ssl, req, (size_t)n) != n) { ERR_print_errors_fp(stderr); return 1; }
    sent += (unsigned long long)n;
    int r;
    while ((r = tls_read(ssl, buf, sizeof(buf))) > 0) received += (unsigned long long)r;
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
  }
  printf("DONE requests=%d sent=%llu received=%llu\n", count, sent, received);
  fflush(stdout);
  SSL_CTX_free(ctx);
  return 0;
}
