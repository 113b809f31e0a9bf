/*
 * cmdline.h: the instance configuration on the VMM command line
 * (`-append`, libvirt <cmdline>): `[key=value ...] [-- ARGS...]`.
 * Words may be quoted with "..." and use \ escapes.
 */
#ifndef CMDLINE_H
#define CMDLINE_H

struct cmdline {
	char **env; /* from env.K=V, NULL-terminated */
	int nenv;
	char **args; /* after --, NULL-terminated; has_args says whether -- was there */
	int nargs, has_args;
	int debug_boot;
	const char *hostname;	   /* hostname=NAME: uname nodename */
	const char *ip, *gw, *dns; /* ip=ADDR/PREFIX gw=ADDR dns=ADDR; no ip=: DHCP */
	int debug_crash; /* debug=crash: fault inside the runtime (tests the crash path) */
};

/* Parses s (not modified). Unknown keys are reported on the console and ignored. */
void cmdline_parse(const char *s, struct cmdline *out);

#endif
