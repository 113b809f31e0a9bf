/*
 * cmd_image.c: ukctl build, images, rmi and image inspect.
 *
 * A build context directory travels as a tar made by libarchive: regular
 * files and directories only (symlinks are followed, .git is left out),
 * the names relative to the directory, which is what ukd accepts.
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table.h"
#include "util.h"

/* --- build --- */

struct cmd_build_opts {
	const char *tag, *elf, *dir;
	struct util_buf query;
	int quiet, json;
};

/* What the upload progress line and the build stream need. */
struct cmd_build_progress {
	struct cmd_ctx *x;
	size_t last_pct;
	int drawn;	      /* the progress line is on the screen, unfinished */
	int uploaded;	      /* the whole context is sent */
	int quiet;	      /* -q or --json: no build output shown */
	int shown;	      /* build output was shown */
	struct util_buf line; /* an NDJSON line being received */
	json_t *result;	      /* the stream's last line: {"image": ...} or {"error": ...} */
};

/* Appends &key=escaped(value) (or ?key=... for the first one). */
static int cmd_build_query(struct util_buf *q, const char *key, const char *value)
{
	char *e = client_escape(value);

	if (!e)
		return -ENOMEM;
	util_buf_printf(q, "%s%s=%s", q->len ? "&" : "?", key, e);
	free(e);
	return q->oom ? -ENOMEM : 0;
}

static la_ssize_t cmd_build_tar_write(struct archive *a, void *opaque, const void *buf, size_t len)
{
	(void)a;
	util_buf_add(opaque, buf, len);
	return ((struct util_buf *)opaque)->oom ? -1 : (la_ssize_t)len;
}

/* Copies the file behind disk's current entry into w. */
static int cmd_build_tar_data(struct archive *disk, struct archive *w)
{
	char buf[64 << 10];
	la_ssize_t n;

	while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0)
		if (archive_write_data(w, buf, (size_t)n) != n)
			return -EIO;
	return n < 0 ? -EIO : 0;
}

/* One entry of the walk: add it, skip it, or fail. *files counts regular files. */
static int cmd_build_tar_entry(struct archive *disk, struct archive *w, struct archive_entry *e,
			       const char *dir, size_t *files)
{
	const char *path = archive_entry_pathname(e), *rel;
	size_t n = strlen(dir);
	mode_t type = archive_entry_filetype(e);

	rel = !strncmp(path, dir, n) ? path + n : path;
	while (*rel == '/')
		rel++;
	if (type == AE_IFDIR) {
		/* Version control data is never part of what ukd compiles. */
		if (!strcmp(rel, ".git") ||
		    (strlen(rel) > 5 && !strcmp(rel + strlen(rel) - 5, "/.git")))
			return 0;
		archive_read_disk_descend(disk);
	}
	if (!*rel)
		return 0;
	if (type != AE_IFDIR && type != AE_IFREG) {
		fprintf(stderr, "ukctl: build: leaving out %s (not a regular file)\n", path);
		return 0;
	}
	archive_entry_set_pathname(e, rel);
	if (archive_write_header(w, e) != ARCHIVE_OK) {
		cmd_fail("build: %s: %s", path, archive_error_string(w));
		return -EIO;
	}
	if (type == AE_IFREG) {
		++*files;
		if (cmd_build_tar_data(disk, w) < 0) {
			cmd_fail("build: reading %s: %s", path, archive_error_string(disk));
			return -EIO;
		}
	}
	return 0;
}

