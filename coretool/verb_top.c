/*
 * verb_top.c: coretool top TARGET: allocations grouped and sorted by bytes,
 * largest first.  Grouping and rendering are libheapwalk's, shared with gdb.
 */
#include "config.h"

#include "coretool.h"

static const ct_view_verb verb = {
    .name = "top",
    .accept = HW_VOPT_TOP,
    .synopsis =
        "[--group-by KEY] [--limit N] [--state used|free|all] [--frames N] [OPTIONS] TARGET",
    .description = "Allocations grouped by KEY and sorted by bytes, then count, largest first.\n"
                   "The total of every selected allocation is always printed.  Site keys (site,\n"
                   "function, lineno, filename, module) need the tracer's tables in the target\n"
                   "(coretool trace); without them every allocation's site is '?'.\n",
    .min_args = 1,
    .max_args = 1,
};

static int render(FILE *f, const hw_snapshot *s, const hw_view_options *o, uint64_t *found)
{
	(void)found;
	return hw_render_top(f, s, o);
}

int ct_verb_top(int argc, char **argv)
{
	hw_view_options vo;
	hw_view_options_init(&vo);
	return ct_run_view(&verb, argc, argv, &vo, render);
}
