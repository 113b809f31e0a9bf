/*
 * restart.h: restart policies, as an instance's spec names them, and the
 * timers of the restarts they decide.
 *
 * Policies (Docker's names and meaning):
 *   "no"               never restart (the default);
 *   "on-failure[:MAX]" restart a run that failed: a nonzero exit status, or
 *                      an end without one (crash, panic, a domain that
 *                      vanished); after MAX restarts in a row the instance
 *                      is "crash-loop" and stays down;
 *   "always"           restart every run that ends, whatever its status;
 *   "unless-stopped"   the same while ukd runs.
 * A user's stop or kill is never undone while ukd runs. When ukd starts, an
 * "always" instance that is down (even one a user stopped) is started again,
 * an "unless-stopped" one only if no user stopped it: that is the only
 * difference between the two, as in Docker.
 *
 * Backoff: the n-th restart in a row waits RESTART_DELAY_MIN_MS << (n - 1),
 * at most RESTART_DELAY_MAX_MS. A run that stayed up RESTART_RESET_MS or
 * longer starts a new series (and on-failure's count) from scratch.
 */
#ifndef RESTART_H
#define RESTART_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

#define RESTART_DELAY_MIN_MS 100
#define RESTART_DELAY_MAX_MS (5 * 60 * 1000)
#define RESTART_RESET_MS (10 * 60 * 1000)
#define RESTART_MAX_LIMIT 1000000 /* largest MAX on-failure takes */
#define RESTART_POLICY_MAX 32	  /* longest policy string, with the NUL */

enum restart_mode {
	RESTART_NO,
	RESTART_ON_FAILURE,
	RESTART_ALWAYS,
	RESTART_UNLESS_STOPPED,
};

struct restart_policy {
	enum restart_mode mode;
	unsigned max; /* on-failure: restarts in a row before crash-loop; 0 = no limit */
};

/*
 * Parses a policy string (API input: any bytes). Returns 0, or -EINVAL with
 * a reason for humans in err.
 */
int restart_parse(const char *s, struct restart_policy *out, char *err, size_t len);

/* The canonical string ("no", "on-failure:3", ...) into buf. */
void restart_format(const struct restart_policy *p, char *buf, size_t len);

/* The policy of a stored spec's "restart" string ("no" when absent or unreadable). */
void restart_of_spec(const char *spec_json, struct restart_policy *out);

/* 1 if a run that ended (failed: see above) is to be restarted under p. */
int restart_wanted(const struct restart_policy *p, int failed);

/*
 * Delay before the next restart, given the restarts in a row so far (streak,
 * already reset when the last run stayed up long enough).
 */
int64_t restart_delay_ms(int64_t streak);

/* 1 if on-failure's limit forbids another restart after streak restarts in a row. */
int restart_limit_hit(const struct restart_policy *p, int64_t streak);

typedef void (*restart_due_fn)(struct daemon *d, const char *id);

/*
 * Arms (or re-arms) the instance's restart timer to fire at due_ms (ms since
 * the epoch; now if past), calling due on the loop. 0 or -ENOMEM.
 */
int restart_schedule(struct daemon *d, const char *id, int64_t due_ms, restart_due_fn due);

/* Disarms the instance's restart timer, if any. */
void restart_cancel(struct daemon *d, const char *id);

/* 1 if a restart timer is armed for the instance. */
int restart_pending(struct daemon *d, const char *id);

/* Closes every timer at daemon shutdown; the store keeps the due times. */
void restart_close_all(struct daemon *d);

#endif