/* The build context dir as a tar in out; errors printed. */
static int cmd_build_tar(const char *dir, struct util_buf *out, size_t *files)
{
	struct archive *disk = archive_read_disk_new(), *w = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int r, ret = -ENOMEM;

	if (!disk || !w || !e)
		goto free_all;
	archive_read_disk_set_symlink_logical(disk);
	archive_read_disk_set_standard_lookup(disk);
	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_in_last_block(w, 1);
	ret = -EIO;
	if (archive_write_open(w, out, NULL, cmd_build_tar_write, NULL) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
		cmd_fail("build: %s: %s", dir, archive_error_string(disk));
		goto free_all;
	}
	while ((r = archive_read_next_header2(disk, e)) == ARCHIVE_OK)
		if (cmd_build_tar_entry(disk, w, e, dir, files) < 0)
			goto free_all;
	if (r != ARCHIVE_EOF) {
		cmd_fail("build: %s: %s", dir, archive_error_string(disk));
		goto free_all;
	}
	if (archive_write_close(w) != ARCHIVE_OK || out->oom) {
		cmd_fail("build: cannot make the tar: %s", archive_error_string(w));
		goto free_all;
	}
	ret = 0;
free_all:
	if (ret == -ENOMEM)
		cmd_fail("out of memory");
	archive_entry_free(e);
	archive_write_free(w);
	archive_read_free(disk);
	return ret;
}

static int cmd_build_read_file(const char *path, struct util_buf *out)
{
	char buf[64 << 10];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return cmd_fail("build: %s: %s", path, strerror(errno)), -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		util_buf_add(out, buf, n);
	if (ferror(f) || out->oom) {
		fclose(f);
		return cmd_fail("build: cannot read %s", path), -EIO;
	}
	fclose(f);
	return 0;
}

static void cmd_build_on_progress(size_t sent, size_t total, void *opaque)
{
	struct cmd_build_progress *p = opaque;
	char a[32], b[32];
	size_t pct = total ? sent * 100 / total : 0;

	if (p->quiet || p->uploaded || (p->drawn && pct == p->last_pct))
		return;
	/* Redraw on a terminal; a log gets one line at the end. */
	if (!p->x->stderr_tty && sent < total)
		return;
	table_size((int64_t)sent, a, sizeof(a));
	table_size((int64_t)total, b, sizeof(b));
	fprintf(stderr, "%sUploading %s / %s (%zu%%)", p->x->stderr_tty ? "\r" : "", a, b, pct);
	if (sent == total) {
		fputs(", building...\n", stderr);
		p->uploaded = 1;
		p->drawn = 0;
		return;
	}
	p->drawn = 1;
	p->last_pct = pct;
}

/* One line of ukd's build stream: output to show, or the result. */
static void cmd_build_line(struct cmd_build_progress *p, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL), *text;

	if (!o)
		return;
	text = json_object_get(o, "stream");
	if (json_is_string(text) && !p->quiet) {
		if (p->drawn)
			fputc('\n', stderr);
		p->drawn = 0;
		fwrite(json_string_value(text), 1, json_string_length(text), stderr);
		p->shown = 1;
	} else if (json_object_get(o, "image") || json_object_get(o, "error")) {
		json_decref(p->result);
		p->result = json_incref(o);
	}
	json_decref(o);
}

/* ukd's NDJSON build stream, in whatever pieces it arrives. */
static int cmd_build_on_data(const char *data, size_t len, void *opaque)
{
	struct cmd_build_progress *p = opaque;
	char *nl;

	util_buf_add(&p->line, data, len);
	if (p->line.oom)
		return -1;
	while (p->line.len && (nl = memchr(p->line.s, '\n', p->line.len))) {
		size_t n = (size_t)(nl - p->line.s) + 1;

		cmd_build_line(p, p->line.s, n - 1);
		memmove(p->line.s, p->line.s + n, p->line.len - n);
		p->line.len -= n;
	}
	fflush(stderr);
	return 0;
}

/*
 * The build's outcome from the stream's last line: 0 with *img (a new
 * reference) and *status, or an exit status after printing ukd's reason.
 */
