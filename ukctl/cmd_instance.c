/*
 * cmd_instance.c: ukctl run, list (ps), start, stop, restart, kill, rm,
 * logs and inspect.
 *
 * Instances are named by the API's references: a name, the id or an id
 * prefix of six or more digits; ukd resolves them, so ukctl never guesses.
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"
#include "util.h"

/* How often a foreground `run` looks at Ctrl-C while it streams the console. */
#define CMD_RUN_POLL_MS 100
/* A kill refused as busy is retried this many times, CMD_RUN_POLL_MS apart. */
#define CMD_RUN_KILL_TRIES 50

/* --- run --- */

struct cmd_run_opts {
	json_t *spec;
	int detach, quiet, json, rm;
};

static volatile sig_atomic_t cmd_run_interrupts;

static void cmd_run_on_sigint(int sig)
{
	(void)sig;
	cmd_run_interrupts++;
}

/* A flag whose daemon feature is still missing: refused before anything is created. */
static int cmd_run_unsupported(int c)
{
	switch (c) {
	case 'c': return cmd_unsupported("--cpus (more than one vCPU)");
	default: return CMD_FAIL;
	}
}

static int cmd_run_env(struct cmd_ctx *x, json_t *spec, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *env = json_object_get(spec, "env");
	char *key;
	int ret;

	if (!eq || eq == kv)
		return cmd_usage_err(x, "-e: expected KEY=VALUE, not \"%s\"", kv);
	if (!env && json_object_set_new(spec, "env", env = json_object()) < 0)
		return cmd_fail("out of memory");
	if (!(key = strndup(kv, (size_t)(eq - kv))))
		return cmd_fail("out of memory");
	ret = json_object_set_new(env, key, json_string(eq + 1));
	free(key);
	return ret < 0 ? cmd_fail("-e %s: not valid UTF-8", kv) : CMD_OK;
}

static int cmd_run_opt(struct cmd_ctx *x, struct cmd_run_opts *o, int c)
{
	unsigned mib;

	switch (c) {
	case 'd': o->detach = 1; return 0;
	case 'q': o->quiet = 1; return 0;
	case 'j': o->json = 1; return 0;
	case 'r': o->rm = 1; return 0;
	case 'n':
		return json_object_set_new(o->spec, "name", json_string(optarg)) < 0
			       ? cmd_usage_err(x, "--name: not valid UTF-8")
			       : 0;
	case 'm':
		if (cmd_parse_mib(optarg, &mib) < 0)
			return cmd_usage_err(
				x, "-m: expected a size in MiB like 64 or 1G, not \"%s\"", optarg);
		return json_object_set_new(o->spec, "memory_mib", json_integer(mib)) < 0
			       ? cmd_fail("out of memory")
			       : 0;
	case 'e': return cmd_run_env(x, o->spec, optarg);
	case 'p': {
		/* ukd checks the syntax ([IP:]HOST:GUEST[/tcp|/udp]) and answers 422 if bad. */
		json_t *ports = json_object_get(o->spec, "ports");

		if (!ports && json_object_set_new(o->spec, "ports", ports = json_array()) < 0)
			return cmd_fail("out of memory");
		return json_array_append_new(ports, json_string(optarg)) < 0
			       ? cmd_usage_err(x, "-p: not valid UTF-8")
			       : 0;
	}
	case 'R':
		/* ukd checks the policy and answers 422 with the reason if it is bad. */
		return json_object_set_new(o->spec, "restart", json_string(optarg)) < 0
			       ? cmd_usage_err(x, "--restart: not valid UTF-8")
			       : 0;
	case 'N':
		return json_object_set_new(o->spec, "network", json_string(optarg)) < 0
			       ? cmd_usage_err(x, "--net: not valid UTF-8")
			       : 0;
	case 'v': {
		/* ukd checks the file and the disk name (and answers 422 if bad). */
		json_t *vols = json_object_get(o->spec, "volumes");

		if (!strchr(optarg, ':'))
			return cmd_usage_err(x, "-v: expected FILE:/dev/vdX, not \"%s\"", optarg);
		if (!vols && json_object_set_new(o->spec, "volumes", vols = json_array()) < 0)
			return cmd_fail("out of memory");
		return json_array_append_new(vols, json_string(optarg)) < 0
			       ? cmd_usage_err(x, "-v: not valid UTF-8")
			       : 0;
	}
	case 'H': {
		int64_t ms;

		if (cmd_parse_duration_ms(optarg, &ms) < 0 || ms < 1)
			return cmd_usage_err(x,
					     "--health-interval: expected a duration like 500ms, "
					     "5s or 1m, not \"%s\"",
					     optarg);
		return json_object_set_new(o->spec, "health_interval_ms", json_integer(ms)) < 0
			       ? cmd_fail("out of memory")
			       : 0;
	}
	case 'c':
		/* One vCPU is what ukd gives every guest today, so --cpus 1 is honest. */
		if (!strcmp(optarg, "1"))
			return 0;
		return cmd_run_unsupported(c);
	default: return cmd_run_unsupported(c);
	}
}

