/*
 * verb_summary.c: coretool summary TARGET: totals per allocator (glibc
 * arenas, mmapped chunks, pymalloc), tracer presence, problems found.
 * Rendering is libheapwalk's (hw_render_summary), shared with gdb.
 */
#include "config.h"

#include "coretool.h"

static const ct_view_verb verb = {
    .name = "summary",
    .accept = HW_VOPT_FORMAT,
    .synopsis = "[OPTIONS] TARGET",
    .description = "Totals per allocator (glibc arenas and mmapped chunks, CPython's pymalloc),\n"
                   "whether the tracer's tables were found, and every problem the walk met.\n"
                   "The JSON form is heapwalk.summary.v1; glibc.mallinfo2 holds what mallinfo2()\n"
                   "would have returned in the process at that moment.\n",
    .min_args = 1,
    .max_args = 1,
};

static int render(FILE *f, const hw_snapshot *s, const hw_view_options *o, uint64_t *found)
{
	(void)found;
	return hw_render_summary(f, s, o);
}

int ct_verb_summary(int argc, char **argv)
{
	hw_view_options vo;
	hw_view_options_init(&vo);
	return ct_run_view(&verb, argc, argv, &vo, render);
}
