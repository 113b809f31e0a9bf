/*
 * ramfs.c: directories are lists of named entries; regular files are one
 * growable buffer. Files from the image are not copied at boot: their data
 * points into the image until the first write or truncate (copy on write).
 */
#include "ramfs.h"

#include "errno.h"
#include "heap.h"
#include "lib.h"
#include "cpu.h"
#include "time.h"

static struct inode *root, *cwd;
static uint64_t next_ino = 1;

/*
 * Times are kept as TSC stamps and turned into wall-clock time only by
 * stat(): building the file system at boot must not wait for the clock's
 * calibration.
 */
static uint64_t now_tsc(void)
{
	return rdtsc();
}

static struct inode *inode_new(uint32_t mode, struct inode *parent)
{
	struct inode *i = kmalloc(sizeof(*i));

	if (!i)
		return 0;
	i->mode = mode;
	i->ino = next_ino++;
	i->parent = parent ? parent : i;
	i->nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
	return i;
}

static void inode_maybe_free(struct inode *i)
{
	if (i->nlink > 0 || i->open_count > 0)
		return;
	if (!i->borrowed)
		kfree(i->data);
	kfree(i);
}

struct inode *ramfs_lookup_child(struct inode *dir, const char *name)
{
	if (!strcmp(name, ".") || !*name)
		return dir;
	if (!strcmp(name, ".."))
		return dir->parent;
	for (struct dentry *d = dir->children; d; d = d->next)
		if (!strcmp(d->name, name))
			return d->inode;
	return 0;
}

static int link_child(struct inode *dir, const char *name, struct inode *i)
{
	size_t n = strlen(name);
	struct dentry *d = kmalloc(sizeof(*d) + n + 1);

	if (!d)
		return -ENOMEM;
	memcpy(d->name, name, n + 1);
	d->inode = i;
	d->next = dir->children;
	dir->children = d;
	dir->mtime_tsc = now_tsc();
	return 0;
}

/* Removes the entry (not the inode) and returns its inode. */
static struct inode *unlink_child(struct inode *dir, const char *name)
{
	for (struct dentry **p = &dir->children; *p; p = &(*p)->next) {
		struct dentry *d = *p;
		struct inode *i;

		if (strcmp(d->name, name))
			continue;
		*p = d->next;
		i = d->inode;
		kfree(d);
		dir->mtime_tsc = now_tsc();
		return i;
	}
	return 0;
}

int ramfs_resolve(struct inode *at, const char *path, int want_parent, struct inode **out,
		  char *last)
{
	struct inode *cur = *path == '/' ? root : (at ? at : cwd);
	char name[NAME_MAX + 1];

	if (!*path)
		return -ENOENT;
	while (*path) {
		size_t n = 0;

		while (*path == '/')
			path++;
		while (path[n] && path[n] != '/')
			n++;
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, path, n);
		name[n] = 0;
		path += n;
		while (*path == '/')
			path++;
		if ((cur->mode & S_IFMT) != S_IFDIR)
			return -ENOTDIR;
		if (!*path && want_parent) {
			memcpy(last, name, n + 1);
			*out = cur;
			return 0;
		}
		if (!(cur = ramfs_lookup_child(cur, name)))
			return -ENOENT;
	}
	if (want_parent) { /* the path was "/" or ended in "/": no last component */
		last[0] = '.';
		last[1] = 0;
		*out = cur;
		return 0;
	}
	*out = cur;
	return 0;
}

struct inode *ramfs_create(struct inode *dir, const char *name, uint32_t mode, int *err)
{
	struct inode *i;

	if (ramfs_lookup_child(dir, name)) {
		*err = -EEXIST;
		return 0;
	}
	if (!(i = inode_new(mode, dir)) || link_child(dir, name, i)) {
		kfree(i);
		*err = -ENOMEM;
		return 0;
	}
	if ((mode & S_IFMT) == S_IFDIR)
		dir->nlink++;
	i->mtime_tsc = now_tsc();
	return i;
}

