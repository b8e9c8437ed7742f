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
	.description =
		"One line per allocation in address order: the pointer the program got, its\n"
		"usable size, state, allocator, arena, free-list bin, type and site id.  With\n"
		"--format json, one JSON object per line.  Default --state all.\n",
	.min_args = 1,
	.max_args = 1,
};

int ct_verb_chunks(int argc, char **argv)
{
	hw_view_options vo;
	ct_common c = {0};
	char **args;
	int nargs;
	hw_view_options_init(&vo);
	vo.states = (1u << HW_STATE_USED) | (1u << HW_STATE_FREE);
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
	rc = hw_render_chunks(f, src.snap, &vo) ? ct_render_failed(verb.name) : CT_EXIT_OK;
	ct_source_close(&src);
	int wrc = ct_output_close(&c, f);
	return rc ? rc : wrc;
}
