/*
 * store_fault.c: fault injection into ukd's sqlite store and image files,
 * loaded into an unmodified ukd with LD_PRELOAD by
 * tests/reliability/test_store_faults.py.
 *
 *   UKD_FAULT=io:N      the Nth write (write/pwrite/ftruncate of the unix VFS)
 *                       fails with EIO
 *   UKD_FAULT=malloc:N  the Nth allocation of sqlite's (SQLITE_CONFIG_MALLOC)
 *                       fails
 *   UKD_FAULT=file:N    the Nth write, fsync, fdatasync or rename of a file
 *                       under one of UKD_FAULT_PATHS (absolute prefixes,
 *                       ':'-separated; the image store's directories) fails
 *                       with UKD_FAULT_ERRNO (EIO, the default, or ENOSPC)
 *   N = 0               nothing fails: the points are only counted
 *   UKD_FAULT_ARM=PATH  points are counted while PATH exists (so that startup
 *                       is never hit and the test picks the request to
 *                       fault); each time PATH appears again the count
 *                       starts over and one more fault may fire, at the
 *                       point PATH holds if it holds a number, else at N
 *   UKD_FAULT_FIRED=PATH  created when the fault is injected
 *   UKD_FAULT_COUNT=PATH  the points counted in the last armed window
 *                       (written as they are counted when nothing is to
 *                       fail, else at exit)
 *
 * One fault per armed window, as SQLite's own "transient" fault tests do:
 * the operation after it must work again. Child processes (compilers,
 * network commands) do not inherit the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum fault_kind { FAULT_NONE, FAULT_IO, FAULT_MALLOC, FAULT_FILE };

static enum fault_kind kind;
static long fault_at;
static long count;
static int fired;
static int fault_errno = EIO;
static const char *arm_path, *fired_path, *count_path;
static char paths[4096]; /* UKD_FAULT_PATHS */
static sqlite3_mem_methods mem_real;
static sqlite3_syscall_ptr real_write, real_pwrite, real_pwrite64, real_ftruncate;

static void fault_count_write(void)
{
	FILE *f;

	if (count_path && (f = fopen(count_path, "we"))) {
		fprintf(f, "%ld\n", count);
		fclose(f);
	}
}

/*
 * 1 if this operation is the one to fail. An armed window is told apart
 * from the one before by the arm file's inode and change time.
 */
static int fault_now(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct stat window;
	static long at;
	struct stat st;
	int fail = 0;
	FILE *f;
	long n;

	if (!arm_path || stat(arm_path, &st) != 0)
		return 0;
	pthread_mutex_lock(&lock);
	if (st.st_ino != window.st_ino || st.st_ctim.tv_sec != window.st_ctim.tv_sec ||
	    st.st_ctim.tv_nsec != window.st_ctim.tv_nsec) {
		/* A new armed window: counting starts over, one more fault may fire. */
		window = st;
		count = 0;
		fired = 0;
		at = fault_at;
		if ((f = fopen(arm_path, "re"))) {
			if (fscanf(f, "%ld", &n) == 1)
				at = n;
			fclose(f);
		}
	}
	if (++count == at && !fired)
		fail = fired = 1;
	if (!at)
		fault_count_write();
	pthread_mutex_unlock(&lock);
	if (fail && fired_path)
		close(open(fired_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	return fail;
}

/* --- sqlite's unix VFS (io) and allocator (malloc) --- */

static ssize_t fault_write(int fd, const void *buf, size_t n)
{
	if (fault_now())
		return errno = EIO, -1;
	return ((ssize_t(*)(int, const void *, size_t))real_write)(fd, buf, n);
}

static ssize_t fault_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (fault_now())
		return errno = EIO, -1;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite)(fd, buf, n, off);
}

static ssize_t fault_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	if (fault_now())
		return errno = EIO, -1;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite64)(fd, buf, n, off);
}

static int fault_ftruncate(int fd, off_t len)
{
	if (fault_now())
		return errno = EIO, -1;
	return ((int (*)(int, off_t))real_ftruncate)(fd, len);
}