static int cmd_build_result(struct cmd_build_progress *p, json_t **img, long *status)
{
	json_t *err = json_object_get(p->result, "error");
	const char *msg = json_string_value(json_object_get(err, "message")), *nl;

	if (p->line.len) /* a last line without its newline */
		cmd_build_line(p, p->line.s, p->line.len);
	if (err) {
		msg = msg ? msg : "the build failed";
		/* The compiler's words were shown as they came: the reason's first line suffices.
		 */
		nl = p->shown ? strchr(msg, '\n') : NULL;
		return cmd_fail("build: %.*s", nl ? (int)(nl - msg) : (int)strlen(msg), msg);
	}
	if (!json_is_object(json_object_get(p->result, "image")))
		return cmd_fail("build: ukd's build stream ended without a result");
	*img = json_incref(json_object_get(p->result, "image"));
	*status = (long)json_integer_value(json_object_get(p->result, "status"));
	return CMD_OK;
}

static int cmd_build_send(struct cmd_ctx *x, struct cmd_build_opts *o, const char *ctype,
			  struct util_buf *body, size_t files)
{
	struct cmd_build_progress prog = {.x = x, .quiet = o->quiet || o->json};
	struct client_req rq = {
		.method = "POST", .ctype = ctype, .body = body->s, .len = body->len};
	struct client_resp resp;
	char size[32], path[8192];
	int64_t t0 = cmd_now_ms();
	json_t *img = NULL;
	long status = 0;
	int ret;

	if (o->query.len >= sizeof(path) - 16)
		return cmd_fail("build: too many or too long options");
	/* ?stream=1: the compiler's output as it comes, then the result. */
	snprintf(path, sizeof(path), "/v1/images%s%sstream=1", o->query.s ? o->query.s : "",
		 o->query.len ? "&" : "?");
	rq.path = path;
	rq.on_progress = cmd_build_on_progress;
	rq.on_data = cmd_build_on_data;
	rq.opaque = &prog;
	table_size((int64_t)body->len, size, sizeof(size));
	if (!o->quiet && !o->json && o->elf)
		fprintf(stderr, "Sending %s (%s) to ukd\n", o->elf, size);
	else if (!o->quiet && !o->json)
		fprintf(stderr, "Sending build context %s (%zu file%s, %s) to ukd\n", o->dir, files,
			files == 1 ? "" : "s", size);
	ret = cmd_call(x, &rq, &resp, "build");
	if (prog.drawn)
		fputc('\n', stderr);
	if (ret == CMD_OK) {
		client_resp_clear(&resp);
		ret = cmd_build_result(&prog, &img, &status);
	}
	util_buf_free(&prog.line);
	json_decref(prog.result);
	if (ret)
		return ret;
	if (o->json) {
		cmd_print_json(img);
	} else if (o->quiet) {
		puts(json_string_value(json_object_get(img, "id")));
	} else {
		table_size(json_integer_value(json_object_get(img, "size")), size, sizeof(size));
		printf("Built %s:%s %s (%s) in %.1fs%s\n",
		       json_string_value(json_object_get(img, "name")),
		       json_string_value(json_object_get(img, "tag")),
		       json_string_value(json_object_get(img, "id")), size,
		       (double)(cmd_now_ms() - t0) / 1000.0,
		       status == 200 ? " (unchanged: ukd had it already)" : "");
	}
	json_decref(img);
	return CMD_OK;
}

static int cmd_build_opt(struct cmd_ctx *x, struct cmd_build_opts *o, int c)
{
	unsigned mib;
	char num[16];

	switch (c) {
	case 't':
		o->tag = optarg;
		return cmd_build_query(&o->query, "name", optarg) < 0 ? cmd_fail("out of memory")
								      : 0;
	case 'E': o->elf = optarg; return 0;
	case 'q': o->quiet = 1; return 0;
	case 'j': o->json = 1; return 0;
	case 'm':
		if (cmd_parse_mib(optarg, &mib) < 0)
			return cmd_usage_err(
				x, "-m: expected a size in MiB like 64 or 1G, not \"%s\"", optarg);
		snprintf(num, sizeof(num), "%u", mib);
		return cmd_build_query(&o->query, "mem", num) < 0 ? cmd_fail("out of memory") : 0;
	case 'e':
		if (!strchr(optarg, '=') || optarg[0] == '=')
			return cmd_usage_err(x, "-e: expected KEY=VALUE, not \"%s\"", optarg);
		return cmd_build_query(&o->query, "env", optarg) < 0 ? cmd_fail("out of memory")
								     : 0;
	default: return CMD_USAGE;
	}
}

