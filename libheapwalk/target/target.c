/*
 * target.c: placeholder until the target layer lands.
 */
#include "internal.h"

#include <stddef.h>

int hw_target_open_core(hw_target **out, const char *path, const hw_target_options *opts)
{
	*out = NULL;
	return hw_error_set(HW_EUNSUPPORTED, "core files not supported yet");
}

int hw_target_open_pid(hw_target **out, pid_t pid, const hw_target_options *opts)
{
	*out = NULL;
	return hw_error_set(HW_EUNSUPPORTED, "live processes not supported yet");
}

void hw_target_close(hw_target *t)
{
}
