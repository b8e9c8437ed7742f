/*
 * verb_show.c: coretool show TARGET ADDRESS: what holds ADDRESS.
 */
#include "config.h"

#include "coretool.h"

#include <errno.h>
#include <stdlib.h>

static const ct_view_verb verb = {
    .name = "show",
    .accept = HW_VOPT_FORMAT | HW_VOPT_FRAMES,
    .synopsis = "[OPTIONS] TARGET ADDRESS",
    .description = "What holds ADDRESS (hex, 0x optional, or decimal with 0d): the allocator, the\n"
                   "chunk or block bounds, state, usable size, type, site and a hex dump of its\n"
                   "first bytes (not from a snapshot file: it holds no memory contents).\n",
    .min_args = 2,
    .max_args = 2,
};

static int parse_address(const char *s, uint64_t *out)
{
	char *end;
	int base = 16;
	if (s[0] == '0' && s[1] == 'd') {
		base = 10;
		s += 2;
	}
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int ct_verb_show(int argc, char **argv)
{
	hw_view_options vo;
	ct_common c = {0};
	char **args;
	int nargs;
	hw_view_options_init(&vo);
	int rc = ct_view_parse(&verb, argc, argv, &vo, &c, &args, &nargs);
	if (rc >= 0)
		return rc;
	uint64_t addr;
	const char *astr = args[nargs - 1];
	if (parse_address(astr, &addr))
		return ct_usage_error(verb.name, "'%s' is not an address", astr);
	ct_source src;
	rc = ct_source_open(&src, &c, c.pid ? NULL : args[0], 1);
	if (rc)
		return rc;
	FILE *f = ct_output_open(&c);
	if (!f) {
		ct_source_close(&src);
		return CT_EXIT_USAGE;
	}
	rc = hw_render_show(f, src.snap, src.target, addr, &vo) ? ct_render_failed(verb.name)
	                                                        : CT_EXIT_OK;
	ct_source_close(&src);
	int wrc = ct_output_close(&c, f);
	return rc ? rc : wrc;
}
