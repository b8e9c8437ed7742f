/*
 * tracer_table.c: reads the companion tracer's tables back from a target
 * (placeholder: no tracer found).
 */
#include "internal.h"

int hw_tracer_open(hw_tracer **out, hw_target *t)
{
	*out = NULL;
	return hw_error_set(HW_ENOTFOUND, "tracer table reader not built yet");
}

const hw_tracer_summary *hw_tracer_get_summary(const hw_tracer *tr)
{
	return NULL;
}

int hw_tracer_lookup(hw_tracer *tr, uint64_t address, uint32_t *site, uint64_t *requested)
{
	return HW_ENOTFOUND;
}

int hw_tracer_foreach(hw_tracer *tr, int (*cb)(void *, uint64_t, uint32_t, uint64_t), void *ctx)
{
	return HW_OK;
}

int hw_tracer_site_frames(hw_tracer *tr, uint32_t site, hw_frame *frames, size_t *n)
{
	*n = 0;
	return HW_ENOTFOUND;
}

void hw_tracer_close(hw_tracer *tr)
{
}
