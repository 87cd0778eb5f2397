/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map size in one place; the runtime may override some before load. */
#ifndef LIGHTFOOT_MAP_SIZING_H
#define LIGHTFOOT_MAP_SIZING_H

#define LF_MAX_ALLOWED_TGIDS 4096
#define LF_MAX_ALLOWED_CGROUPS 1024
#define LF_MAX_ALLOWED_COMMS 256
#define LF_MAX_ADOPTIONS 65536        /* open sockets of selected processes noted by one walk */
#define LF_MAX_IO_IN_FLIGHT 16384      /* send/recv syscalls being captured at once */
#define LF_MAX_SSL_CONNS 16384         /* LRU: SSL objects with their joined socket */
#define LF_MAX_CGROUP_DEPTH 16         /* ancestors checked for --cgroup */
#define LF_DEFAULT_RINGBUF_BYTES (8 * 1024 * 1024)

#endif