static int cmd_build_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"tag", required_argument, NULL, 't'},
		{"elf", required_argument, NULL, 'E'},
		{"memory", required_argument, NULL, 'm'},
		{"env", required_argument, NULL, 'e'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	struct cmd_build_opts o = {0};
	struct util_buf body = {0};
	struct stat st;
	size_t files = 0;
	int c, ret = CMD_OK, dashdash;

	while ((c = cmd_getopt(x, argc, argv, ":t:m:e:qh", lo)) != -1) {
		if (c == 'h' || c == '?') {
			ret = c == 'h' ? CMD_OK : CMD_USAGE;
			goto free_all;
		}
		if ((ret = cmd_build_opt(x, &o, c)))
			goto free_all;
	}
	dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
	if (!o.elf) {
		if (optind >= argc) {
			ret = cmd_usage_err(x, "no build context directory given");
			goto free_all;
		}
		o.dir = argv[optind++];
		dashdash = optind < argc && !strcmp(argv[optind], "--") ? (optind++, 1) : dashdash;
	}
	if (optind < argc && !dashdash) {
		ret = cmd_usage_err(x, "unexpected argument \"%s\" (program arguments go after --)",
				    argv[optind]);
		goto free_all;
	}
	if (o.elf && !o.tag) {
		ret = cmd_usage_err(x, "--elf needs a name: -t NAME[:TAG]");
		goto free_all;
	}
	for (; optind < argc; optind++)
		if (cmd_build_query(&o.query, "arg", argv[optind]) < 0) {
			ret = cmd_fail("out of memory");
			goto free_all;
		}
	if (o.dir && (stat(o.dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		ret = cmd_fail("build: %s is not a directory (for a prebuilt program use --elf)",
			       o.dir);
		goto free_all;
	}
	if ((o.elf ? cmd_build_read_file(o.elf, &body) : cmd_build_tar(o.dir, &body, &files)) < 0) {
		ret = CMD_FAIL;
		goto free_all;
	}
	ret = cmd_build_send(x, &o, o.elf ? "application/octet-stream" : "application/x-tar", &body,
			     files);
free_all:
	util_buf_free(&body);
	util_buf_free(&o.query);
	return ret;
}

const struct cmd cmd_build = {
	"build",
	NULL,
	"build an image from a directory or a static program",
	"Usage: ukctl build [-t NAME[:TAG]] [OPTIONS] DIR [-- ARGS...]\n"
	"       ukctl build -t NAME[:TAG] --elf FILE [OPTIONS] [-- ARGS...]\n"
	"\n"
	"Build an image and store it in ukd. DIR is a build context: uk.json and the\n"
	"C sources it names, sent as a tar and compiled by ukd with musl (static PIE).\n"
	"With --elf, FILE is a prebuilt static x86-64 Linux program. ARGS become the\n"
	"image's default arguments. Shows the upload's progress and the compiler's\n"
	"output as it comes on stderr, then the result (the image id with -q). A\n"
	"failed build exits 1 with the compiler's message; nothing is stored.\n"
	"\n"
	"Options:\n"
	"  -t, --tag NAME[:TAG]  name the image (tag default latest; overrides uk.json)\n"
	"      --elf FILE        upload a prebuilt static program instead of DIR\n"
	"  -m, --memory MIB      memory the image asks for (64, 64M, 1G)\n"
	"  -e, --env KEY=VALUE   environment variable (repeatable)\n"
	"  -q, --quiet           print only the image id\n"
	"      --json            print the stored image as JSON\n"
	"  -h, --help            show this help\n"
	"\n"
	"Examples:\n"
	"  ukctl build -t hello:v1 images/hello\n"
	"  ukctl build -t tool --elf ./tool -- --verbose\n",
	cmd_build_run,
};

/* --- images --- */

static int cmd_images_run(struct cmd_ctx *x, int argc, char **argv)
{
	int quiet = 0, json = 0, ret = cmd_opts_json(x, argc, argv, &json, &quiet, 0);
	json_t *list;

	if (ret >= 0)
		return ret;
	if ((ret = cmd_get_json(x, "/v1/images", &list)))
		return ret;
	if (json)
		cmd_print_json(list);
	else if (quiet)
		cmd_print_ids(list, "id");
	else
		ret = cmd_print(table_images(list, cmd_now_ms(), x->color ? TABLE_COLOR : 0));
	json_decref(list);
	return ret;
}

const struct cmd cmd_images = {
	"images",
	NULL,
	"list images",
	"Usage: ukctl images [-q] [--json]\n"
	"\n"
	"List the images ukd stores, oldest first.\n"
	"\n"
	"Options:\n"
	"  -q, --quiet  print only image ids\n"
	"      --json   print the API's JSON\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl images\n",
	cmd_images_run,
};

/* --- rmi --- */

static int cmd_rmi_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"force", no_argument, NULL, 'f'},
		CMD_HELP_OPT,
		{0},
	};
	int c, force = 0;

	while ((c = cmd_getopt(x, argc, argv, ":fh", lo)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		force |= c == 'f';
	}
	if (optind >= argc)
		return cmd_usage_err(x, "no image given");
	return cmd_delete_each(x, argc, argv, "images", force ? "?force=1" : NULL);
}