static void *fault_malloc(int n)
{
	return fault_now() ? NULL : mem_real.xMalloc(n);
}

static void *fault_realloc(void *p, int n)
{
	return fault_now() ? NULL : mem_real.xRealloc(p, n);
}

/* Replaces one of the unix VFS's system calls, keeping the original in *real. */
static void fault_syscall(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr fn,
			  sqlite3_syscall_ptr *real)
{
	if ((*real = vfs->xGetSystemCall(vfs, name)))
		vfs->xSetSystemCall(vfs, name, fn);
}

/* --- the image store's files (file): libc's own functions, interposed --- */

static void *libc_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		abort();
	return fn;
}

/* 1 if path lies under one of UKD_FAULT_PATHS. */
static int path_faulty(const char *path)
{
	const char *p = paths;

	while (*p) {
		size_t n = strcspn(p, ":");

		if (n && !strncmp(path, p, n) && (path[n] == '/' || !path[n]))
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

static int fd_faulty(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return 0;
	path[n] = 0;
	return path_faulty(path);
}

/* 1 if this call on a file (fd, or one of two paths) is the one to fail. */
static int file_fault(int fd, const char *a, const char *b)
{
	if (kind != FAULT_FILE)
		return 0;
	if (fd >= 0 ? !fd_faulty(fd) : !(path_faulty(a) || (b && path_faulty(b))))
		return 0;
	if (!fault_now())
		return 0;
	errno = fault_errno;
	return 1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = libc_fn("write");
	return file_fault(fd, NULL, NULL) ? -1 : real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		real = libc_fn("pwrite");
	return file_fault(fd, NULL, NULL) ? -1 : real(fd, buf, n, off);
}

int fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = libc_fn("fsync");
	return file_fault(fd, NULL, NULL) ? -1 : real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = libc_fn("fdatasync");
	return file_fault(fd, NULL, NULL) ? -1 : real(fd);
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);

	if (!real)
		real = libc_fn("rename");
	return file_fault(-1, from, to) ? -1 : real(from, to);
}

__attribute__((constructor)) static void fault_init(void)
{
	const char *spec = getenv("UKD_FAULT"), *e;
	sqlite3_vfs *vfs;

	if (!spec)
		return;
	/* Faults are ukd's: the compilers and commands it runs get none. */
	unsetenv("LD_PRELOAD");
	arm_path = getenv("UKD_FAULT_ARM");
	fired_path = getenv("UKD_FAULT_FIRED");
	if ((count_path = getenv("UKD_FAULT_COUNT")))
		atexit(fault_count_write);
	if (!strncmp(spec, "malloc:", 7)) {
		sqlite3_mem_methods m;

		kind = FAULT_MALLOC;
		fault_at = atol(spec + 7);
		/* Before sqlite3_initialize, which ukd's first sqlite3_open does. */
		sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem_real);
		m = mem_real;
		m.xMalloc = fault_malloc;
		m.xRealloc = fault_realloc;
		sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	} else if (!strncmp(spec, "io:", 3)) {
		kind = FAULT_IO;
		fault_at = atol(spec + 3);
		if (!(vfs = sqlite3_vfs_find("unix")) || vfs->iVersion < 3)
			return;
		fault_syscall(vfs, "write", (sqlite3_syscall_ptr)fault_write, &real_write);
		fault_syscall(vfs, "pwrite", (sqlite3_syscall_ptr)fault_pwrite, &real_pwrite);
		fault_syscall(vfs, "pwrite64", (sqlite3_syscall_ptr)fault_pwrite64, &real_pwrite64);
		fault_syscall(vfs, "ftruncate", (sqlite3_syscall_ptr)fault_ftruncate,
			      &real_ftruncate);
	} else if (!strncmp(spec, "file:", 5)) {
		kind = FAULT_FILE;
		fault_at = atol(spec + 5);
		snprintf(paths, sizeof(paths), "%s",
			 (e = getenv("UKD_FAULT_PATHS")) ? e : "/nonexistent");
		if ((e = getenv("UKD_FAULT_ERRNO")) && !strcmp(e, "ENOSPC"))
			fault_errno = ENOSPC;
	}
}
