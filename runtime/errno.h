/* errno.h: Linux errno values, as the application expects them. */
#ifndef RT_ERRNO_H
#define RT_ERRNO_H

#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define E2BIG 7
#define EINTR 4
#define EIO 5
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOTTY 25
#define EFBIG 27
#define ENOSPC 28
#define ESPIPE 29
#define EROFS 30
#define EPIPE 32
#define ERANGE 34
#define ENAMETOOLONG 36
#define ENOSYS 38
#define ENOTEMPTY 39
#define ETIMEDOUT 110
#define EINPROGRESS 115
#define EALREADY 114
#define EHOSTUNREACH 113
#define ECONNREFUSED 111
#define ENOTCONN 107
#define EISCONN 106
#define ENOBUFS 105
#define ECONNRESET 104
#define ECONNABORTED 103
#define ENETUNREACH 101
#define EADDRNOTAVAIL 99
#define EADDRINUSE 98
#define EAFNOSUPPORT 97
#define ENOPROTOOPT 92
#define EPROTONOSUPPORT 93
#define EDESTADDRREQ 89
#define ENOTSOCK 88
#define EMSGSIZE 90
#define EOPNOTSUPP 95
#define ENODEV 19
/*
 * Never seen by the application: a blocking call interrupted by a signal
 * returns it, and the syscall dispatcher either restarts the call (the
 * handler has SA_RESTART, or no handler ran) or turns it into EINTR.
 */
#define ERESTARTSYS 512

#endif
