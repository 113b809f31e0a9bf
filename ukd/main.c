/*
 * main.c: the ukd program. A small table of subcommands: `daemon` (also what
 * `ukd` with no command or with only options runs) and `pack`.
 *
 * Exit status: 0 success, 1 the command failed, 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "consolelog.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "pack.h"

#ifndef UKD_VERSION
#define UKD_VERSION "0.1.0"
#endif

#define MAIN_EXIT_FAIL 1
#define MAIN_EXIT_USAGE 2
/* Bounds --mem to something a host could give; the runtime checks the rest. */
#define MAIN_MEM_MAX (1u << 20)

/* The runtime ELF, embedded at build time (.incbin). */
extern const unsigned char ukd_runtime_elf[], ukd_runtime_elf_end[];

struct main_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Everything `ukd pack` collects from its command line. */
struct main_pack_args {
	struct pack_opts o;
	const char *runtime_path;
	struct pack_file *files;
	const char **env;
};

static void main_pack_usage(FILE *f)
{
	fputs("Usage: ukd pack APP.elf -o OUT.img [OPTIONS] [-- ARGS...]\n"
	      "\n"
	      "Build a bootable image from a statically linked x86-64 program\n"
	      "(-static or -static-pie; musl-gcc works well).\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE      image to write (required)\n"
	      "      --name NAME        image name (default: APP's file name)\n"
	      "      --mem MIB          memory the image wants, in MiB (default: 64)\n"
	      "      --port PORT        the program is ready once it listens on PORT\n"
	      "      --env KEY=VALUE    environment variable for the program (repeatable)\n"
	      "      --file HOST:GUEST  put the host file HOST into the guest's ramfs as\n"
	      "                         GUEST, an absolute path (repeatable; split at the\n"
	      "                         last ':')\n"
	      "      --runtime FILE     runtime ELF to use instead of the built-in one\n"
	      "  -h, --help             show this help\n"
	      "  -- ARGS...             default arguments for the program (argv[1..])\n"
	      "\n"
	      "Example:\n"
	      "  musl-gcc -static -O2 -o hello hello.c\n"
	      "  ukd pack hello -o hello.img --mem 32 --env GREETING=hi \\\n"
	      "      --file ./motd.txt:/etc/motd -- --loud world\n",
	      f);
}

__attribute__((format(printf, 1, 2))) static int main_pack_usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("ukd pack: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ukd pack --help'.\n", stderr);
	return MAIN_EXIT_USAGE;
}

static int main_parse_mem(const char *s, unsigned *mib)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > MAIN_MEM_MAX)
		return -1;
	*mib = (unsigned)v;
	return 0;
}

/* HOST:GUEST, split at the last ':' since guest paths are ours and colon-free. */
static int main_parse_file(char *s, struct pack_file *f)
{
	char *colon = strrchr(s, ':');

	if (!colon || colon == s || !colon[1])
		return -1;
	*colon = 0;
	f->host_path = s;
	f->guest_path = colon + 1;
	return 0;
}

/*
 * Matches argv[*i] against -o / --output style options: "--opt VALUE",
 * "--opt=VALUE" and, if shrt is set, "-o VALUE". Returns 1 and sets *val on a
 * match, 0 if argv[*i] is another option, -1 if the value is missing.
 */
