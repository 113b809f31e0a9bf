// compat: glibc
/* /dev/null, /dev/zero and /dev/urandom behave as on Linux. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char buf[64];
	int null = open("/dev/null", O_RDWR), zero = open("/dev/zero", O_RDONLY),
	    ur = open("/dev/urandom", O_RDONLY);
	unsigned char a[16], b[16];

	printf("null write %zd, read %zd\n", write(null, "abc", 3), read(null, buf, sizeof(buf)));
	memset(buf, 1, sizeof(buf));
	read(zero, buf, sizeof(buf));
	printf("zero: %d\n", buf[0] == 0 && buf[63] == 0);
	read(ur, a, 16);
	read(ur, b, 16);
	printf("urandom differs: %d\n", memcmp(a, b, 16) != 0);
	printf("stdout is not a tty here: %d\n", !isatty(1));
	return 0;
}
