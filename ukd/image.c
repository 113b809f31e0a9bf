/* image.c: see image.h. */
#define _GNU_SOURCE
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "build.h"
#include "log.h"
#include "pack.h"
#include "util.h"

struct image_ctx {
	const struct image_in *in;
	struct image_out *out;
	char dir[PATH_MAX]; /* private work directory */
	struct build_manifest m;
	const char *name;
	char app[PATH_MAX];
	char img[PATH_MAX];
};

__attribute__((format(printf, 4, 5))) static int image_fail(struct image_out *out, int status,
							    const char *code, const char *fmt, ...)
{
	va_list ap;

	out->status = status;
	snprintf(out->code, sizeof(out->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A failure of the state directory's filesystem: 507 if it is full, else 500. */
static int image_fail_storage(struct image_out *out, int err, const char *what)
{
	if (err == ENOSPC || err == EDQUOT)
		return image_fail(out, 507, "insufficient_storage",
				  "%s: the state directory's filesystem is full (%s)", what,
				  strerror(err));
	return image_fail(out, 500, "internal", "%s: %s", what, strerror(err));
}

static int image_name_chars(const char *s, const char *first, const char *rest)
{
	size_t len = strlen(s);

	if (len == 0 || len >= STORE_NAME_MAX || !strchr(first, s[0]))
		return 0;
	return strspn(s, rest) == len;
}

#define IMAGE_LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define IMAGE_ALNUM IMAGE_LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

int image_name_ok(const char *name)
{
	return image_name_chars(name, IMAGE_LOWER_DIGITS, IMAGE_LOWER_DIGITS "._-");
}

int image_tag_ok(const char *tag)
{
	return image_name_chars(tag, IMAGE_ALNUM "_", IMAGE_ALNUM "_.-");
}

void image_path(const char *root, const char *id, char *buf, size_t len)
{
	util_pathf(buf, len, "%s/images/sha256/%s.img", root, id);
}

int image_remove(const char *root, const char *id)
{
	char path[PATH_MAX];

	image_path(root, id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void image_sweep(const char *root, struct store *st)
{
	char dir[PATH_MAX], path[PATH_MAX], hex[STORE_IMAGE_ID_LEN + 1],
		ref[8 + STORE_IMAGE_ID_LEN];
	struct store_image img;
	struct dirent *e;
	DIR *d;

	util_pathf(dir, sizeof(dir), "%s/images/sha256", root);
	if (!(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (len == STORE_IMAGE_ID_LEN + 4 &&
		    !strcmp(e->d_name + STORE_IMAGE_ID_LEN, ".img")) {
			memcpy(hex, e->d_name, STORE_IMAGE_ID_LEN);
			hex[STORE_IMAGE_ID_LEN] = 0;
			snprintf(ref, sizeof(ref), "sha256:%s", hex);
			/* Kept unless the store says for sure that no row holds it. */
			if (util_is_hex(hex, STORE_IMAGE_ID_LEN) &&
			    store_image_find(st, ref, &img) != -ENOENT)
				continue;
		}
		util_pathf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) < 0)
			log_warn("image file %s belongs to no image; cannot remove it: %s", path,
				 strerror(errno));
		else
			log_info("image file %s belongs to no image (an upload or delete cut "
				 "short); removed",
				 path);
	}
	closedir(d);
}

static int image_write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

static int image_sha256(const char *path, char hex[STORE_IMAGE_ID_LEN + 1], int64_t *size)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	sha256_init(&ctx);
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		sha256_update(&ctx, (size_t)n, (const uint8_t *)buf);
		*size += n;
	}
	close(fd);
	if (n < 0)
		return -EIO;
	sha256_digest(&ctx, sizeof(digest), digest);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return 0;
}

/* Unpacks and compiles a build context into c->app. */
static int image_build(struct image_ctx *c)
{
	struct image_out *out = c->out;
	char ctxdir[PATH_MAX], objdir[PATH_MAX], err[1024];
	char *output = NULL;

	util_pathf(ctxdir, sizeof(ctxdir), "%s/ctx", c->dir);
	util_pathf(objdir, sizeof(objdir), "%s/obj", c->dir);
	if (mkdir(ctxdir, 0700) < 0 || mkdir(objdir, 0700) < 0)
		return image_fail(out, 500, "internal", "cannot create %s: %s", ctxdir,
				  strerror(errno));
	if (build_unpack(c->in->body, c->in->len, ctxdir, err, sizeof(err)) < 0)
		return image_fail(out, 422, "bad_context", "%s", err);
	if (build_manifest_read(ctxdir, &c->m, err, sizeof(err)) < 0)
		return image_fail(out, 422, "bad_manifest", "%s", err);
	c->name = c->in->name ? c->in->name : c->m.name;
	if (!c->name)
		return image_fail(out, 422, "bad_manifest",
				  "no image name: give ?name= or \"name\" in uk.json");
	if (!image_name_ok(c->name))
		return image_fail(out, 422, "bad_name",
				  "image name \"%.200s\": use lowercase letters, digits, '.', "
				  "'_' and '-', starting with a letter or digit",
				  c->name);
	util_pathf(c->app, sizeof(c->app), "%s/%s", objdir, c->name);
	if (build_compile(ctxdir, &c->m, objdir, c->app, c->in->log, &output, err, sizeof(err)) <
	    0) {
		image_fail(out, 422, "build_failed", "%s%s%.3000s", err, output ? ":\n" : "",
			   output ? output : "");
		free(output);
		return -1;
	}
	return 0;
}

/* Packs c->app with the runtime into c->img. */
static int image_pack(struct image_ctx *c)
{
	const struct image_in *in = c->in;
	const char **env = NULL, **args;
	struct pack_opts o = {0};
	char err[1024];
	size_t nargs;
	int ret, e;

	/* The manifest's env first, the request's after: later entries win in the guest. */
	env = calloc(c->m.nenv + in->nenv + 1, sizeof(char *));
	if (!env)
		return image_fail(c->out, 500, "internal", "out of memory");
	for (size_t i = 0; i < c->m.nenv; i++)
		env[o.nenv++] = c->m.env[i];
	for (size_t i = 0; i < in->nenv; i++)
		env[o.nenv++] = in->env[i];
	args = in->args_set ? in->args : (const char **)c->m.args;
	nargs = in->args_set ? in->nargs : c->m.nargs;
	o.app_path = c->app;
	o.out_path = c->img;
	o.runtime = in->runtime;
	o.runtime_size = in->runtime_size;
	o.name = c->name;
	o.mem_mib = in->mem_mib ? in->mem_mib : c->m.mem_mib;
	o.env = env;
	o.args = args;
	o.nargs = nargs;
	o.files = c->m.files;
	o.nfiles = c->m.nfiles;
	o.port = c->m.port;
	ret = pack_image(&o, err, sizeof(err));
	e = errno;
	free(env);
	if (ret == -2)
		return image_fail_storage(c->out, e, "writing the image");
	if (ret < 0) {
		/* The reason names our private work file: the user knows it as "the application".
		 */
		size_t n = strlen(c->app);
		const char *why = !strncmp(err, c->app, n) && err[n] == ':' ? err + n + 2 : err;

		return image_fail(c->out, 422, "bad_application", "the application: %s", why);
	}
	c->out->img.mem_mib = o.mem_mib ? o.mem_mib : 64;
	return 0;
}

/* Moves the packed image to its content address (or keeps the identical one there). */
static int image_place(struct image_ctx *c)
{
	struct image_out *out = c->out;
	char final[PATH_MAX];
	struct stat st;
	int ret;

	if ((ret = image_sha256(c->img, out->img.id, &out->img.size)) < 0)
		return image_fail(out, 500, "internal", "hashing the image: %s", strerror(-ret));
	image_path(c->in->root, out->img.id, final, sizeof(final));
	if (stat(final, &st) == 0 && S_ISREG(st.st_mode)) {
		out->existed = 1;
		return 0;
	}
	/* pack_image synced the file; the rename and its directory make it durable. */
	if (chmod(c->img, 0644) < 0 || rename(c->img, final) < 0)
		return image_fail_storage(out, errno, "storing the image");
	/* Placed, maybe not durably: if it fails from here, the caller removes it. */
	out->placed = 1;
	if ((ret = util_sync_parent(final)) < 0)
		return image_fail_storage(out, -ret, "storing the image");
	return 0;
}

/*
 * A step that failed while the state directory's filesystem is (nearly)
 * full failed for that reason, whatever error it saw (pack and compile
 * report only text): 507, so the user frees space instead of blaming the
 * upload. Checked before the work directory is removed, while it still
 * holds what filled the disk.
 */
static void image_check_disk(const struct image_in *in, struct image_out *out)
{
	char msg[sizeof(out->msg)];
	struct statvfs v;

	if (statvfs(in->root, &v) < 0 || (uint64_t)v.f_bavail * v.f_frsize >= (1u << 20))
		return;
	if (out->status != 500 && strcmp(out->code, "bad_application") &&
	    strcmp(out->code, "build_failed"))
		return;
	snprintf(msg, sizeof(msg), "%s", out->msg);
	image_fail(out, 507, "insufficient_storage",
		   "the state directory's filesystem is full (%.300s)", msg);
}

int image_ingest(const struct image_in *in, struct image_out *out)
{
	struct image_ctx c = {.in = in, .out = out};
	int ret = -1, r;

	memset(out, 0, sizeof(*out));
	util_pathf(c.dir, sizeof(c.dir), "%s/tmp/build-XXXXXX", in->root);
	if (!mkdtemp(c.dir))
		return image_fail(out, 500, "internal", "cannot create a build directory: %s",
				  strerror(errno));
	util_pathf(c.img, sizeof(c.img), "%s/image.img", c.dir);
	if (in->is_tar) {
		if (image_build(&c) < 0)
			goto remove_dir;
	} else {
		c.name = in->name;
		/* Named after the image: the guest's argv[0] is the file's base name. */
		util_pathf(c.app, sizeof(c.app), "%s/%s", c.dir, c.name);
		if ((r = image_write_file(c.app, in->body, in->len)) < 0) {
			image_fail_storage(out, -r, "writing the upload");
			goto remove_dir;
		}
	}
	build_say(in->log, "packing with the runtime\n", 25);
	if (image_pack(&c) < 0 || image_place(&c) < 0)
		goto remove_dir;
	snprintf(out->img.name, sizeof(out->img.name), "%s", c.name);
	out->img.created = util_now_ms();
	ret = 0;
remove_dir:
	if (ret < 0)
		image_check_disk(in, out);
	build_manifest_free(&c.m);
	if ((r = util_rmtree(c.dir)) < 0)
		log_warn("image: cannot remove %s: %s", c.dir, strerror(-r));
	return ret;
}
