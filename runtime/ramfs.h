/*
 * ramfs.h: the in-memory file system: the image's files (read-write, copied
 * on first write), directories, and device nodes under /dev. Everything the
 * application writes stays in memory and is gone at power-off.
 */
#ifndef RAMFS_H
#define RAMFS_H

#include <stdint.h>

#include "vfs.h"

#define NAME_MAX 255
#define PATH_MAX 4096

struct dentry;

struct inode {
	uint32_t mode; /* S_IFxxx | permission bits */
	uint64_t ino;
	int nlink;
	int open_count;
	uint8_t *data; /* regular files: contents (kmalloc'd, or borrowed from the image) */
	uint64_t size, cap;
	int borrowed;
	struct dentry *children; /* directories */
	struct inode *parent;
	const struct file_ops *dev_ops; /* device nodes */
	void *dev_priv;			/* their open files' priv */
	uint64_t mtime_tsc;		/* last change, as a TSC stamp */
};

struct dentry {
	struct dentry *next;
	struct inode *inode;
	char name[];
};

/* Builds / with /dev, /tmp and the image's files. */
void ramfs_init(void);
/* Adds a file from the image (path absolute; parent directories are created). */
int ramfs_add_file(const char *path, const void *data, uint64_t size, uint32_t mode);
/* Adds a character device node under /dev. */
int ramfs_add_device(const char *name, const struct file_ops *ops);
/* Adds a block device node under /dev whose open files get priv. */
int ramfs_add_device_priv(const char *name, const struct file_ops *ops, void *priv);

/*
 * Resolves path (relative to `at`, or to the cwd when at is NULL). With
 * want_parent, returns the parent directory and copies the last component
 * into last (which may not exist yet). Returns 0 or -errno.
 */
int ramfs_resolve(struct inode *at, const char *path, int want_parent, struct inode **out,
		  char *last);
struct inode *ramfs_lookup_child(struct inode *dir, const char *name);
struct inode *ramfs_cwd(void);
void ramfs_set_cwd(struct inode *dir);
int ramfs_path_of(struct inode *dir, char *buf, uint64_t len);

/* Open an inode as a file. */
int ramfs_open(struct inode *ino, int flags, struct file **out);
struct inode *ramfs_create(struct inode *dir, const char *name, uint32_t mode, int *err);
int ramfs_unlink(struct inode *dir, const char *name, int rmdir);
int ramfs_rename(struct inode *odir, const char *oname, struct inode *ndir, const char *nname,
		 int noreplace);
void ramfs_stat(struct inode *ino, struct linux_stat *st);
/* The inode behind an open ramfs file, or NULL for other kinds of file. */
struct inode *ramfs_inode_of(struct file *f);
int ramfs_truncate(struct inode *ino, uint64_t len);

#endif
