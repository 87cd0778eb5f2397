#ifndef LF_H2_NET_FMT_H
#define LF_H2_NET_FMT_H
#include <stddef.h>
#include <stdint.h>
size_t lf_fmt_u64(char *dst, uint64_t v);
size_t lf_fmt_ip(char *dst, uint8_t family, const uint8_t addr[16]);                       /* <= 39 bytes */
size_t lf_fmt_endpoint(char *dst, uint8_t family, const uint8_t addr[16], uint16_t port); /* <= 47 */
size_t lf_comm_utf8(char *dst, const char comm[16]);                                       /* <= 32 */
#endif
