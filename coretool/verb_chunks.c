/*
 * verb_chunks.c: coretool chunks TARGET: one line per allocation (JSON:
 * one object per line), in address order.
 */
#include "config.h"

#include "coretool.h"

static const ct_view_verb verb = {
    .name = "chunks",
    .accept = HW_VOPT_FORMAT | HW_VOPT_STATE | HW_VOPT_CHUNKS | HW_VOPT_FILTERS,
    .synopsis = "[--state used|free|all] [--allocator A] [--min-size N] [OPTIONS] TARGET",
    .description = "One line per allocation in address order: the pointer the program got, its\n"
                   "usable size, state, allocator, arena, free-list bin, type and site id.  With\n"
                   "--format json, one JSON object per line.  Default --state all.\n",
    .min_args = 1,
    .max_args = 1,
};

static int render(FILE *f, const hw_snapshot *s, const hw_view_options *o, uint64_t *found)
{
	(void)found;
	return hw_render_chunks(f, s, o);
}

int ct_verb_chunks(int argc, char **argv)
{
	hw_view_options vo;
	hw_view_options_init(&vo);
	vo.states = (1u << HW_STATE_USED) | (1u << HW_STATE_FREE);
	return ct_run_view(&verb, argc, argv, &vo, render);
}
