/*
 * options.c: the view options every front end shares (coretool verbs, the
 * gdb and lldb commands): parsing them out of an argv, and their --help.
 *
 * Invariant: a front end that passes the same argv gets the same
 * hw_view_options, so it prints the same bytes.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const key_names[] = {
    [HW_GROUP_DEFAULT] = "default", [HW_GROUP_ALLOCATOR] = "allocator",
    [HW_GROUP_SIZE] = "size",       [HW_GROUP_TYPE] = "type",
    [HW_GROUP_SITE] = "site",       [HW_GROUP_FUNCTION] = "function",
    [HW_GROUP_LINENO] = "lineno",   [HW_GROUP_FILENAME] = "filename",
    [HW_GROUP_MODULE] = "module",   [HW_GROUP_ARENA] = "arena",
};

const char *hw_group_key_name(hw_group_key k)
{
	return (unsigned)k < HW_ARRAY_SIZE(key_names) ? key_names[k] : "?";
}

void hw_view_options_init(hw_view_options *o)
{
	memset(o, 0, sizeof *o);
	o->format = HW_FORMAT_TEXT;
	o->group_by = HW_GROUP_DEFAULT;
	o->states = 1u << HW_STATE_USED;
	o->limit = 10;
	o->allocator = -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* "1024", "64KiB", "2M", "1.5GiB", "10MB" */
int hw_bytes_parse(const char *s, uint64_t *out)
{
	char *end;
	if (!*s || *s == '-')
		return HW_EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return HW_EINVAL;
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
	    {"", 1},
	    {"B", 1},
	    {"K", 1024.0},
	    {"KB", 1e3},
	    {"KiB", 1024.0},
	    {"M", 1048576.0},
	    {"MB", 1e6},
	    {"MiB", 1048576.0},
	    {"G", 1073741824.0},
	    {"GB", 1e9},
	    {"GiB", 1073741824.0},
	    {"T", 1099511627776.0},
	    {"TB", 1e12},
	    {"TiB", 1099511627776.0},
	};
	for (size_t i = 0; i < HW_ARRAY_SIZE(units); i++)
		if (!strcasecmp(end, units[i].suffix)) {
			double b = v * units[i].mult;
			if (b > 1.8e19)
				return HW_EINVAL;
			*out = (uint64_t)(b + 0.5);
			return 0;
		}
	return HW_EINVAL;
}

struct vopt {
	const char *name;
	unsigned group; /* HW_VOPT_* */
	int has_arg;
	int id;
};

enum {
	O_FORMAT,
	O_GROUP_BY,
	O_STATE,
	O_LIMIT,
	O_FRAMES,
	O_INCLUDE,
	O_EXCLUDE,
	O_ALL_FRAMES,
	O_NO_DEFAULT_FILTERS,
	O_MAX_GROWTH,
	O_ALLOCATOR,
	O_MIN_SIZE,
};

static const struct vopt vopts[] = {
    {"format", HW_VOPT_FORMAT, 1, O_FORMAT},
    {"group-by", HW_VOPT_GROUP_BY, 1, O_GROUP_BY},
    {"state", HW_VOPT_STATE, 1, O_STATE},
    {"limit", HW_VOPT_LIMIT, 1, O_LIMIT},
    {"frames", HW_VOPT_FRAMES, 1, O_FRAMES},
    {"include", HW_VOPT_FILTERS, 1, O_INCLUDE},
    {"exclude", HW_VOPT_FILTERS, 1, O_EXCLUDE},
    {"all-frames", HW_VOPT_FILTERS, 0, O_ALL_FRAMES},
    {"no-default-filters", HW_VOPT_FILTERS, 0, O_NO_DEFAULT_FILTERS},
    {"max-growth", HW_VOPT_MAX_GROWTH, 1, O_MAX_GROWTH},
    {"allocator", HW_VOPT_CHUNKS, 1, O_ALLOCATOR},
    {"min-size", HW_VOPT_CHUNKS, 1, O_MIN_SIZE},
};