static int main_opt(int argc, char **argv, int *i, const char *lng, const char *shrt, char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (!strncmp(a, lng, n) && a[n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (strcmp(a, lng) && (!shrt || strcmp(a, shrt)))
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* One option at argv[*i]; returns 0, or an exit status for a usage error. */
static int main_pack_option(struct main_pack_args *pa, int argc, char **argv, int *i)
{
	struct pack_opts *o = &pa->o;
	const char *a = argv[*i];
	char *v;
	int m;

	if ((m = main_opt(argc, argv, i, "--output", "-o", &v)) > 0) {
		o->out_path = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--name", NULL, &v)) > 0) {
		o->name = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--mem", NULL, &v)) > 0) {
		if (main_parse_mem(v, &o->mem_mib) < 0)
			return main_pack_usage_err("--mem: expected MiB from 1 to %u, not \"%s\"",
						   MAIN_MEM_MAX, v);
	} else if (!m && (m = main_opt(argc, argv, i, "--port", NULL, &v)) > 0) {
		char *end;
		unsigned long p = strtoul(v, &end, 10);

		if (*end || !*v || p < 1 || p > 65535)
			return main_pack_usage_err("--port: expected 1-65535, not \"%s\"", v);
		o->port = (unsigned)p;
	} else if (!m && (m = main_opt(argc, argv, i, "--env", NULL, &v)) > 0) {
		pa->env[o->nenv++] = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--file", NULL, &v)) > 0) {
		if (main_parse_file(v, &pa->files[o->nfiles++]) < 0)
			return main_pack_usage_err(
				"--file: expected HOST_PATH:GUEST_PATH, not \"%s\"", v);
	} else if (!m && (m = main_opt(argc, argv, i, "--runtime", NULL, &v)) > 0) {
		pa->runtime_path = v;
	}
	if (m < 0)
		return main_pack_usage_err("%s needs a value", a);
	if (m == 0)
		return main_pack_usage_err("unknown option %s", a);
	return 0;
}

/* Returns 0, -1 for --help (already printed), or an exit status for a usage error. */
static int main_pack_parse(struct main_pack_args *pa, int argc, char **argv)
{
	struct pack_opts *o = &pa->o;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			o->args = (const char **)argv + i + 1;
			o->nargs = (size_t)(argc - i - 1);
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			main_pack_usage(stdout);
			return -1;
		}
		if (a[0] == '-' && a[1]) {
			if ((rc = main_pack_option(pa, argc, argv, &i)))
				return rc;
		} else if (o->app_path) {
			return main_pack_usage_err("unexpected argument \"%s\" (program "
						   "arguments go after --)",
						   a);
		} else {
			o->app_path = a;
		}
	}
	if (!o->app_path)
		return main_pack_usage_err("no application given");
	if (!o->out_path)
		return main_pack_usage_err("no output given (-o OUT.img)");
	return 0;
}

static int main_pack_run(struct main_pack_args *pa)
{
	struct pack_opts *o = &pa->o;
	void *rt = NULL;
	char err[1024];
	int ret = MAIN_EXIT_FAIL;

	if (pa->runtime_path) {
		if (pack_read_file(pa->runtime_path, &rt, &o->runtime_size, NULL, err,
				   sizeof(err)) < 0)
			goto out;
		o->runtime = rt;
	} else {
		o->runtime = ukd_runtime_elf;
		o->runtime_size = (size_t)(ukd_runtime_elf_end - ukd_runtime_elf);
	}
	if (pack_image(o, err, sizeof(err)) < 0)
		goto free_rt;
	ret = 0;
free_rt:
	free(rt);
out:
	if (ret)
		fprintf(stderr, "ukd pack: %s\n", err);
	return ret;
}

static int main_pack(int argc, char **argv)
{
	struct main_pack_args pa = {0};
	int ret = MAIN_EXIT_FAIL;

	/* Each option is at most one file or env entry: argc bounds both lists. */
	pa.files = calloc((size_t)argc, sizeof(*pa.files));
	pa.env = calloc((size_t)argc, sizeof(*pa.env));
	if (!pa.files || !pa.env) {
		fputs("ukd pack: out of memory\n", stderr);
		goto free_lists;
	}
	pa.o.files = pa.files;
	pa.o.env = pa.env;
	ret = main_pack_parse(&pa, argc, argv);
	if (ret < 0)
		ret = 0; /* --help */
	else if (ret == 0)
		ret = main_pack_run(&pa);
free_lists:
	free(pa.files);
	free(pa.env);
	return ret;
}

static void main_daemon_usage(FILE *f)
{
	fputs("Usage: ukd [daemon] [OPTIONS]\n"
	      "\n"
	      "Run the ukd daemon: the REST API on a unix socket, images and instances\n"
	      "(libvirt domains). SIGTERM or SIGINT stop it; instances keep running and\n"
	      "the next start adopts them.\n"
	      "\n"
	      "Options:\n"
	      "      --root DIR         state directory (default " DAEMON_ROOT ")\n"
	      "      --socket PATH      API socket, mode 0660 (default " DAEMON_SOCKET ")\n"
	      "      --listen HOST:PORT also serve the API on TCP (e.g. 127.0.0.1:7654); every\n"
	      "                         request must carry the token of --token-file\n"
	      "      --token-file FILE  bearer token for --listen (required with it): the\n"
	      "                         file's first line, printable ASCII, at most 512 bytes;\n"
	      "                         clients send \"Authorization: Bearer TOKEN\"\n"
	      "      --libvirt URI      libvirt connection (default " DAEMON_LIBVIRT ")\n"
	      "      --accel tcg|kvm    accelerator for guests (default: detect)\n"
	      "      --foreground       stay in the foreground, log to stderr (else the log\n"
	      "                         is ROOT/ukd.log and ukd returns once it serves)\n"
	      "      --log-level LEVEL  error, warn, info (default) or debug\n"
	      "      --max-image-mib N  largest image upload in MiB (default 128)\n"
	      "      --console-max SIZE disk for each instance's console output, bytes or\n"
	      "                         with K, M or G (default 4M, at least 64K): the log\n"
	      "                         rotates at half of it (console.log, console.log.1);\n"
	      "                         e.g. ukd --console-max 64M\n"
	      "      --health-violations N  health-protocol violations before a guest's\n"
	      "                         channel is closed (default 16)\n"
	      "      --health-missed N  missed heartbeats before an instance is unhealthy\n"
	      "                         (default 3)\n"
	      "      --netns NAME|none  network namespace for guest networks (default ukd);\n"
	      "                         none: bridges in the host's namespace, so guests\n"
	      "                         are routable from the host (and the host from\n"
	      "                         them: isolation is then the host's firewall's job)\n"
	      "      --default-subnet CIDR  subnet of the default network uk0\n"
	      "                         (default 10.87.0.0/16)\n"
	      "      --dns ADDR         DNS server given to guests (dns= on their command line)\n"
	      "      --mem-overcommit R guest memory of running instances may reach R x\n"
	      "                         the host's memory (default 1.0); a start beyond\n"
	      "                         it is refused (507); e.g. --mem-overcommit 1.5\n"
	      "      --rng auto|on|off  a virtio-rng device in every guest (entropy from the\n"
	      "                         host's /dev/urandom); auto (default): only when the\n"
	      "                         guest CPU lacks RDRAND (KVM on such a host), since\n"
	      "                         the device slows QEMU's start; e.g. ukd --rng on\n"
	      "      --runtime FILE     runtime ELF to pack into the images this ukd builds,\n"
	      "                         instead of the built-in one (runtime development,\n"
	      "                         tests); e.g. --runtime build/runtime/runtime.elf\n"
	      "      --check            check the host (libvirt, firmware, accelerator) and\n"
	      "                         exit: 0 if ukd can run guests here\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Examples:\n"
	      "  ukd --root /var/lib/ukd --socket /run/ukd/ukd.sock\n"
	      "  head -c 32 /dev/urandom | base64 > /etc/ukd/token && chmod 600 /etc/ukd/token\n"
	      "  ukd --listen 127.0.0.1:7654 --token-file /etc/ukd/token\n"
	      "  UKD_TOKEN=$(cat /etc/ukd/token) ukctl -H tcp://127.0.0.1:7654 ps\n",
	      f);
}

__attribute__((format(printf, 1, 2))) static int main_daemon_usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("ukd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ukd --help'.\n", stderr);
	return MAIN_EXIT_USAGE;
}