const struct cmd cmd_rmi = {
	"rmi",
	NULL,
	"delete images",
	"Usage: ukctl rmi [-f] IMAGE...\n"
	"\n"
	"Delete images (NAME[:TAG], sha256:ID or an id prefix of 12+ digits).\n"
	"An image that instances use is kept unless -f is given.\n"
	"\n"
	"Options:\n"
	"  -f, --force  delete even if instances use it\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl rmi hello:v1\n",
	cmd_rmi_run,
};

/* --- image inspect / ls / rm --- */

static int cmd_image_inspect(struct cmd_ctx *x, int argc, char **argv)
{
	int json = 0, ret = cmd_opts_json(x, argc, argv, &json, NULL, INT_MAX);
	json_t *img;
	char *path;

	if (ret >= 0)
		return ret;
	if (optind + 1 != argc)
		return cmd_usage_err(x, optind >= argc ? "no image given" : "one image at a time");
	if (!(path = cmd_path("images", argv[optind], NULL)))
		return cmd_fail("out of memory");
	ret = cmd_get_json(x, path, &img);
	free(path);
	if (ret)
		return ret;
	if (json)
		cmd_print_json(img);
	else
		ret = cmd_print(table_kv(img, cmd_now_ms(), x->color ? TABLE_COLOR : 0));
	json_decref(img);
	return ret;
}

static int cmd_image_run(struct cmd_ctx *x, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(x->cmd->usage, stdout);
		return CMD_OK;
	}
	if (!strcmp(sub, "inspect"))
		return cmd_image_inspect(x, argc - 1, argv + 1);
	if (!strcmp(sub, "ls"))
		return cmd_images.run(x, argc - 1, argv + 1);
	if (!strcmp(sub, "rm"))
		return cmd_rmi.run(x, argc - 1, argv + 1);
	return cmd_usage_err(x, sub[0] ? "unknown subcommand %s" : "no subcommand given%s", sub);
}

const struct cmd cmd_image = {
	"image",
	NULL,
	"image inspect | ls | rm",
	"Usage: ukctl image inspect [--json] IMAGE\n"
	"       ukctl image ls [-q] [--json]     (same as ukctl images)\n"
	"       ukctl image rm [-f] IMAGE...     (same as ukctl rmi)\n"
	"\n"
	"Show one image: its id, name and tag, size, memory and when it was built.\n"
	"\n"
	"Options:\n"
	"      --json   print the API's JSON\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl image inspect hello:v1\n",
	cmd_image_run,
};