/* Console bytes straight to stdout, as they come. */
static int cmd_run_on_data(const char *data, size_t len, void *opaque)
{
	(void)opaque;
	fwrite(data, 1, len, stdout);
	fflush(stdout);
	return 0;
}

/* A foreground run's answer to Ctrl-C: a stop, then a kill. */
struct cmd_run_action {
	const char *verb; /* "stop" or "kill" */
	struct client_req rq;
	struct client_call *call;
	char path[128];
	int tries, pending; /* pending: to be (re)sent at due_ms */
	int64_t due_ms;
};

static void cmd_run_act_send(struct cmd_ctx *x, struct cmd_run_action *a)
{
	a->rq = (struct client_req){.method = "POST", .path = a->path};
	a->pending = 0;
	a->tries++;
	if (client_start(x->client, &a->rq, &a->call) < 0) {
		a->call = NULL;
		cmd_fail("%s: out of memory", a->verb);
	}
}

/*
 * Takes a finished action's answer. ukd refuses a kill as busy until its
 * graceful stop has reached the guest (a moment); the kill is then retried.
 */
static void cmd_run_act_check(struct cmd_ctx *x, struct cmd_run_action *a)
{
	struct client_resp resp;
	int ret;

	if (!a->call || !client_call_done(a->call))
		return;
	ret = client_finish(a->call, &resp);
	a->call = NULL;
	if (ret == 0 && resp.status == 409 && a->tries < CMD_RUN_KILL_TRIES) {
		client_resp_clear(&resp);
		a->pending = 1;
		a->due_ms = cmd_now_ms() + CMD_RUN_POLL_MS;
		return;
	}
	if (ret < 0 || resp.status >= 300)
		cmd_report(x, ret, &resp, a->verb);
	else
		client_resp_clear(&resp);
}

/* Starts the stop on the first Ctrl-C and the kill on the second. */
static void cmd_run_act_due(struct cmd_ctx *x, struct cmd_run_action *act)
{
	if (cmd_run_interrupts == 1 && !act[0].tries && !act[0].pending) {
		fputs("\nukctl: stopping the instance (Ctrl-C again to kill it)\n", stderr);
		act[0].pending = 1;
	}
	if (cmd_run_interrupts >= 2 && !act[1].tries && !act[1].pending) {
		fputs("\nukctl: killing the instance\n", stderr);
		act[1].pending = 1;
	}
	for (int i = 0; i < 2; i++)
		if (act[i].pending && cmd_now_ms() >= act[i].due_ms)
			cmd_run_act_send(x, &act[i]);
}

/*
 * Streams the console until the run ends. Ctrl-C asks ukd to stop the
 * instance, a second one to kill it; the stream ends when ukd sees it go.
 */