int ramfs_unlink(struct inode *dir, const char *name, int rmdir)
{
	struct inode *i = ramfs_lookup_child(dir, name);

	if (!i || !strcmp(name, ".") || !strcmp(name, ".."))
		return i ? -EINVAL : -ENOENT;
	if (rmdir && (i->mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	if (!rmdir && (i->mode & S_IFMT) == S_IFDIR)
		return -EISDIR;
	if (rmdir && i->children)
		return -ENOTEMPTY;
	if (rmdir && (i == cwd || i == root))
		return -EBUSY;
	unlink_child(dir, name);
	if (rmdir) {
		dir->nlink--;
		i->nlink = 0;
	} else {
		i->nlink--;
	}
	inode_maybe_free(i);
	return 0;
}

static int is_ancestor(struct inode *a, struct inode *d)
{
	for (; d != root; d = d->parent)
		if (d == a)
			return 1;
	return a == root;
}

int ramfs_rename(struct inode *odir, const char *oname, struct inode *ndir, const char *nname,
		 int noreplace)
{
	struct inode *i = ramfs_lookup_child(odir, oname),
		     *target = ramfs_lookup_child(ndir, nname);
	int isdir;

	if (!i)
		return -ENOENT;
	if (!strcmp(oname, ".") || !strcmp(oname, "..") || !strcmp(nname, ".") ||
	    !strcmp(nname, ".."))
		return -EBUSY;
	if (i == target)
		return 0;
	isdir = (i->mode & S_IFMT) == S_IFDIR;
	if (isdir && is_ancestor(i, ndir))
		return -EINVAL;
	if (target) {
		if (noreplace)
			return -EEXIST;
		if (isdir != ((target->mode & S_IFMT) == S_IFDIR))
			return isdir ? -ENOTDIR : -EISDIR;
		if (ramfs_unlink(ndir, nname, isdir))
			return -ENOTEMPTY;
	}
	if (link_child(ndir, nname, i))
		return -ENOMEM;
	unlink_child(odir, oname);
	if (isdir) {
		odir->nlink--;
		ndir->nlink++;
		i->parent = ndir;
	}
	return 0;
}

void ramfs_stat(struct inode *i, struct linux_stat *st)
{
	*st = (struct linux_stat){0};
	st->st_dev = 1;
	st->st_ino = i->ino;
	st->st_nlink = i->nlink > 0 ? i->nlink : 0;
	st->st_mode = i->mode;
	st->st_size = (i->mode & S_IFMT) == S_IFREG ? (int64_t)i->size : 0;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	int64_t t = time_tsc_to_realtime_ns(i->mtime_tsc);

	st->st_mtime = st->st_atime = st->st_ctime = t / 1000000000;
	st->st_mtime_ns = st->st_atime_ns = st->st_ctime_ns = t % 1000000000;
	if (i->dev_ops)
		st->st_rdev = (1 << 8) | i->ino;
}

/* Makes room for len bytes, copying borrowed image data on the first change. */
static int reserve(struct inode *i, uint64_t len)
{
	uint64_t cap;
	uint8_t *d;

	if (len <= i->cap && !i->borrowed)
		return 0;
	if (len > (1ull << 32))
		return -EFBIG;
	cap = MAX(MAX(len, 64), i->borrowed ? len : i->cap * 2);
	if (!(d = kmalloc(cap)))
		return -ENOSPC;
	memcpy(d, i->data, MIN(i->size, cap));
	if (!i->borrowed)
		kfree(i->data);
	i->data = d;
	i->cap = cap;
	i->borrowed = 0;
	return 0;
}

int ramfs_truncate(struct inode *i, uint64_t len)
{
	int err;

	if ((i->mode & S_IFMT) != S_IFREG)
		return (i->mode & S_IFMT) == S_IFDIR ? -EISDIR : -EINVAL;
	if (len > i->size && (err = reserve(i, len)))
		return err;
	if (len < i->size && i->borrowed && (err = reserve(i, len)))
		return err;
	if (len > i->size)
		memset(i->data + i->size, 0, len - i->size);
	i->size = len;
	i->mtime_tsc = now_tsc();
	return 0;
}

static long reg_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	struct inode *i = f->priv;
	uint64_t n;

	if (*pos >= i->size)
		return 0;
	n = MIN(len, i->size - *pos);
	memcpy(buf, i->data + *pos, n);
	*pos += n;
	return (long)n;
}

static long reg_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	struct inode *i = f->priv;
	int err;

	if (f->flags & O_APPEND)
		*pos = i->size;
	if (*pos + len < *pos)
		return -EFBIG;
	if ((err = reserve(i, *pos + len)))
		return err;
	if (*pos > i->size)
		memset(i->data + i->size, 0, *pos - i->size);
	memcpy(i->data + *pos, buf, len);
	*pos += len;
	i->size = MAX(i->size, *pos);
	i->mtime_tsc = now_tsc();
	return (long)len;
}

