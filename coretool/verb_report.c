/*
 * verb_report.c: coretool report TARGET [--vs OLD] -o FILE.html: one
 * self-contained HTML file (no script, nothing fetched) to keep or send:
 * summary, problems, the largest groups by every key that applies, and with
 * --vs the growth since OLD.  The page is libheapwalk's (hw_render_report).
 */
#include "config.h"

#include "coretool.h"

static const ct_view_verb verb = {
    .name = "report",
    .accept = HW_VOPT_STATE | HW_VOPT_LIMIT | HW_VOPT_FRAMES | HW_VOPT_FILTERS,
    .synopsis = "[--vs OLD] [--limit N] [--state used|free|all] [OPTIONS] TARGET -o FILE.html",
    .description = "An offline forensic report: one self-contained HTML file (inline style, no\n"
                   "script, no link out) with the target, the summary, the problems, and the\n"
                   "largest groups by type, site, line, function, module, size and allocator\n"
                   "(bars, and the text views as coretool prints them); with --vs OLD (a core or\n"
                   "a snapshot file) the growth since OLD by type and line.  --limit: rows per\n"
                   "table (default 20).  Strings from the target are escaped.\n",
    .min_args = 1,
    .max_args = 1,
};

int ct_verb_report(int argc, char **argv)
{
	/* --vs OLD is the report's own: taken out before the shared parser */
	const char *vs = NULL;
	if (hw_args_take(&argc, argv, "--vs", &vs) < 0)
		return ct_usage_error(verb.name, "%s", hw_error_last());
	hw_view_options vo;
	ct_common c = {0};
	char **args;
	int nargs;
	hw_view_options_init(&vo);
	vo.limit = 20;
	int rc = ct_view_parse(&verb, argc, argv, &vo, &c, &args, &nargs);
	if (rc >= 0)
		return rc;
	ct_source olds, news;
	FILE *f;
	rc = ct_open_pair(&olds, &news, &c, vs, nargs ? args[0] : NULL, &f);
	if (rc)
		return rc;
	rc = hw_render_report(f, news.snap, olds.snap, &vo) ? ct_render_failed(verb.name)
	                                                    : CT_EXIT_OK;
	ct_source_close(&olds);
	ct_source_close(&news);
	int wrc = ct_output_close(&c, f);
	return wrc ? wrc : rc;
}
