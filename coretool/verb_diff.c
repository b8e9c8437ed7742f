/*
 * verb_diff.c: coretool diff OLD NEW: the same groups in two targets (cores,
 * snapshot files or a live process, in any mix), sorted by absolute byte
 * growth.  With --max-growth BYTES it is a CI gate: exit 1 when the total
 * growth exceeds BYTES.
 */
#include "config.h"

#include "coretool.h"

#include <inttypes.h>

static const ct_view_verb verb = {
    .name = "diff",
    .accept = HW_VOPT_DIFF,
    .synopsis = "[--group-by KEY] [--limit N] [--max-growth BYTES] [OPTIONS] OLD NEW",
    .description = "The groups of two targets side by side: count and bytes in NEW and their\n"
                   "change since OLD, sorted by absolute byte growth (like tracemalloc's\n"
                   "Snapshot.compare_to, for whole processes).  OLD and NEW are cores, snapshot\n"
                   "files or, with --pid N, a live process as NEW.  --max-growth makes diff a CI\n"
                   "gate: exit 1 when the total growth exceeds BYTES, the groups that grew most\n"
                   "printed.\n",
    .min_args = 2,
    .max_args = 2,
};

int ct_verb_diff(int argc, char **argv)
{
	hw_view_options vo;
	ct_common c = {0};
	char **args;
	int nargs;
	hw_view_options_init(&vo);
	int rc = ct_view_parse(&verb, argc, argv, &vo, &c, &args, &nargs);
	if (rc >= 0)
		return rc;
	ct_source olds, news;
	FILE *f;
	rc = ct_open_pair(&olds, &news, &c, args[0], nargs > 1 ? args[1] : NULL, &f);
	if (rc)
		return rc;
	int exceeded = 0;
	rc = hw_render_diff(f, olds.snap, news.snap, &vo, &exceeded) ? ct_render_failed(verb.name)
	                                                             : CT_EXIT_OK;
	if (!rc && exceeded) {
		hw_count o_t = {0}, n_t = {0};
		hw_diff *d;
		if (!hw_snapshot_diff(&d, olds.snap, news.snap, &vo)) {
			hw_diff_totals(d, &o_t, &n_t);
			hw_diff_free(d);
		}
		char h1[32], h2[32];
		ct_error(CT_EXIT_FOUND, "diff",
		         "total growth %s (%" PRIu64 " bytes) exceeds --max-growth %s (%" PRIu64
		         " bytes)",
		         hw_bytes_format(n_t.bytes - o_t.bytes, h1, sizeof h1),
		         n_t.bytes - o_t.bytes, hw_bytes_format(vo.max_growth, h2, sizeof h2),
		         vo.max_growth);
		rc = CT_EXIT_FOUND;
	}
	ct_source_close(&olds);
	ct_source_close(&news);
	int wrc = ct_output_close(&c, f);
	return wrc ? wrc : rc;
}
