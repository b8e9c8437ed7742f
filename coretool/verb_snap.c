/*
 * verb_snap.c: coretool snap TARGET -o FILE: write a snapshot file (.hsnap):
 * every allocation, its site and type, the summary and the problems, never
 * the memory contents.
 */
#include "config.h"

#include "coretool.h"

#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

static const ct_view_verb verb = {
    .name = "snap",
    .accept = 0,
    .synopsis = "[OPTIONS] TARGET -o FILE",
    .description = "Write a snapshot file: every allocation (address, usable size, state,\n"
                   "allocator, arena, type, site), the sites' frames, the allocators' summaries,\n"
                   "the problems and the target's identity; never the memory contents.  Every\n"
                   "verb reads it as a TARGET.  The format is docs/hsnap-format.md.\n",
    .min_args = 1,
    .max_args = 1,
};

int ct_verb_snap(int argc, char **argv)
{
	hw_view_options vo;
	ct_common c = {0};
	char **args;
	int nargs;
	hw_view_options_init(&vo);
	int rc = ct_view_parse(&verb, argc, argv, &vo, &c, &args, &nargs);
	if (rc >= 0)
		return rc;
	if (!c.output || !strcmp(c.output, "-"))
		return ct_usage_error(verb.name, "give the snapshot file to write with -o FILE");
	ct_source src;
	rc = ct_source_open(&src, &c, nargs ? args[0] : NULL, 0);
	if (rc)
		return rc;
	if (hw_snapshot_save(src.snap, c.output)) {
		rc = ct_error(CT_EXIT_TARGET, c.output, "%s (check the path and free space)",
		              hw_error_last());
	} else {
		struct stat st;
		size_t n = hw_snapshot_count(src.snap);
		if (!stat(c.output, &st))
			printf("wrote %s: %zu allocations, %lld bytes (%.2f per allocation)\n",
			       c.output, n, (long long)st.st_size,
			       n ? (double)st.st_size / (double)n : 0.0);
	}
	ct_source_close(&src);
	return rc;
}
