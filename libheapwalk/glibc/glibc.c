/*
 * glibc.c: the glibc malloc walker (placeholder until the walker lands:
 * every call reports that glibc malloc was not found).
 */
#include "internal.h"

int hw_glibc_open(hw_glibc **out, hw_target *t)
{
	*out = NULL;
	return hw_error_set(HW_ENOTFOUND, "glibc malloc walker not built yet");
}

int hw_glibc_walk(hw_glibc *g, const hw_visitor *v)
{
	return hw_error_set(HW_EINVAL, "no glibc walker");
}

const hw_glibc_summary *hw_glibc_get_summary(const hw_glibc *g)
{
	return NULL;
}

void hw_glibc_close(hw_glibc *g)
{
}
