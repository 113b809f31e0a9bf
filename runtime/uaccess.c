/* uaccess.c: checked copies between the runtime and the application. */
#include "uaccess.h"

#include "cpu.h"
#include "errno.h"
#include "lib.h"
#include "vm.h"

int copy_from_user(void *dst, uint64_t src, size_t n)
{
	if (!vm_user_ok(src, n, 0))
		return -EFAULT;
	user_access_begin();
	memcpy(dst, (const void *)src, n);
	user_access_end();
	return 0;
}

int copy_to_user(uint64_t dst, const void *src, size_t n)
{
	if (!vm_user_ok(dst, n, 1))
		return -EFAULT;
	user_access_begin();
	memcpy((void *)dst, src, n);
	user_access_end();
	return 0;
}

long copy_string_from_user(char *dst, uint64_t src, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		if (copy_from_user(&dst[i], src + i, 1))
			return -EFAULT;
		if (!dst[i])
			return (long)i;
	}
	return -ENAMETOOLONG;
}