/* One daemon option at argv[*i]; returns 0, or an exit status for a usage error. */
static int main_daemon_option(struct daemon_cfg *cfg, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	char *v, *end;
	int m;

	if ((m = main_opt(argc, argv, i, "--root", NULL, &v)) > 0) {
		cfg->root = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--socket", NULL, &v)) > 0) {
		cfg->socket = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--listen", NULL, &v)) > 0) {
		cfg->listen = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--token-file", NULL, &v)) > 0) {
		cfg->token = v; /* the path until main_daemon reads it */
	} else if (!m && (m = main_opt(argc, argv, i, "--libvirt", NULL, &v)) > 0) {
		cfg->libvirt_uri = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--accel", NULL, &v)) > 0) {
		if (strcmp(v, "tcg") && strcmp(v, "kvm"))
			return main_daemon_usage_err("--accel: expected tcg or kvm, not \"%s\"", v);
		cfg->accel = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--log-level", NULL, &v)) > 0) {
		if ((cfg->log_level = log_level_parse(v)) < 0)
			return main_daemon_usage_err("--log-level: expected error, warn, info or "
						     "debug, not \"%s\"",
						     v);
	} else if (!m && (m = main_opt(argc, argv, i, "--max-image-mib", NULL, &v)) > 0) {
		unsigned long mib = strtoul(v, &end, 10);

		if (v[0] < '0' || v[0] > '9' || *end || mib == 0 || mib > 4096)
			return main_daemon_usage_err(
				"--max-image-mib: expected 1 to 4096, not \"%s\"", v);
		cfg->image_max = (size_t)mib << 20;
	} else if (!m && (m = main_opt(argc, argv, i, "--console-max", NULL, &v)) > 0) {
		unsigned long long n = strtoull(v, &end, 10);
		int shift = !*end		? 0
			    : !strcmp(end, "K") ? 10
			    : !strcmp(end, "M") ? 20
			    : !strcmp(end, "G") ? 30
						: -1;

		if (v[0] < '0' || v[0] > '9' || shift < 0 || n > (1ull << 40) >> shift ||
		    (n << shift) < CONSOLELOG_MAX_MIN)
			return main_daemon_usage_err(
				"--console-max: expected a size from 64K to 1024G, not \"%s\"", v);
		cfg->console_max = (size_t)(n << shift);
	} else if (!m && (m = main_opt(argc, argv, i, "--netns", NULL, &v)) > 0) {
		/* A name ip netns accepts: it becomes a file under /run/netns. */
		if (!*v || strlen(v) > 48 || strchr(v, '/') || v[0] == '.')
			return main_daemon_usage_err("--netns: expected a name or none, not \"%s\"",
						     v);
		cfg->netns = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--default-subnet", NULL, &v)) > 0) {
		cfg->default_subnet = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--dns", NULL, &v)) > 0) {
		if (!*v || strlen(v) > 15 || strspn(v, "0123456789.") != strlen(v))
			return main_daemon_usage_err("--dns: expected an IPv4 address, not \"%s\"",
						     v);
		cfg->dns = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--mem-overcommit", NULL, &v)) > 0) {
		double r = strtod(v, &end);

		if (v[0] < '0' || v[0] > '9' || *end || !(r >= 0.001 && r <= 100))
			return main_daemon_usage_err(
				"--mem-overcommit: expected a ratio from 0.001 to 100, not \"%s\"",
				v);
		cfg->mem_overcommit = r;
	} else if (!m && (m = main_opt(argc, argv, i, "--rng", NULL, &v)) > 0) {
		if (strcmp(v, "auto") && strcmp(v, "on") && strcmp(v, "off"))
			return main_daemon_usage_err("--rng: expected auto, on or off, not \"%s\"",
						     v);
		cfg->rng = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--health-violations", NULL, &v)) > 0) {
		unsigned long n = strtoul(v, &end, 10);

		if (v[0] < '0' || v[0] > '9' || *end || n == 0 || n > 1000000)
			return main_daemon_usage_err(
				"--health-violations: expected 1 to 1000000, not \"%s\"", v);
		cfg->health_violations = (int)n;
	} else if (!m && (m = main_opt(argc, argv, i, "--runtime", NULL, &v)) > 0) {
		cfg->runtime_path = v;
	} else if (!m && (m = main_opt(argc, argv, i, "--health-missed", NULL, &v)) > 0) {
		unsigned long n = strtoul(v, &end, 10);

		if (v[0] < '0' || v[0] > '9' || *end || n == 0 || n > 1000)
			return main_daemon_usage_err(
				"--health-missed: expected 1 to 1000, not \"%s\"", v);
		cfg->health_missed = (int)n;
	}
	if (m < 0)
		return main_daemon_usage_err("%s needs a value", a);
	if (m == 0)
		return main_daemon_usage_err("unknown option %s", a);
	return 0;
}