static int inode_stat(struct file *f, struct linux_stat *st)
{
	ramfs_stat(f->priv, st);
	return 0;
}

static unsigned reg_poll(struct file *f)
{
	(void)f;
	return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}

static int reg_truncate(struct file *f, uint64_t len)
{
	return ramfs_truncate(f->priv, len);
}

static int yes(struct file *f)
{
	(void)f;
	return 1;
}

static int fsync_nop(struct file *f)
{
	(void)f;
	return 0; /* memory is all there is: nothing to flush */
}

static void inode_release(struct file *f)
{
	struct inode *i = f->priv;

	i->open_count--;
	inode_maybe_free(i);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
} __attribute__((packed));

static uint8_t dtype(const struct inode *i)
{
	return (uint8_t)((i->mode & S_IFMT) >> 12);
}

static long dir_getdents(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	struct inode *dir = f->priv;
	size_t used = 0;
	uint64_t idx = 0;
	struct dentry *d = dir->children;

	for (;; idx++) {
		const char *name;
		struct inode *i;
		size_t reclen;
		struct linux_dirent64 *e;

		if (idx == 0)
			name = ".", i = dir;
		else if (idx == 1)
			name = "..", i = dir->parent;
		else if (d)
			name = d->name, i = d->inode, d = d->next;
		else
			break;
		if (idx < *pos)
			continue;
		reclen = ALIGN_UP(sizeof(*e) + strlen(name) + 1, 8);
		if (used + reclen > len)
			return used ? (long)used : -EINVAL;
		e = (struct linux_dirent64 *)((char *)buf + used);
		e->d_ino = i->ino;
		e->d_off = (int64_t)idx + 1;
		e->d_reclen = (uint16_t)reclen;
		e->d_type = dtype(i);
		memset(e->d_name, 0, reclen - sizeof(*e));
		memcpy(e->d_name, name, strlen(name));
		used += reclen;
		*pos = idx + 1;
	}
	return (long)used;
}

static const struct file_ops reg_ops = {
	.read = reg_read,
	.write = reg_write,
	.stat = inode_stat,
	.poll = reg_poll,
	.truncate = reg_truncate,
	.seekable = yes,
	.fsync = fsync_nop,
	.release = inode_release,
};

static const struct file_ops dir_ops = {
	.stat = inode_stat,
	.getdents = dir_getdents,
	.seekable = yes,
	.fsync = fsync_nop,
	.release = inode_release,
};

int ramfs_open(struct inode *i, int flags, struct file **out)
{
	const struct file_ops *ops = &reg_ops;
	uint32_t type = i->mode & S_IFMT;

	if (type == S_IFDIR) {
		if ((flags & O_ACCMODE) != O_RDONLY)
			return -EISDIR;
		ops = &dir_ops;
	} else if (flags & O_DIRECTORY) {
		return -ENOTDIR;
	} else if (type == S_IFCHR || type == S_IFBLK) {
		ops = i->dev_ops;
	}
	if (type == S_IFREG && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
		int err = ramfs_truncate(i, 0);

		if (err)
			return err;
	}
	if (!(*out = file_new(ops, i->dev_priv ? i->dev_priv : i,
			      flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC))))
		return -ENOMEM;
	i->open_count++;
	return 0;
}

