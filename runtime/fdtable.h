/* fdtable.h: the process's file descriptors (one table, shared by all threads). */
#ifndef FDTABLE_H
#define FDTABLE_H

#include "vfs.h"

#define FD_MAX 1024

/* Installs f at the lowest free fd >= min (taking over the caller's reference). fd or -EMFILE. */
int fd_install(struct file *f, int min, int cloexec);
/* The file behind fd (no new reference), or NULL. */
struct file *fd_get(int fd);
int fd_close(int fd);
/* dup2/dup3: newfd becomes a copy of oldfd (closing what was there). */
int fd_dup_to(int oldfd, int newfd, int cloexec);
int fd_get_cloexec(int fd);
int fd_set_cloexec(int fd, int on);
int fd_count(void);

#endif