/*
 * The bearer token from path into buf: its first line, which must be
 * non-empty printable ASCII without spaces. Returns 0, or 1 with the reason
 * printed (ukd then refuses to start).
 */
static int main_read_token(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		fprintf(stderr, "ukd: --token-file %s: %s\n", path, strerror(errno));
		return MAIN_EXIT_FAIL;
	}
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	n = strlen(buf);
	if (!n) {
		fprintf(stderr, "ukd: --token-file %s is empty: put a secret token in it\n", path);
		return MAIN_EXIT_FAIL;
	}
	if (n > HTTP_TOKEN_MAX) {
		fprintf(stderr, "ukd: --token-file %s: the token is longer than %u bytes\n", path,
			HTTP_TOKEN_MAX);
		return MAIN_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~') {
			fprintf(stderr,
				"ukd: --token-file %s: the token must be printable ASCII without "
				"spaces\n",
				path);
			return MAIN_EXIT_FAIL;
		}
	return 0;
}

/* argv[0] is "ukd" or "daemon"; options follow. */
static int main_daemon(int argc, char **argv)
{
	struct daemon_cfg cfg = {
		.root = DAEMON_ROOT,
		.socket = DAEMON_SOCKET,
		.libvirt_uri = DAEMON_LIBVIRT,
		.log_level = LOG_INFO,
		.image_max = (size_t)128 << 20,
		.runtime = ukd_runtime_elf,
	};
	static char token[HTTP_TOKEN_MAX + 2];
	int check = 0, rc;

	cfg.runtime_size = (size_t)(ukd_runtime_elf_end - ukd_runtime_elf);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			main_daemon_usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--foreground")) {
			cfg.foreground = 1;
		} else if (!strcmp(a, "--check")) {
			check = 1;
		} else if (a[0] == '-') {
			if ((rc = main_daemon_option(&cfg, argc, argv, &i)))
				return rc;
		} else {
			return main_daemon_usage_err("unexpected argument \"%s\"", a);
		}
	}
	if (cfg.root[0] != '/' || cfg.socket[0] != '/')
		return main_daemon_usage_err("--root and --socket must be absolute paths");
	if (cfg.listen && !cfg.token)
		return main_daemon_usage_err("--listen needs --token-file FILE: TCP clients must "
					     "present a bearer token");
	if (cfg.token && !cfg.listen)
		return main_daemon_usage_err("--token-file is only used with --listen HOST:PORT");
	if (cfg.token) {
		if ((rc = main_read_token(cfg.token, token, sizeof(token))))
			return rc;
		cfg.token = token;
	}
	if (check)
		return check_run(cfg.root, cfg.libvirt_uri, cfg.accel);
	if (cfg.runtime_path) {
		char err[512];
		void *rt;

		if (pack_read_file(cfg.runtime_path, &rt, &cfg.runtime_size, NULL, err,
				   sizeof(err)) < 0) {
			fprintf(stderr, "ukd: --runtime: %s\n", err);
			return MAIN_EXIT_FAIL;
		}
		cfg.runtime = rt;
		rc = daemon_run(&cfg);
		free(rt);
		return rc;
	}
	return daemon_run(&cfg);
}

static const struct main_cmd main_cmds[] = {
	{"daemon", "run the daemon (the default; see 'ukd --help')", main_daemon},
	{"pack", "build an image from a static x86-64 program", main_pack},
};

static void main_usage(FILE *f)
{
	fputs("Usage: ukd [daemon] [OPTIONS]     run the daemon\n"
	      "       ukd COMMAND [ARGS...]\n"
	      "       ukd --help | --version\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", main_cmds[i].name, main_cmds[i].summary);
	fputs("\nRun 'ukd COMMAND --help' for the options of a command.\n\n", f);
	main_daemon_usage(f);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	/* No command, or options only: the daemon. */
	if (!cmd || (cmd[0] == '-' && strcmp(cmd, "-h") && strcmp(cmd, "--help") &&
		     strcmp(cmd, "--version")))
		return main_daemon(argc, argv);
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		main_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		puts("ukd " UKD_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (!strcmp(cmd, main_cmds[i].name))
			return main_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ukd: unknown command %s\n", cmd);
	main_usage(stderr);
	return MAIN_EXIT_USAGE;
}
