/*
 * cmd.h: what ukctl's commands share: the command table entry, the context a
 * command runs in, option parsing and the way results and errors are shown.
 *
 * Exit statuses are part of ukctl's interface (scripts rely on them):
 *   0 success, 1 ukd reported an error (or the operation failed),
 *   2 usage error, 3 the daemon could not be reached.
 * `ukctl run` in the foreground exits with the guest's status instead.
 */
#ifndef CMD_H
#define CMD_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"

#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2
#define CMD_UNREACHABLE 3

/* getopt's answer for --help; every command takes -h/--help. */
#define CMD_HELP_OPT                           \
	{                                      \
		"help", no_argument, NULL, 'h' \
	}

struct cmd_ctx;

struct cmd {
	const char *name;
	const char *alias;   /* another name, or NULL */
	const char *summary; /* one line for `ukctl --help` */
	const char *usage;   /* the whole --help text, with an example */
	int (*run)(struct cmd_ctx *x, int argc, char **argv);
};

struct cmd_ctx {
	const struct cmd *cmd;
	const char *name;  /* the command as typed (an alias shows as typed) */
	const char *host;  /* -H or UKD_HOST; NULL: the default */
	const char *token; /* UKD_TOKEN */
	int color;	   /* stdout is a terminal that wants colours */
	int stderr_tty;	   /* progress lines may redraw themselves */
	struct client *client;
};

/*
 * getopt_long over a command's argv (argv[0] is the command). Returns the
 * option, -1 at the end, 'h' after printing --help, or '?' after printing a
 * usage error (the command then returns CMD_USAGE).
 */
int cmd_getopt(struct cmd_ctx *x, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/*
 * Options of a command that takes only --json, -q/--quiet (when quiet is not
 * NULL) and --help, and at most max_args arguments. Returns -1 to go on, or
 * the exit status (help shown, or a usage error printed).
 */
int cmd_opts_json(struct cmd_ctx *x, int argc, char **argv, int *json, int *quiet, int max_args);

/* Prints "ukctl CMD: message", the usage line and a hint; returns CMD_USAGE. */
__attribute__((format(printf, 2, 3))) int cmd_usage_err(struct cmd_ctx *x, const char *fmt, ...);

/* Prints "ukctl: message" to stderr; returns CMD_FAIL. */
__attribute__((format(printf, 1, 2))) int cmd_fail(const char *fmt, ...);

/* A flag or command whose daemon side does not exist yet: says so, CMD_FAIL. */
int cmd_unsupported(const char *what);

/*
 * The client for x->host, made on first use. Returns CMD_OK or an exit
 * status (the error printed).
 */
int cmd_client(struct cmd_ctx *x);

/*
 * One request. Returns CMD_OK when ukd answered 2xx (resp filled, the caller
 * clears it), else prints why and returns CMD_FAIL or CMD_UNREACHABLE with
 * resp already cleared. prefix (may be NULL) goes before ukd's message.
 */
int cmd_call(struct cmd_ctx *x, const struct client_req *rq, struct client_resp *resp,
	     const char *prefix);

/* GET path and hand back its JSON (the caller decrefs). Same returns as cmd_call. */
int cmd_get_json(struct cmd_ctx *x, const char *path, json_t **out);

/*
 * After a call that did not return 0 or a 2xx: prints the error (with the
 * "is ukd running?" hint when unreachable) and returns the exit status.
 */
int cmd_report(struct cmd_ctx *x, int ret, struct client_resp *resp, const char *prefix);

/* "/v1/PREFIX/ESCAPED-REF/SUFFIX" into a malloc'd string. */
char *cmd_path(const char *prefix, const char *ref, const char *suffix);

struct util_buf;

/*
 * Appends "?key=VALUE" to the path in url, or "&key=VALUE" once it has a
 * query, VALUE escaped. A failure sets url->oom.
 */
void cmd_query_add(struct util_buf *url, const char *key, const char *value);

/*
 * DELETE /v1/KIND/REF[query] for each REF of argv[optind..], printing
 * "Deleted REF" for each; carries on past failures, as scripts expect, but
 * not when ukd is unreachable. Returns CMD_OK or the last failure's status.
 */
int cmd_delete_each(struct cmd_ctx *x, int argc, char **argv, const char *kind, const char *query);

/* Pretty JSON on stdout, as scripts read it. */
void cmd_print_json(json_t *v);

/* Prints the string field key of each object of the array list, one a line (-q). */
void cmd_print_ids(json_t *list, const char *key);

/* Writes s (from table_*) to stdout and frees it; CMD_FAIL if s is NULL. */
int cmd_print(char *s);

/* Milliseconds since the epoch, for relative times. */
int64_t cmd_now_ms(void);

/* Parses a duration: "500ms", "5s", "2m", "1h", or plain seconds ("5"). -EINVAL if bad. */
int cmd_parse_duration_ms(const char *s, int64_t *ms);

/* Parses a memory size: "64" (MiB), "64M", "64MiB", "1G", "1GiB". -EINVAL if bad. */
int cmd_parse_mib(const char *s, unsigned *mib);

extern const struct cmd cmd_build, cmd_images, cmd_rmi, cmd_image;
extern const struct cmd cmd_run, cmd_list, cmd_start, cmd_stop, cmd_restart, cmd_kill, cmd_rm,
	cmd_logs, cmd_inspect;
extern const struct cmd cmd_version, cmd_info, cmd_health, cmd_stats, cmd_events;
extern const struct cmd cmd_network;

#endif