static int cmd_run_attach(struct cmd_ctx *x, const char *id)
{
	struct client_req logs = {.method = "GET", .on_data = cmd_run_on_data};
	struct cmd_run_action act[2] = {{.verb = "stop"}, {.verb = "kill"}};
	struct sigaction sa = {.sa_handler = cmd_run_on_sigint}, old;
	struct client_call *stream;
	struct client_resp resp;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/v1/instances/%s/logs?follow=1", id);
	logs.path = path;
	for (int i = 0; i < 2; i++)
		snprintf(act[i].path, sizeof(act[i].path), "/v1/instances/%s/%s", id, act[i].verb);
	if (client_start(x->client, &logs, &stream) < 0)
		return cmd_fail("out of memory");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	while (!client_call_done(stream) || act[0].call || act[1].call || act[1].pending) {
		cmd_run_act_due(x, act);
		client_poll(x->client, CMD_RUN_POLL_MS);
		cmd_run_act_check(x, &act[0]);
		cmd_run_act_check(x, &act[1]);
		/* Once the run is over, a kill still waiting to be retried has nothing to do. */
		if (client_call_done(stream) && !act[0].call && !act[1].call)
			act[1].pending = 0;
	}
	sigaction(SIGINT, &old, NULL);
	ret = client_finish(stream, &resp);
	if (ret < 0 || resp.status >= 300)
		return cmd_report(x, ret, &resp, "logs");
	client_resp_clear(&resp);
	return CMD_OK;
}

/* The run's outcome as an exit status: the guest's own when it has one. */
static int cmd_run_status(struct cmd_ctx *x, const char *id)
{
	char path[128];
	json_t *inst = NULL, *st;
	const char *reason, *state;
	int ret;

	snprintf(path, sizeof(path), "/v1/instances/%s", id);
	/* The stream ends as the run does; ukd may take a moment to record why. */
	for (int i = 0; i < 50; i++) {
		json_decref(inst);
		if ((ret = cmd_get_json(x, path, &inst)))
			return ret;
		state = json_string_value(json_object_get(inst, "state"));
		if (state && (!strcmp(state, "exited") || !strcmp(state, "created") ||
			      !strcmp(state, "crash-loop")))
			break;
		usleep(100 * 1000);
	}
	st = json_object_get(inst, "exit_status");
	reason = json_string_value(json_object_get(inst, "exit_reason"));
	if (json_is_integer(st)) {
		ret = (int)(json_integer_value(st) & 0xff);
	} else if (reason && !strcmp(reason, "stopped")) {
		ret = 128 + SIGTERM;
	} else if (reason && !strcmp(reason, "killed")) {
		ret = 128 + SIGKILL;
	} else {
		const char *msg = json_string_value(json_object_get(inst, "message"));

		ret = cmd_fail("the instance ended: %s%s%s", reason ? reason : "unknown reason",
			       msg ? ": " : "", msg ? msg : "");
	}
	json_decref(inst);
	return ret;
}

static int cmd_run_remove(struct cmd_ctx *x, const char *id)
{
	char path[128];
	struct client_req rq = {.method = "DELETE", .path = path};
	struct client_resp resp;
	int ret;

	snprintf(path, sizeof(path), "/v1/instances/%s?force=1", id);
	if ((ret = cmd_call(x, &rq, &resp, "rm")) == CMD_OK)
		client_resp_clear(&resp);
	return ret;
}

static int cmd_run_create(struct cmd_ctx *x, struct cmd_run_opts *o)
{
	struct client_req rq = {
		.method = "POST", .path = "/v1/instances", .ctype = "application/json"};
	struct client_resp resp;
	char *body = json_dumps(o->spec, JSON_COMPACT), id[40];
	int ret, status;

	if (!body)
		return cmd_fail("out of memory");
	rq.body = body;
	rq.len = strlen(body);
	ret = cmd_call(x, &rq, &resp, NULL);
	free(body);
	if (ret)
		return ret;
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(resp.json, "id")));
	if (o->detach) {
		if (o->json)
			cmd_print_json(resp.json);
		else
			puts(id);
		client_resp_clear(&resp);
		return CMD_OK;
	}
	client_resp_clear(&resp);
	if ((ret = cmd_run_attach(x, id)))
		return ret;
	status = cmd_run_status(x, id);
	if (o->rm && status != CMD_UNREACHABLE && (ret = cmd_run_remove(x, id)))
		return ret;
	return status;
}