static int bad(const char *opt, const char *val, const char *what)
{
	return hw_error_set(HW_EINVAL, "--%s: '%s' is not %s", opt, val, what);
}

static int apply(hw_view_options *o, const struct vopt *v, const char *arg)
{
	uint64_t u;
	switch (v->id) {
	case O_FORMAT:
		if (!strcmp(arg, "text"))
			o->format = HW_FORMAT_TEXT;
		else if (!strcmp(arg, "json"))
			o->format = HW_FORMAT_JSON;
		else if (!strcmp(arg, "csv"))
			o->format = HW_FORMAT_CSV;
		else
			return bad(v->name, arg, "text, json or csv");
		return 0;
	case O_GROUP_BY:
		for (size_t k = 1; k < HW_ARRAY_SIZE(key_names); k++)
			if (!strcmp(arg, key_names[k])) {
				o->group_by = (hw_group_key)k;
				return 0;
			}
		return bad(v->name, arg,
		           "one of allocator, size, type, site, function, lineno, filename, "
		           "module, arena");
	case O_STATE:
		if (!strcmp(arg, "used"))
			o->states = 1u << HW_STATE_USED;
		else if (!strcmp(arg, "free"))
			o->states = 1u << HW_STATE_FREE;
		else if (!strcmp(arg, "all"))
			o->states = (1u << HW_STATE_USED) | (1u << HW_STATE_FREE);
		else
			return bad(v->name, arg, "used, free or all");
		return 0;
	case O_LIMIT:
		if (parse_u64(arg, &u))
			return bad(v->name, arg, "a count (0 for no limit)");
		o->limit = u;
		return 0;
	case O_FRAMES:
		if (parse_u64(arg, &u) || u > HW_SITE_MAX_FRAMES)
			return bad(v->name, arg, "a frame count from 0 (all) to 256");
		o->frames = (uint32_t)u;
		return 0;
	case O_INCLUDE:
	case O_EXCLUDE:
		if (o->n_filters >= HW_VIEW_MAX_FILTERS)
			return hw_error_set(HW_EINVAL, "--%s: at most %d filters", v->name,
			                    HW_VIEW_MAX_FILTERS);
		o->filters[o->n_filters++] = (hw_filter){arg, v->id == O_INCLUDE};
		return 0;
	case O_ALL_FRAMES:
		o->all_frames = 1;
		return 0;
	case O_NO_DEFAULT_FILTERS:
		o->no_default_filters = 1;
		return 0;
	case O_MAX_GROWTH:
		if (hw_bytes_parse(arg, &u))
			return bad(v->name, arg, "a byte count (1048576, 64KiB, 10MiB)");
		o->has_max_growth = 1;
		o->max_growth = u;
		return 0;
	case O_ALLOCATOR:
		if (!strcmp(arg, "glibc"))
			o->allocator = HW_ALLOCATOR_GLIBC;
		else if (!strcmp(arg, "glibc-mmap"))
			o->allocator = HW_ALLOCATOR_GLIBC_MMAP;
		else if (!strcmp(arg, "pymalloc"))
			o->allocator = HW_ALLOCATOR_PYMALLOC;
		else
			return bad(v->name, arg, "glibc, glibc-mmap or pymalloc");
		return 0;
	case O_MIN_SIZE:
		if (hw_bytes_parse(arg, &u))
			return bad(v->name, arg, "a byte count");
		o->min_size = u;
		return 0;
	}
	return 0;
}

