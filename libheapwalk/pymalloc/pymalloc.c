/*
 * pymalloc.c: the CPython pymalloc walker (placeholder until the walker
 * lands: every call reports that CPython was not found).
 */
#include "internal.h"

int hw_pymalloc_open(hw_pymalloc **out, hw_target *t)
{
	*out = NULL;
	return hw_error_set(HW_ENOTFOUND, "pymalloc walker not built yet");
}

int hw_pymalloc_walk(hw_pymalloc *p, const hw_visitor *v)
{
	return hw_error_set(HW_EINVAL, "no pymalloc walker");
}

const hw_pymalloc_summary *hw_pymalloc_get_summary(const hw_pymalloc *p)
{
	return NULL;
}

void hw_pymalloc_close(hw_pymalloc *p)
{
}
