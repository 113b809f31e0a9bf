/* cmdline.c: split the command line into words, then sort them into options and args. */
#include "cmdline.h"

#include "console.h"
#include "health.h"
#include "heap.h"
#include "lib.h"

#define MAX_WORDS 256

/* Copies the next word of *s into a fresh string; NULL at the end. */
static char *next_word(const char **s)
{
	const char *p = *s;
	size_t cap, n = 0;
	char *w;
	int quoted = 0;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (!*p)
		return 0;
	cap = strlen(p) + 1;
	if (!(w = kmalloc(cap)))
		return 0;
	for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		w[n++] = *p;
	}
	w[n] = 0;
	*s = p;
	return w;
}

static void option(struct cmdline *c, char *w)
{
	char *eq = strchr(w, '=');

	if (!strncmp(w, "env.", 4) && eq && eq > w + 4) {
		c->env[c->nenv++] = w + 4;
		return;
	}
	if (!strncmp(w, "ip=", 3) || !strncmp(w, "gw=", 3) || !strncmp(w, "dns=", 4)) {
		const char **slot = w[0] == 'i' ? &c->ip : w[0] == 'g' ? &c->gw : &c->dns;

		*slot = eq + 1; /* checked by net_init, which reports a bad address */
		return;
	}
	if (!strncmp(w, "hostname=", 9) && w[9] && strlen(w + 9) < 65) {
		c->hostname = w + 9;
		return;
	}
	if (!strcmp(w, "debug=boot")) {
		c->debug_boot = 1;
		return;
	}
	if (!strcmp(w, "debug=crash")) {
		c->debug_crash = 1;
		return;
	}
	if (!strncmp(w, "uk.", 3) && health_option(w))
		return;
	kprintf("runtime: unknown option '%s' ignored\n", w);
}

void cmdline_parse(const char *s, struct cmdline *c)
{
	char *w;
	int after = 0;

	*c = (struct cmdline){0};
	c->env = kmalloc(sizeof(char *) * (MAX_WORDS + 1));
	c->args = kmalloc(sizeof(char *) * (MAX_WORDS + 1));
	if (!c->env || !c->args)
		return;
	while ((w = next_word(&s))) {
		if (c->nenv + c->nargs >= MAX_WORDS) {
			kprintf("runtime: command line has more than %d words; rest ignored\n",
				MAX_WORDS);
			break;
		}
		if (after)
			c->args[c->nargs++] = w;
		else if (!strcmp(w, "--"))
			after = c->has_args = 1;
		else
			option(c, w);
	}
}