static int cmd_run_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"detach", no_argument, NULL, 'd'},
		{"name", required_argument, NULL, 'n'},
		{"memory", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'},
		{"env", required_argument, NULL, 'e'},
		{"publish", required_argument, NULL, 'p'},
		{"net", required_argument, NULL, 'N'},
		{"volume", required_argument, NULL, 'v'},
		{"restart", required_argument, NULL, 'R'},
		{"health-interval", required_argument, NULL, 'H'},
		{"rm", no_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	struct cmd_run_opts o = {.spec = json_object()};
	json_t *args;
	int c, ret = CMD_OK;

	if (!o.spec)
		return cmd_fail("out of memory");
	/* '+': options end at IMAGE, so the program's own options pass through. */
	while ((c = cmd_getopt(x, argc, argv, "+:dn:m:e:p:v:qh", lo)) != -1) {
		if (c == 'h' || c == '?') {
			ret = c == 'h' ? CMD_OK : CMD_USAGE;
			goto put_spec;
		}
		if ((ret = cmd_run_opt(x, &o, c)))
			goto put_spec;
	}
	if (optind >= argc) {
		ret = cmd_usage_err(x, "no image given");
		goto put_spec;
	}
	if (o.rm && o.detach) {
		ret = cmd_usage_err(x, "--rm needs the foreground (no -d)");
		goto put_spec;
	}
	/* As in Docker: removing what the policy would bring back makes no sense. */
	if (o.rm && json_object_get(o.spec, "restart") &&
	    strcmp(json_string_value(json_object_get(o.spec, "restart")), "no")) {
		ret = cmd_usage_err(x, "--rm and --restart (other than no) contradict each other");
		goto put_spec;
	}
	json_object_set_new(o.spec, "image", json_string(argv[optind++]));
	if (optind < argc) {
		args = json_array();
		json_object_set_new(o.spec, "args", args);
		for (; optind < argc; optind++)
			if (json_array_append_new(args, json_string(argv[optind])) < 0) {
				ret = cmd_fail("argument \"%s\" is not valid UTF-8", argv[optind]);
				goto put_spec;
			}
	}
	ret = cmd_run_create(x, &o);
put_spec:
	json_decref(o.spec);
	return ret;
}

const struct cmd cmd_run = {
	"run",
	NULL,
	"create and start an instance",
	"Usage: ukctl run [OPTIONS] IMAGE [ARGS...]\n"
	"\n"
	"Create an instance of IMAGE and start it. ARGS replace the image's default\n"
	"arguments. Without -d, ukctl shows the console until the instance exits and\n"
	"exits with the program's status; Ctrl-C stops the instance gracefully, a\n"
	"second Ctrl-C kills it (then the status is 143 or 137). With -d it prints\n"
	"the instance id and returns.\n"
	"\n"
	"Options:\n"
	"  -d, --detach               run in the background, print the id\n"
	"      --name NAME            name the instance (default IMAGE-ID6)\n"
	"  -m, --memory MIB           guest memory (64, 64M, 1G; default the image's)\n"
	"      --cpus N               vCPUs (only 1 today)\n"
	"  -e, --env KEY=VALUE        environment variable (repeatable)\n"
	"  -p, --publish [IP:]HOST:GUEST[/tcp|/udp]\n"
	"                             publish a port on the host (repeatable; IP\n"
	"                             defaults to 127.0.0.1); implies --net uk0\n"
	"      --net NET              attach to a network (ukctl network ls)\n"
	"  -v, --volume FILE:/dev/vdX attach a raw disk image (an absolute path on\n"
	"                             ukd's host) as a virtio disk; the runtime has\n"
	"                             one, /dev/vda\n"
	"      --restart POLICY       restart the program when it ends: no (default),\n"
	"                             on-failure[:MAX] (after a failure; crash-loop\n"
	"                             after MAX restarts in a row), always, or\n"
	"                             unless-stopped; backoff from 100 ms to 5 min.\n"
	"                             In the foreground ukctl returns when the first\n"
	"                             run ends; the policy restarts it in the background\n"
	"      --health-interval D    the guest's heartbeat interval (500ms, 5s, 1m;\n"
	"                             default 1s): unhealthy after 3 missed ones\n"
	"      --rm                   delete the instance when it exits (foreground only)\n"
	"      --json                 with -d: print the instance as JSON\n"
	"  -h, --help                 show this help\n"
	"\n"
	"Examples:\n"
	"  ukctl run hello:v1 3 'two words'\n"
	"  ukctl run -d --name web -m 32 -e GREETING=hi hello\n"
	"  ukctl run -d -p 8080:8080 -p 127.0.0.1:5353:53/udp httpd 8080 /www\n"
	"  ukctl run -d --name db -v /srv/kv.img:/dev/vda --health-interval 5s kv \\\n"
	"      --port 6379 --aof /dev/vda\n"
	"  ukctl run -d --name web --restart on-failure:5 httpd 8080 /www\n",
	cmd_run_run,
};

/* --- list / ps --- */

struct cmd_list_opts {
	int all, quiet, json;
	const char *state, *name;
};

static int cmd_list_keep(const struct cmd_list_opts *o, json_t *inst)
{
	const char *state = json_string_value(json_object_get(inst, "state"));
	const char *name = json_string_value(json_object_get(inst, "name"));

	state = state ? state : "";
	if (o->state)
		return !strcmp(state, o->state) && (!o->name || (name && strstr(name, o->name)));
	if (o->name && !(name && strstr(name, o->name)))
		return 0;
	/* Like `ps`: what is alive (or crash-looping), unless -a asks for everything. */
	return o->all || (strcmp(state, "exited") && strcmp(state, "created"));
}

static int cmd_list_filter(struct cmd_ctx *x, struct cmd_list_opts *o, const char *f)
{
	if (!strncmp(f, "state=", 6))
		o->state = f + 6;
	else if (!strncmp(f, "name=", 5))
		o->name = f + 5;
	else
		return cmd_usage_err(x, "--filter: expected state=STATE or name=TEXT, not \"%s\"",
				     f);
	return 0;
}

static int cmd_list_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"all", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		{"filter", required_argument, NULL, 'f'},
		CMD_HELP_OPT,
		{0},
	};
	struct cmd_list_opts o = {0};
	json_t *list, *kept, *inst, *images = NULL;
	size_t i;
	int c, ret;

	while ((c = cmd_getopt(x, argc, argv, ":aqf:h", lo)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		o.all |= c == 'a';
		o.quiet |= c == 'q';
		o.json |= c == 'j';
		if (c == 'f' && (ret = cmd_list_filter(x, &o, optarg)))
			return ret;
	}
	if (optind < argc)
		return cmd_usage_err(x, "unexpected argument \"%s\"", argv[optind]);
	if ((ret = cmd_get_json(x, "/v1/instances", &list)))
		return ret;
	if (!(kept = json_array())) {
		json_decref(list);
		return cmd_fail("out of memory");
	}
	json_array_foreach(list, i, inst) if (cmd_list_keep(&o, inst))
		json_array_append(kept, inst);
	if (o.json) {
		cmd_print_json(kept);
	} else if (o.quiet) {
		cmd_print_ids(kept, "id");
	} else {
		/* Image names make the table readable; without them it shows ids. */
		if (cmd_get_json(x, "/v1/images", &images))
			images = NULL;
		ret = cmd_print(
			table_instances(kept, images, cmd_now_ms(), x->color ? TABLE_COLOR : 0));
	}
	json_decref(images);
	json_decref(kept);
	json_decref(list);
	return ret;
}

