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

static int render(FILE *f, const hw_snapshot *s, const hw_view_options *o, uint64_t *found)
{
	return hw_render_check(f, s, o, found);
}

int ct_verb_check(int argc, char **argv)
{
	hw_view_options vo;
	hw_view_options_init(&vo);
	return ct_run_view(&verb, argc, argv, &vo, render);
}
