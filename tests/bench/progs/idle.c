/* idle: a service with nothing to do, sleeping for an hour (the idle-cost benchmark). */
#include <unistd.h>

int main(void)
{
	sleep(3600);
	return 0;
}