const struct cmd cmd_list = {
	"list",
	"ps",
	"list instances",
	"Usage: ukctl list [-a] [-q] [--json] [--filter state=STATE|name=TEXT]\n"
	"\n"
	"List instances, oldest first: by default those that are starting, running,\n"
	"stopping or in a crash loop; -a lists all. `ukctl ps` is the same command.\n"
	"STATUS counts the restarts by the instance's restart policy.\n"
	"\n"
	"Options:\n"
	"  -a, --all            include created and exited instances\n"
	"  -f, --filter F       state=created|starting|running|stopping|exited|\n"
	"                       crash-loop, or\n"
	"                       name=TEXT (names containing TEXT); repeatable\n"
	"  -q, --quiet          print only instance ids\n"
	"      --json           print the API's JSON (filtered the same way)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Example:\n"
	"  ukctl ps -a --filter state=exited\n",
	cmd_list_run,
};

/* --- start, stop, restart, kill, rm --- */

enum cmd_act {
	CMD_ACT_START,
	CMD_ACT_STOP,
	CMD_ACT_RESTART,
	CMD_ACT_KILL,
	CMD_ACT_RM,
};

/* One action on one instance through the API. */
static int cmd_act_one(struct cmd_ctx *x, enum cmd_act act, const char *ref, const char *query)
{
	static const char *const suffix[] = {"/start", "/stop", "/restart", "/kill", ""};
	struct client_resp resp;
	struct client_req rq = {.method = act == CMD_ACT_RM ? "DELETE" : "POST"};
	char *s = NULL, *path;
	int ret;

	if (asprintf(&s, "%s%s", suffix[act], query) < 0)
		return cmd_fail("out of memory");
	path = cmd_path("instances", ref, s);
	free(s);
	if (!path)
		return cmd_fail("out of memory");
	rq.path = path;
	ret = cmd_call(x, &rq, &resp, NULL);
	free(path);
	if (ret == CMD_OK)
		client_resp_clear(&resp);
	return ret;
}

