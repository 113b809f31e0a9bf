/*
 * fuzz_since.c: libFuzzer target for since_parse, the parser of the logs
 * API's ?since= (hostile: any client may send it). Whatever it accepts must
 * be a time that a 64-bit millisecond clock holds, and parsing must never
 * read past the string.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I ukd \
 *	tests/fuzz/fuzz_since.c ukd/since.c -o fuzz_since
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "since.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (since_parse(s, 1714557600000LL, &t) == 0 &&
	    (t > (INT64_MAX / 2) || t < -(INT64_MAX / 2)))
		abort();
	free(s);
	return 0;
}
