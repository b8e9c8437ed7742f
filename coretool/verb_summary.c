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

int ct_verb_summary(int argc, char **argv)
{
	hw_view_options vo;
	ct_common c = {0};
	char **args;
	int nargs;
	hw_view_options_init(&vo);
	int rc = ct_view_parse(&verb, argc, argv, &vo, &c, &args, &nargs);
	if (rc >= 0)
		return rc;
	ct_source src;
	rc = ct_source_open(&src, &c, nargs ? args[0] : NULL, 0);
	if (rc)
		return rc;
	FILE *f = ct_output_open(&c);
	if (!f) {
		ct_source_close(&src);
		return CT_EXIT_USAGE;
	}
	rc = hw_render_summary(f, src.snap, &vo) ? ct_render_failed(verb.name) : CT_EXIT_OK;
	ct_source_close(&src);
	int wrc = ct_output_close(&c, f);
	return rc ? rc : wrc;
}
