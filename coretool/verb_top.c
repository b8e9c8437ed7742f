/*
 * verb_top.c: coretool top TARGET: allocations grouped and sorted by bytes,
 * largest first.  Grouping and rendering are libheapwalk's, shared with gdb.
 */
#include "config.h"

#include "coretool.h"

static const ct_view_verb verb = {
	.name = "top",
	.accept = HW_VOPT_TOP,
	.synopsis = "[--group-by KEY] [--limit N] [--state used|free|all] [--frames N] [OPTIONS] TARGET",
	.description =
		"Allocations grouped by KEY and sorted by bytes, then count, largest first.\n"
		"The total of every selected allocation is always printed.  Site keys (site,\n"
		"function, lineno, filename, module) need the tracer's tables in the target\n"
		"(coretool trace); without them every allocation's site is '?'.\n",
	.min_args = 1,
	.max_args = 1,
};

int ct_verb_top(int argc, char **argv)
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
	rc = hw_render_top(f, src.snap, &vo) ? ct_render_failed(verb.name) : CT_EXIT_OK;
	ct_source_close(&src);
	int wrc = ct_output_close(&c, f);
	return rc ? rc : wrc;
}
