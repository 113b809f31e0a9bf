/*
 * fuzz_restart.c: libFuzzer target for the restart policy parser
 * (ukd/restart.c), which reads the "restart" field of API requests.
 * Whatever it accepts must format to a policy that parses back to the same
 * policy; whatever it refuses must come with a reason.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I ukd \
 *	tests/fuzz/fuzz_restart.c ukd/restart.c ukd/util.c -luv -ljansson -o fuzz_restart
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "restart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], err[160], buf[RESTART_POLICY_MAX];
	struct restart_policy p, q;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	err[0] = 0;
	if (restart_parse(s, &p, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	restart_format(&p, buf, sizeof(buf));
	if (restart_parse(buf, &q, err, sizeof(err)) < 0 || q.mode != p.mode || q.max != p.max)
		abort();
	return 0;
}