struct inode *ramfs_inode_of(struct file *f)
{
	return f->ops == &reg_ops || f->ops == &dir_ops ? f->priv : 0;
}

/* Creates each missing directory of an absolute path's parent; returns the parent. */
static struct inode *make_parents(const char *path, char *last)
{
	struct inode *dir = root;

	while (*path) {
		char name[NAME_MAX + 1];
		size_t n = 0;
		struct inode *next;
		int err;

		while (*path == '/')
			path++;
		while (path[n] && path[n] != '/')
			n++;
		if (!n || n > NAME_MAX)
			return 0;
		memcpy(name, path, n);
		name[n] = 0;
		path += n;
		if (!*path) {
			memcpy(last, name, n + 1);
			return dir;
		}
		next = ramfs_lookup_child(dir, name);
		if (!next)
			next = ramfs_create(dir, name, S_IFDIR | 0755, &err);
		if (!next || (next->mode & S_IFMT) != S_IFDIR)
			return 0;
		dir = next;
	}
	return 0;
}

int ramfs_add_file(const char *path, const void *data, uint64_t size, uint32_t mode)
{
	char last[NAME_MAX + 1];
	struct inode *dir = make_parents(path, last), *i;
	int err = -EINVAL;

	if (!dir || !(i = ramfs_create(dir, last, S_IFREG | (mode & 07777), &err)))
		return err;
	i->data = (uint8_t *)data;
	i->size = size;
	i->borrowed = 1;
	return 0;
}

int ramfs_add_device_priv(const char *name, const struct file_ops *ops, void *priv)
{
	struct inode *dev = ramfs_lookup_child(root, "dev"), *i;
	int err;

	if (!dev || !(i = ramfs_create(dev, name, S_IFBLK | 0660, &err)))
		return -ENOMEM;
	i->dev_ops = ops;
	i->dev_priv = priv;
	return 0;
}

int ramfs_add_device(const char *name, const struct file_ops *ops)
{
	struct inode *dev = ramfs_lookup_child(root, "dev"), *i;
	int err;

	if (!dev || !(i = ramfs_create(dev, name, S_IFCHR | 0666, &err)))
		return -ENOMEM;
	i->dev_ops = ops;
	return 0;
}

void ramfs_init(void)
{
	int err;

	root = inode_new(S_IFDIR | 0755, 0);
	cwd = root;
	ramfs_create(root, "dev", S_IFDIR | 0755, &err);
	ramfs_create(root, "tmp", S_IFDIR | 01777, &err);
	ramfs_create(root, "proc", S_IFDIR | 0555, &err);
}

struct inode *ramfs_cwd(void)
{
	return cwd;
}

void ramfs_set_cwd(struct inode *dir)
{
	cwd = dir;
}

int ramfs_path_of(struct inode *dir, char *buf, uint64_t len)
{
	char tmp[PATH_MAX];
	size_t at = sizeof(tmp) - 1;

	tmp[at] = 0;
	for (struct inode *i = dir; i != root; i = i->parent) {
		struct dentry *d = i->parent->children;

		while (d && d->inode != i)
			d = d->next;
		if (!d)
			return -ENOENT; /* removed directory */
		size_t n = strlen(d->name);
		if (n + 1 > at)
			return -ENAMETOOLONG;
		at -= n;
		memcpy(tmp + at, d->name, n);
		tmp[--at] = '/';
	}
	if (at == sizeof(tmp) - 1)
		tmp[--at] = '/';
	if (sizeof(tmp) - at > len)
		return -ERANGE;
	memcpy(buf, tmp + at, sizeof(tmp) - at);
	return (int)(sizeof(tmp) - at);
}