int hw_view_options_parse(hw_view_options *o, unsigned accept, int *argc, char **argv)
{
	/* argv stays a permutation of itself (callers may free its strings by
	 * index): the arguments kept go first, the options taken after them */
	int n = *argc;
	char **taken = malloc((size_t)(n > 0 ? n : 1) * sizeof *taken);
	if (!taken)
		return hw_error_set(HW_ENOMEM, "out of memory");
	int out = 1, nt = 0, i = 1, rc = HW_OK;
	for (; i < n; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		const struct vopt *v = NULL;
		const char *val = NULL;
		if (a[0] == '-' && a[1] == '-') {
			const char *name = a + 2;
			size_t len = strcspn(name, "=");
			for (size_t k = 0; k < HW_ARRAY_SIZE(vopts); k++)
				if ((vopts[k].group & accept) && strlen(vopts[k].name) == len &&
				    !strncmp(vopts[k].name, name, len)) {
					v = &vopts[k];
					break;
				}
			if (v && name[len] == '=')
				val = name + len + 1;
		}
		if (!v) {
			argv[out++] = a;
			continue;
		}
		taken[nt++] = a;
		if (v->has_arg && !val) {
			if (i + 1 >= n) {
				rc = hw_error_set(HW_EINVAL, "--%s needs a value", v->name);
				break;
			}
			val = argv[++i];
			taken[nt++] = argv[i];
		} else if (!v->has_arg && val) {
			rc = hw_error_set(HW_EINVAL, "--%s takes no value", v->name);
			break;
		}
		rc = apply(o, v, val);
		if (rc)
			break;
	}
	if (rc) {
		/* keep argv a permutation on failure too */
		for (i++; i < n; i++)
			argv[out++] = argv[i];
	} else {
		for (; i < n; i++)
			argv[out++] = argv[i];
	}
	int kept = out;
	for (int k = 0; k < nt; k++)
		argv[out++] = taken[k];
	free(taken);
	if (!rc)
		*argc = kept;
	return rc;
}

void hw_view_options_help(FILE *f, unsigned accept)
{
	if (accept & HW_VOPT_GROUP_BY)
		fprintf(f, "  --group-by KEY      allocator, size, type, site, function, lineno, "
		           "filename,\n"
		           "                      module or arena (default: site with a tracer, "
		           "else type)\n");
	if (accept & HW_VOPT_STATE)
		fprintf(f,
		        "  --state S           used, free or all (top, diff: used; chunks: all)\n");
	if (accept & HW_VOPT_LIMIT)
		fprintf(f, "  --limit N           groups shown (default 10, report 20 a table; 0 "
		           "shows all)\n");
	if (accept & HW_VOPT_FRAMES)
		fprintf(f, "  --frames N          keep the N innermost frames of each stack before "
		           "grouping\n");
	if (accept & HW_VOPT_FILTERS)
		fprintf(
		    f,
		    "  --include GLOB      keep only allocations whose innermost frame's file "
		    "matches\n"
		    "  --exclude GLOB      drop allocations whose innermost frame's file matches\n"
		    "  --all-frames        --include/--exclude match any frame of the stack\n"
		    "  --no-default-filters  keep CPython's importlib frames and the tracer's "
		    "own\n");
	if (accept & HW_VOPT_MAX_GROWTH)
		fprintf(f, "  --max-growth BYTES  exit 1 when the total growth exceeds BYTES "
		           "(64KiB, 10MiB)\n");
	if (accept & HW_VOPT_CHUNKS)
		fprintf(f, "  --allocator A       glibc, glibc-mmap or pymalloc\n"
		           "  --min-size N        only allocations of at least N bytes\n");
	if (accept & HW_VOPT_FORMAT)
		fprintf(f, "  --format F          text (default), json or csv\n");
}

int hw_args_take(int *argc, char **argv, const char *name, const char **value)
{
	size_t nl = strlen(name);
	int n = 1, found = 0;
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[n++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], name)) {
			if (i + 1 >= *argc)
				return hw_error_set(HW_EINVAL, "%s needs a value", name);
			*value = argv[++i];
			found = 1;
			continue;
		}
		if (!strncmp(argv[i], name, nl) && argv[i][nl] == '=') {
			*value = argv[i] + nl + 1;
			found = 1;
			continue;
		}
		argv[n++] = argv[i];
	}
	*argc = n;
	return found;
}
