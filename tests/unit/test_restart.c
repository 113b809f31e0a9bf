/*
 * test_restart.c: the restart policy parser and the backoff arithmetic of
 * ukd/restart.c, which decide what ukd does with API input and with every
 * guest that ends. Exits 0 when all checks pass, else prints each failure.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "restart.h"

/* s parses, and formats back to canonical. */
static void good(const char *s, enum restart_mode mode, unsigned max, const char *canonical)
{
	struct restart_policy p;
	char err[160], buf[RESTART_POLICY_MAX];

	if (restart_parse(s, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "\"%s\" refused: %s\n", s, err);
		failures++;
		return;
	}
	restart_format(&p, buf, sizeof(buf));
	CHECK(p.mode == mode);
	CHECK(p.max == max);
	if (strcmp(buf, canonical))
		fprintf(stderr, "\"%s\" formats as \"%s\", not \"%s\"\n", s, buf, canonical),
			failures++;
}

static void bad(const char *s)
{
	struct restart_policy p;
	char err[160] = "";

	if (restart_parse(s, &p, err, sizeof(err)) != -22 /* -EINVAL */ || !strstr(err, "restart"))
		fprintf(stderr, "\"%s\" not refused with a reason (\"%s\")\n", s, err), failures++;
}

int main(void)
{
	struct restart_policy p;

	good("no", RESTART_NO, 0, "no");
	good("always", RESTART_ALWAYS, 0, "always");
	good("unless-stopped", RESTART_UNLESS_STOPPED, 0, "unless-stopped");
	good("on-failure", RESTART_ON_FAILURE, 0, "on-failure");
	good("on-failure:3", RESTART_ON_FAILURE, 3, "on-failure:3");
	good("on-failure:007", RESTART_ON_FAILURE, 7, "on-failure:7");
	good("on-failure:1000000", RESTART_ON_FAILURE, 1000000, "on-failure:1000000");
	for (const char *const *s =
		     (const char *const[]){"", "No", "yes", "always:3",
					   "on-failure:", "on-failure:0", "on-failure:-1",
					   "on-failure:+1", "on-failure: 1", "on-failure:1x",
					   "on-failure:1000001", "on-failure:99999999999999999999",
					   "on-failure3", "on-failures", " always", NULL};
	     *s; s++)
		bad(*s);

	/* 100 ms doubling, capped at 5 minutes, whatever the streak. */
	CHECK(restart_delay_ms(0) == 100);
	CHECK(restart_delay_ms(1) == 200);
	CHECK(restart_delay_ms(2) == 400);
	CHECK(restart_delay_ms(11) == 204800);
	CHECK(restart_delay_ms(12) == RESTART_DELAY_MAX_MS);
	CHECK(restart_delay_ms(1000000) == RESTART_DELAY_MAX_MS);

	restart_parse("on-failure:3", &p, NULL, 0);
	CHECK(restart_wanted(&p, 1) && !restart_wanted(&p, 0));
	CHECK(!restart_limit_hit(&p, 2) && restart_limit_hit(&p, 3));
	restart_parse("on-failure", &p, NULL, 0);
	CHECK(!restart_limit_hit(&p, 1000000));
	restart_parse("always", &p, NULL, 0);
	CHECK(restart_wanted(&p, 0) && restart_wanted(&p, 1) && !restart_limit_hit(&p, 99));
	restart_parse("no", &p, NULL, 0);
	CHECK(!restart_wanted(&p, 1));

	restart_of_spec("{\"restart\":\"on-failure:2\"}", &p);
	CHECK(p.mode == RESTART_ON_FAILURE && p.max == 2);
	restart_of_spec("{}", &p);
	CHECK(p.mode == RESTART_NO);
	restart_of_spec("not json", &p);
	CHECK(p.mode == RESTART_NO);

	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	else
		printf("restart policies: all checks passed\n");
	return failures != 0;
}
