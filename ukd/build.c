/* build.c: see build.h. */
#define _GNU_SOURCE
#include "build.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#ifndef UKD_MUSL_LIB
#define UKD_MUSL_LIB "/usr/lib/x86_64-linux-musl"
#endif
#ifndef UKD_CRTBEGINS
#define UKD_CRTBEGINS "crtbeginS.o"
#endif
#ifndef UKD_CRTENDS
#define UKD_CRTENDS "crtendS.o"
#endif
#define BUILD_CC "/usr/bin/musl-gcc"
#define BUILD_MANIFEST_MAX (64u << 10)

__attribute__((format(printf, 3, 4))) static int build_err(char *err, size_t errlen,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int build_path_ok(const char *p, int dir_ok)
{
	size_t len = strlen(p);
	const char *s, *e;

	if (len == 0 || len > BUILD_PATH_MAX || p[0] == '/')
		return 0;
	if (dir_ok && p[len - 1] == '/' && len > 1)
		len--;
	for (s = p;; s = e + 1) {
		e = memchr(s, '/', (size_t)(p + len - s));
		if (!e)
			e = p + len;
		if (e == s || (e - s == 1 && s[0] == '.') ||
		    (e - s == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (e == p + len)
			return 1;
	}
}

/* Creates the parent directories of rel under dfd (never through a link: none can exist). */
static int build_mkparents(int dfd, const char *rel)
{
	char tmp[BUILD_PATH_MAX + 1];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", rel);
	for (p = strchr(tmp, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		if (mkdirat(dfd, tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int build_write_entry(struct archive *a, int dfd, const char *path, int64_t *total,
			     char *err, size_t errlen)
{
	char buf[16384];
	la_ssize_t n;
	int fd;

	if (build_mkparents(dfd, path) < 0)
		return build_err(err, errlen, "%s: cannot create its directory: %s", path,
				 strerror(errno));
	fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return build_err(err, errlen, "%s: %s", path,
				 errno == EEXIST ? "appears twice in the archive"
						 : strerror(errno));
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		*total += n;
		if (*total > (int64_t)BUILD_UNPACKED_MAX) {
			close(fd);
			return build_err(err, errlen, "build context unpacks to more than %u MiB",
					 BUILD_UNPACKED_MAX >> 20);
		}
		if (write(fd, buf, (size_t)n) != n) {
			close(fd);
			return build_err(err, errlen, "%s: write failed", path);
		}
	}
	close(fd);
	if (n < 0)
		return build_err(err, errlen, "%s: %s", path, archive_error_string(a));
	return 0;
}

static int build_entry(struct archive *a, struct archive_entry *e, int dfd, int64_t *total,
		       char *err, size_t errlen)
{
	const char *path = archive_entry_pathname(e);
	char clean[BUILD_PATH_MAX + 2];
	mode_t type = archive_entry_filetype(e);
	size_t len;

	if (!path)
		return build_err(err, errlen, "an archive entry has no name");
	while (!strncmp(path, "./", 2))
		path += 2;
	if (!*path && type == AE_IFDIR)
		return 0; /* "./" itself */
	if (!build_path_ok(path, type == AE_IFDIR))
		return build_err(err, errlen,
				 "%.300s: not a relative path inside the build context (absolute, "
				 "\"..\", empty component or too long)",
				 path);
	if (archive_entry_hardlink(e) || archive_entry_symlink(e) ||
	    (type != AE_IFREG && type != AE_IFDIR))
		return build_err(err, errlen, "%s: only regular files and directories are allowed",
				 path);
	snprintf(clean, sizeof(clean), "%s", path);
	len = strlen(clean);
	if (type == AE_IFDIR) {
		if (clean[len - 1] == '/')
			clean[len - 1] = 0;
		strcat(clean, "/");
		if (build_mkparents(dfd, clean) < 0)
			return build_err(err, errlen, "%s: cannot create: %s", path,
					 strerror(errno));
		return 0;
	}
	if (archive_entry_size(e) > (int64_t)BUILD_UNPACKED_MAX)
		return build_err(err, errlen, "%s: larger than %u MiB", path,
				 BUILD_UNPACKED_MAX >> 20);
	return build_write_entry(a, dfd, clean, total, err, errlen);
}

int build_unpack(const void *tar, size_t len, const char *dir, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int64_t total = 0;
	int r, ret = -1, count = 0, dfd;

	if (!a)
		return build_err(err, errlen, "out of memory");
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		build_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto free_archive;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	if (archive_read_open_memory(a, tar, len) != ARCHIVE_OK) {
		build_err(err, errlen, "not a tar archive: %s", archive_error_string(a));
		goto close_dir;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (++count > BUILD_ENTRIES_MAX) {
			build_err(err, errlen, "more than %d entries in the build context",
				  BUILD_ENTRIES_MAX);
			goto close_dir;
		}
		if (build_entry(a, e, dfd, &total, err, errlen) < 0)
			goto close_dir;
	}
	if (r != ARCHIVE_EOF) {
		build_err(err, errlen, "malformed tar archive: %s", archive_error_string(a));
		goto close_dir;
	}
	ret = 0;
close_dir:
	close(dfd);
free_archive:
	archive_read_free(a);
	return ret;
}

/* --- manifest --- */

void build_manifest_free(struct build_manifest *m)
{
	for (size_t i = 0; i < m->nsources; i++)
		free(m->sources[i]);
	for (size_t i = 0; i < m->nenv; i++)
		free(m->env[i]);
	for (size_t i = 0; i < m->nargs; i++)
		free(m->args[i]);
	for (size_t i = 0; i < m->nfiles; i++) {
		free((char *)m->files[i].host_path);
		free((char *)m->files[i].guest_path);
	}
	free(m->files);
	free(m->sources);
	free(m->env);
	free(m->args);
	free(m->name);
	*m = (struct build_manifest){0};
}

/* A JSON string without NUL bytes, copied; NULL if it is not one. */
static char *build_str(json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return strdup(json_string_value(v));
}

static int build_manifest_lists(json_t *root, struct build_manifest *m, char *err, size_t errlen)
{
	json_t *src = json_object_get(root, "sources"), *env = json_object_get(root, "env");
	json_t *args = json_object_get(root, "args"), *v;
	const char *k;
	size_t i;

	if (!json_is_array(src) || json_array_size(src) == 0 ||
	    json_array_size(src) > BUILD_SOURCES_MAX)
		return build_err(err, errlen,
				 "uk.json: \"sources\" must be a list of 1 to %d files",
				 BUILD_SOURCES_MAX);
	if ((env && !json_is_object(env)) || (args && !json_is_array(args)))
		return build_err(err, errlen,
				 "uk.json: \"env\" must be an object and \"args\" a "
				 "list");
	m->sources = calloc(json_array_size(src), sizeof(char *));
	m->env = calloc(json_object_size(env) + 1, sizeof(char *));
	m->args = calloc(json_array_size(args) + 1, sizeof(char *));
	if (!m->sources || !m->env || !m->args)
		return build_err(err, errlen, "out of memory");
	json_array_foreach(src, i, v)
	{
		if (!(m->sources[m->nsources] = build_str(v)))
			return build_err(err, errlen, "uk.json: sources[%zu] is not a string", i);
		if (!build_path_ok(m->sources[m->nsources++], 0) ||
		    strlen(m->sources[m->nsources - 1]) < 3 ||
		    strcmp(m->sources[m->nsources - 1] + strlen(m->sources[m->nsources - 1]) - 2,
			   ".c"))
			return build_err(err, errlen,
					 "uk.json: source \"%.300s\" must be a relative path to a "
					 ".c file inside the context",
					 m->sources[m->nsources - 1]);
	}
	json_object_foreach(env, k, v)
	{
		char *val = build_str(v);

		if (!val || !*k || strchr(k, '='))
			return free(val), build_err(err, errlen,
						    "uk.json: env \"%.100s\" must map a "
						    "name to a string",
						    k);
		if (asprintf(&m->env[m->nenv], "%s=%s", k, val) < 0)
			m->env[m->nenv] = NULL;
		free(val);
		if (!m->env[m->nenv++])
			return build_err(err, errlen, "out of memory");
	}
	json_array_foreach(args, i, v)
	{
		if (!(m->args[m->nargs++] = build_str(v)))
			return build_err(err, errlen, "uk.json: args[%zu] is not a string", i);
	}
	return 0;
}

/* "files": context paths (regular files, checked) to guest paths (checked by the packer). */
static int build_manifest_files(json_t *root, const char *dir, struct build_manifest *m, char *err,
				size_t errlen)
{
	json_t *files = json_object_get(root, "files"), *v;
	const char *k;
	struct stat st;

	if (!files)
		return 0;
	if (!json_is_object(files) || json_object_size(files) > BUILD_FILES_MAX)
		return build_err(err, errlen,
				 "uk.json: \"files\" must map up to %d context paths "
				 "to guest paths",
				 BUILD_FILES_MAX);
	if (!(m->files = calloc(json_object_size(files), sizeof(*m->files))))
		return build_err(err, errlen, "out of memory");
	json_object_foreach(files, k, v)
	{
		struct pack_file *f = &m->files[m->nfiles];
		char *host = NULL;

		if (!build_path_ok(k, 0) || !json_is_string(v))
			return build_err(err, errlen,
					 "uk.json: file \"%.200s\" must be a relative "
					 "path inside the context, mapped to a string",
					 k);
		if (asprintf(&host, "%s/%s", dir, k) < 0)
			return build_err(err, errlen, "out of memory");
		f->host_path = host;
		m->nfiles++;
		if (!(f->guest_path = build_str(v)))
			return build_err(err, errlen, "uk.json: file \"%.200s\": bad guest path",
					 k);
		if (lstat(host, &st) < 0 || !S_ISREG(st.st_mode))
			return build_err(err, errlen,
					 "uk.json: file %.200s is not in the build context", k);
	}
	return 0;
}

int build_manifest_read(const char *dir, struct build_manifest *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *root, *name, *mem, *port;
	struct stat st;
	int ret = -1;

	*m = (struct build_manifest){0};
	snprintf(path, sizeof(path), "%s/uk.json", dir);
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return build_err(err, errlen, "the build context has no uk.json file");
	if (st.st_size > (off_t)BUILD_MANIFEST_MAX)
		return build_err(err, errlen, "uk.json is larger than %u KiB",
				 BUILD_MANIFEST_MAX >> 10);
	if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &je)))
		return build_err(err, errlen, "uk.json: line %d: %s", je.line, je.text);
	if (!json_is_object(root)) {
		build_err(err, errlen, "uk.json must hold a JSON object");
		goto free_root;
	}
	name = json_object_get(root, "name");
	if (name && !(m->name = build_str(name))) {
		build_err(err, errlen, "uk.json: \"name\" must be a string");
		goto free_root;
	}
	mem = json_object_get(root, "mem");
	if (mem && (!json_is_integer(mem) || json_integer_value(mem) < 1 ||
		    json_integer_value(mem) > (1 << 20))) {
		build_err(err, errlen, "uk.json: \"mem\" must be MiB from 1 to %d", 1 << 20);
		goto free_root;
	}
	m->mem_mib = mem ? (unsigned)json_integer_value(mem) : 0;
	port = json_object_get(root, "port");
	if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
		     json_integer_value(port) > 65535)) {
		build_err(err, errlen, "uk.json: \"port\" must be from 1 to 65535");
		goto free_root;
	}
	m->port = port ? (unsigned)json_integer_value(port) : 0;
	if (build_manifest_lists(root, m, err, errlen) < 0 ||
	    build_manifest_files(root, dir, m, err, errlen) < 0)
		goto free_root;
	for (size_t i = 0; i < m->nsources; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, m->sources[i]);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			build_err(err, errlen, "uk.json: source %s is not in the build context",
				  m->sources[i]);
			goto free_root;
		}
	}
	ret = 0;
free_root:
	json_decref(root);
	if (ret)
		build_manifest_free(m);
	return ret;
}

