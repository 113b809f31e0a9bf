/*
 * store_fault.c: fault injection into ukd's sqlite store, loaded into an
 * unmodified ukd with LD_PRELOAD by tests/reliability/test_store_faults.py.
 *
 *   UKD_FAULT=io:N      the Nth write (write/pwrite/ftruncate of the unix VFS)
 *                       fails with EIO
 *   UKD_FAULT=malloc:N  the Nth allocation of sqlite's (SQLITE_CONFIG_MALLOC)
 *                       fails
 *   UKD_FAULT_ARM=PATH  counting starts once PATH exists (so that startup is
 *                       never hit and the test picks the request to fault)
 *   UKD_FAULT_FIRED=PATH  created when the fault is injected
 *
 * One fault per process, as SQLite's own "transient" fault tests do: the
 * operation after it must work again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long fault_at;
static long count;
static int fired;
static const char *arm_path, *fired_path;
static sqlite3_mem_methods mem_real;
static sqlite3_syscall_ptr real_write, real_pwrite, real_pwrite64, real_ftruncate;

/* 1 if this operation is the one to fail. */
static int fault_now(void)
{
	static int armed;

	if (__atomic_load_n(&fired, __ATOMIC_SEQ_CST))
		return 0;
	if (!__atomic_load_n(&armed, __ATOMIC_SEQ_CST)) {
		if (!arm_path || access(arm_path, F_OK) != 0)
			return 0;
		__atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
	}
	if (__atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST) != fault_at)
		return 0;
	__atomic_store_n(&fired, 1, __ATOMIC_SEQ_CST);
	if (fired_path)
		close(open(fired_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	return 1;
}

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

__attribute__((constructor)) static void fault_init(void)
{
	const char *spec = getenv("UKD_FAULT");
	sqlite3_vfs *vfs;

	if (!spec)
		return;
	arm_path = getenv("UKD_FAULT_ARM");
	fired_path = getenv("UKD_FAULT_FIRED");
	if (!strncmp(spec, "malloc:", 7)) {
		sqlite3_mem_methods m;

		fault_at = atol(spec + 7);
		/* Before sqlite3_initialize, which ukd's first sqlite3_open does. */
		sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem_real);
		m = mem_real;
		m.xMalloc = fault_malloc;
		m.xRealloc = fault_realloc;
		sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	} else if (!strncmp(spec, "io:", 3)) {
		fault_at = atol(spec + 3);
		if (!(vfs = sqlite3_vfs_find("unix")) || vfs->iVersion < 3)
			return;
		fault_syscall(vfs, "write", (sqlite3_syscall_ptr)fault_write, &real_write);
		fault_syscall(vfs, "pwrite", (sqlite3_syscall_ptr)fault_pwrite, &real_pwrite);
		fault_syscall(vfs, "pwrite64", (sqlite3_syscall_ptr)fault_pwrite64, &real_pwrite64);
		fault_syscall(vfs, "ftruncate", (sqlite3_syscall_ptr)fault_ftruncate,
			      &real_ftruncate);
	}
}