/* The same action on each reference; carries on past failures, as scripts expect. */
static int cmd_act_run(struct cmd_ctx *x, int argc, char **argv, enum cmd_act act)
{
	static const struct option lo[] = {
		{"time", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		CMD_HELP_OPT,
		{0},
	};
	const char *shortopts = act == CMD_ACT_STOP || act == CMD_ACT_RESTART ? ":t:h"
				: act == CMD_ACT_RM			      ? ":fh"
									      : ":h";
	char query[32] = "", *end;
	int c, ret = CMD_OK, r;
	long t;

	while ((c = cmd_getopt(x, argc, argv, shortopts, lo)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		if ((c == 't' && !strchr(shortopts, 't')) || (c == 'f' && !strchr(shortopts, 'f')))
			return cmd_usage_err(x, "unknown option %s", argv[optind - 1]);
		if (c == 'f')
			snprintf(query, sizeof(query), "?force=1");
		if (c == 't') {
			t = strtol(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end || t > 3600)
				return cmd_usage_err(x,
						     "-t: expected seconds from 0 to 3600, not "
						     "\"%s\"",
						     optarg);
			snprintf(query, sizeof(query), "?t=%ld", t);
		}
	}
	if (optind >= argc)
		return cmd_usage_err(x, "no instance given");
	for (; optind < argc; optind++) {
		const char *ref = argv[optind];

		r = cmd_act_one(x, act, ref, query);
		if (r == CMD_UNREACHABLE)
			return r;
		if (r == CMD_OK)
			puts(ref);
		else
			ret = r;
	}
	return ret;
}

static int cmd_start_run(struct cmd_ctx *x, int argc, char **argv)
{
	return cmd_act_run(x, argc, argv, CMD_ACT_START);
}

static int cmd_stop_run(struct cmd_ctx *x, int argc, char **argv)
{
	return cmd_act_run(x, argc, argv, CMD_ACT_STOP);
}

static int cmd_restart_run(struct cmd_ctx *x, int argc, char **argv)
{
	return cmd_act_run(x, argc, argv, CMD_ACT_RESTART);
}

static int cmd_kill_run(struct cmd_ctx *x, int argc, char **argv)
{
	return cmd_act_run(x, argc, argv, CMD_ACT_KILL);
}

static int cmd_rm_run(struct cmd_ctx *x, int argc, char **argv)
{
	return cmd_act_run(x, argc, argv, CMD_ACT_RM);
}

const struct cmd cmd_start = {
	"start",
	NULL,
	"start created or exited instances",
	"Usage: ukctl start INSTANCE...\n"
	"\n"
	"Start instances again: a new run with a fresh console log. INSTANCE is a\n"
	"name, an id or an id prefix (6+ digits). Prints each one started.\n"
	"\n"
	"Example:\n"
	"  ukctl start web\n",
	cmd_start_run,
};

const struct cmd cmd_stop = {
	"stop",
	NULL,
	"stop instances gracefully",
	"Usage: ukctl stop [-t SECS] INSTANCE...\n"
	"\n"
	"Ask each instance to power off (ACPI) and kill it if it is still running\n"
	"after SECS seconds (default 10). A stopped instance stays stopped: its\n"
	"restart policy does not bring it back (a pending restart is cancelled).\n"
	"\n"
	"Options:\n"
	"  -t, --time SECS  seconds to wait before killing (0-3600)\n"
	"  -h, --help       show this help\n"
	"\n"
	"Example:\n"
	"  ukctl stop -t 2 web\n",
	cmd_stop_run,
};

const struct cmd cmd_restart = {
	"restart",
	NULL,
	"stop, then start instances",
	"Usage: ukctl restart [-t SECS] INSTANCE...\n"
	"\n"
	"Stop each instance gracefully (as ukctl stop) and start it again; one\n"
	"that is not running is just started. Like start, it begins a new series\n"
	"for the restart policy (restart count and backoff from zero).\n"
	"\n"
	"Options:\n"
	"  -t, --time SECS  seconds to wait before killing (0-3600)\n"
	"  -h, --help       show this help\n"
	"\n"
	"Example:\n"
	"  ukctl restart web\n",
	cmd_restart_run,
};

const struct cmd cmd_kill = {
	"kill",
	NULL,
	"stop instances at once",
	"Usage: ukctl kill INSTANCE...\n"
	"\n"
	"Stop each instance at once (destroy its VM), without asking the guest.\n"
	"\n"
	"Example:\n"
	"  ukctl kill web\n",
	cmd_kill_run,
};

const struct cmd cmd_rm = {
	"rm",
	NULL,
	"delete instances",
	"Usage: ukctl rm [-f] INSTANCE...\n"
	"\n"
	"Delete instances and their console logs. A running instance is refused\n"
	"unless -f is given, which kills it first.\n"
	"\n"
	"Options:\n"
	"  -f, --force  kill a running instance first\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl rm -f web\n",
	cmd_rm_run,
};

/* --- logs --- */

static int cmd_logs_on_data(const char *data, size_t len, void *opaque)
{
	(void)opaque;
	fwrite(data, 1, len, stdout);
	fflush(stdout);
	return 0;
}

static int cmd_logs_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"follow", no_argument, NULL, 'f'},
		{"tail", required_argument, NULL, 'n'},
		{"since", required_argument, NULL, 's'},
		CMD_HELP_OPT,
		{0},
	};
	struct client_req rq = {.method = "GET", .on_data = cmd_logs_on_data};
	struct client_resp resp;
	struct util_buf q = {0};
	const char *tail = NULL, *since = NULL;
	char *path;
	int c, follow = 0, ret;

	while ((c = cmd_getopt(x, argc, argv, ":fn:h", lo)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		/* ukd parses it (one parser for every client) and says what it accepts. */
		if (c == 's')
			since = optarg;
		follow |= c == 'f';
		if (c == 'n') {
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    strspn(optarg, "0123456789") != strlen(optarg))
				return cmd_usage_err(
					x, "--tail: expected a number of lines, not \"%s\"",
					optarg);
			tail = optarg;
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_err(x, optind >= argc ? "no instance given"
						       : "one instance at a time");
	if (!(path = cmd_path("instances", argv[optind], "/logs")))
		return cmd_fail("out of memory");
	util_buf_puts(&q, path);
	free(path);
	if (tail)
		cmd_query_add(&q, "tail", tail);
	if (follow)
		cmd_query_add(&q, "follow", "1");
	if (since)
		cmd_query_add(&q, "since", since);
	if (q.oom) {
		util_buf_free(&q);
		return cmd_fail("out of memory");
	}
	rq.path = q.s;
	ret = cmd_call(x, &rq, &resp, NULL);
	if (ret == CMD_OK)
		client_resp_clear(&resp);
	util_buf_free(&q);
	return ret;
}

const struct cmd cmd_logs = {
	"logs",
	NULL,
	"show an instance's console",
	"Usage: ukctl logs [-f] [--tail N] [--since T] INSTANCE\n"
	"\n"
	"Print the console of the instance's current (or last) run: boot messages,\n"
	"the program's output and how it ended. ukd keeps the newest output only,\n"
	"at most its --console-max (default 4 MiB) per instance.\n"
	"\n"
	"Options:\n"
	"  -f, --follow    keep printing until the run ends (Ctrl-C to stop watching)\n"
	"  -n, --tail N    only the last N lines\n"
	"      --since T   only what was written from T on: an RFC 3339 time\n"
	"                  (2024-05-01T10:00:00Z), a duration before now (10m,\n"
	"                  1h30m, 90s) or unix seconds; with --tail, the last N\n"
	"                  lines of that\n"
	"  -h, --help      show this help\n"
	"\n"
	"Examples:\n"
	"  ukctl logs -f --tail 20 web\n"
	"  ukctl logs --since 10m web\n",
	cmd_logs_run,
};

/* --- inspect --- */

static int cmd_inspect_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	json_t *all = json_array(), *inst;
	int c, json = 0, ret = CMD_OK, r;
	char *path;

	if (!all)
		return cmd_fail("out of memory");
	while ((c = cmd_getopt(x, argc, argv, ":h", lo)) != -1) {
		if (c == 'h' || c == '?') {
			json_decref(all);
			return c == 'h' ? CMD_OK : CMD_USAGE;
		}
		json |= c == 'j';
	}
	if (optind >= argc) {
		json_decref(all);
		return cmd_usage_err(x, "no instance given");
	}
	for (int i = optind; i < argc; i++) {
		if (!(path = cmd_path("instances", argv[i], NULL)))
			r = cmd_fail("out of memory");
		else
			r = cmd_get_json(x, path, &inst);
		free(path);
		if (r == CMD_UNREACHABLE) {
			json_decref(all);
			return r;
		}
		if (r) {
			ret = r;
			continue;
		}
		if (!json && json_array_size(all))
			putchar('\n');
		if (!json && cmd_print(table_kv(inst, cmd_now_ms(), x->color ? TABLE_COLOR : 0)))
			ret = CMD_FAIL;
		json_array_append_new(all, inst);
	}
	/* One instance: its object, as the API gives it; several: an array. */
	if (json && json_array_size(all))
		cmd_print_json(argc - optind == 1 ? json_array_get(all, 0) : all);
	json_decref(all);
	return ret;
}

const struct cmd cmd_inspect = {
	"inspect",
	NULL,
	"show instances in detail",
	"Usage: ukctl inspect [--json] INSTANCE...\n"
	"\n"
	"Show everything ukd knows about instances: state, exit status and reason,\n"
	"restart policy and count (restart_at: when a pending restart is due),\n"
	"image, memory, arguments, environment, times, the libvirt domain.\n"
	"\n"
	"Options:\n"
	"      --json   the API's JSON (an object for one instance, else an array)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl inspect --json web\n",
	cmd_inspect_run,
};