/* --- compiling --- */

void build_say(const struct build_output *log, const char *data, size_t len)
{
	if (log && log->fn && len)
		log->fn(data, len, log->opaque);
}

/*
 * Appends what fd yields to *out (bounded) and to log (as it comes), until
 * EOF or the deadline. Returns 0 or -ETIME.
 */
static int build_collect(int fd, time_t deadline, const struct build_output *log, char **out,
			 size_t *len)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		time_t left = deadline - time(NULL);
		ssize_t n;

		if (left <= 0)
			return -ETIME;
		if (poll(&p, 1, (int)left * 1000) == 0)
			return -ETIME;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 0;
		build_say(log, buf, (size_t)n);
		if (*len + (size_t)n <= BUILD_OUTPUT_MAX) {
			char *nb = realloc(*out, *len + (size_t)n + 1);

			if (nb) {
				memcpy(nb + *len, buf, (size_t)n);
				*len += (size_t)n;
				nb[*len] = 0;
				*out = nb;
			}
		}
	}
}

/*
 * Runs argv in cwd with a clean environment, its output to *out. The child
 * leads its own process group, so a timeout ends the compiler's children too.
 * Returns the exit status, or -errno.
 */
static int build_run(char *const argv[], const char *cwd, const struct build_output *log,
		     char **out, size_t *outlen)
{
	static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def;
	int pipefd[2], status, ret;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addchdir_np(&fa, cwd);
	posix_spawnattr_init(&attr);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
	ret = -posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (ret < 0) {
		close(pipefd[0]);
		return ret;
	}
	ret = build_collect(pipefd[0], time(NULL) + BUILD_TIMEOUT_S, log, out, outlen);
	close(pipefd[0]);
	if (ret == -ETIME)
		kill(-pid, SIGKILL); /* the group this call created */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (ret < 0)
		return ret;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int build_step(char *const argv[], const char *cwd, const struct build_output *log,
		      char **output, char *err, size_t errlen, const char *what)
{
	size_t len = 0;
	char line[BUILD_PATH_MAX + 64];
	int rc;

	snprintf(line, sizeof(line), "%s\n", what);
	build_say(log, line, strlen(line));
	rc = build_run(argv, cwd, log, output, &len);

	if (rc == -ETIME)
		return build_err(err, errlen, "%s: took longer than %d s", what, BUILD_TIMEOUT_S);
	if (rc < 0)
		return build_err(err, errlen, "%s: cannot run %s: %s", what, argv[0],
				 strerror(-rc));
	if (rc)
		return build_err(err, errlen, "%s failed (exit status %d)", what, rc);
	free(*output);
	*output = NULL;
	return 0;
}

int build_compile(const char *dir, const struct build_manifest *m, const char *objdir,
		  const char *out_elf, const struct build_output *log, char **output, char *err,
		  size_t errlen)
{
	/* uk_app's flags (CMakeLists.txt) without -Werror: a user's warnings are theirs. */
	static const char *const cflags[] = {
		"-O2",
		"-g",
		"-Wall",
		"-Wextra",
		"-fstack-protector-strong",
		"-fno-omit-frame-pointer",
		"-fPIE",
		"-c",
	};
	enum { NCFLAGS = sizeof(cflags) / sizeof(cflags[0]) };
	char **objs = calloc(m->nsources, sizeof(char *));
	char *argv[NCFLAGS + 8 + BUILD_SOURCES_MAX + 8];
	char what[BUILD_PATH_MAX + 32];
	size_t i, k;
	int ret = -1;

	*output = NULL;
	if (!objs)
		return build_err(err, errlen, "out of memory");
	for (i = 0; i < m->nsources; i++) {
		if (asprintf(&objs[i], "%s/%zu.o", objdir, i) < 0) {
			objs[i] = NULL;
			build_err(err, errlen, "out of memory");
			goto free_objs;
		}
		k = 0;
		argv[k++] = BUILD_CC;
		for (size_t f = 0; f < NCFLAGS; f++)
			argv[k++] = (char *)cflags[f];
		argv[k++] = m->sources[i];
		argv[k++] = "-o";
		argv[k++] = objs[i];
		argv[k] = NULL;
		snprintf(what, sizeof(what), "compiling %s", m->sources[i]);
		if (build_step(argv, dir, log, output, err, errlen, what) < 0)
			goto free_objs;
	}
	/* The explicit static-PIE link line of uk_app (HOST-NOTES.md, "musl"). */
	k = 0;
	argv[k++] = BUILD_CC;
	argv[k++] = "-static-pie";
	argv[k++] = "-nostartfiles";
	argv[k++] = "-Wl,--no-dynamic-linker";
	argv[k++] = UKD_MUSL_LIB "/rcrt1.o";
	argv[k++] = UKD_MUSL_LIB "/crti.o";
	argv[k++] = UKD_CRTBEGINS;
	for (i = 0; i < m->nsources; i++)
		argv[k++] = objs[i];
	argv[k++] = UKD_CRTENDS;
	argv[k++] = UKD_MUSL_LIB "/crtn.o";
	argv[k++] = "-Wl,-Bstatic";
	argv[k++] = "-lc";
	argv[k++] = "-o";
	argv[k++] = (char *)out_elf;
	argv[k] = NULL;
	ret = build_step(argv, dir, log, output, err, errlen, "linking");
free_objs:
	for (i = 0; i < m->nsources; i++)
		free(objs[i]);
	free(objs);
	return ret;
}

/* One pass over /proc: SIGKILLs every process whose working directory is under dir. */
static int build_kill_in(const char *dir)
{
	char link[64], cwd[PATH_MAX];
	size_t n = strlen(dir);
	struct dirent *e;
	int found = 0;
	ssize_t len;
	DIR *d;

	if (!(d = opendir("/proc")))
		return 0;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
		if ((len = readlink(link, cwd, sizeof(cwd) - 1)) <= 0)
			continue;
		cwd[len] = 0;
		if (strncmp(cwd, dir, n) || (cwd[n] != '/' && cwd[n] != 0))
			continue;
		if (kill(pid, SIGKILL) == 0)
			found++;
	}
	closedir(d);
	return found;
}

int build_end_orphans(const char *dir)
{
	int n, total = 0;

	/* A compiler driver may start its next step meanwhile: again until none is found. */
	for (int i = 0; i < 100 && (n = build_kill_in(dir)) > 0; i++) {
		total += n;
		usleep(10000);
	}
	return total;
}
