/*
 * verb_check.c: coretool check TARGET: heap integrity: every inconsistency
 * the walkers found, with its address; exit 1 when there is any.
 */
#include "config.h"

#include "coretool.h"

static const ct_view_verb verb = {
	.name = "check",
	.accept = HW_VOPT_FORMAT,
	.synopsis = "[OPTIONS] TARGET",
	.description =
		"Heap integrity: every inconsistency the walkers found (bad chunk sizes, broken\n"
		"or cyclic free lists, counts that disagree, ...), each with its address.\n"
		"Exit 1 when there is any, 0 when the heap is consistent.\n",
	.min_args = 1,
	.max_args = 1,
};

int ct_verb_check(int argc, char **argv)
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
	uint64_t n = 0;
	rc = hw_render_check(f, src.snap, &vo, &n) ? ct_render_failed(verb.name) : CT_EXIT_OK;
	ct_source_close(&src);
	int wrc = ct_output_close(&c, f);
	if (rc || wrc)
		return rc ? rc : wrc;
	return n ? CT_EXIT_FOUND : CT_EXIT_OK;
}
