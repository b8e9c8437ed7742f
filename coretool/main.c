/*
 * main.c: coretool's entry point: dispatches to one verb per file.
 */
#include "config.h"

#include "coretool.h"

#include <stdio.h>
#include <string.h>

static const ct_verb verbs[] = {
    {"info", ct_verb_info, "executable, pid, signal, threads, mappings, modules"},
    {"summary", ct_verb_summary, "totals per allocator, tracer presence, problems"},
    {"top", ct_verb_top, "allocations grouped and sorted by bytes"},
    {"diff", ct_verb_diff, "the same groups in two targets, sorted by growth"},
    {"snap", ct_verb_snap, "write a snapshot file (.hsnap)"},
    {"chunks", ct_verb_chunks, "one line per allocation"},
    {"show", ct_verb_show, "what holds an address"},
    {"check", ct_verb_check, "heap integrity; exit 1 when anything is wrong"},
    {"report", ct_verb_report, "a self-contained HTML report (offline forensics)"},
    {"trace", ct_verb_trace, "run a command under the companion tracer"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: coretool VERB [OPTIONS] TARGET...\n\n"
	           "A TARGET is a core file, a snapshot file (.hsnap) or --pid N.\n\n"
	           "verbs:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n'coretool VERB --help' for a verb's options; 'man coretool' for all.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		/* an error is one line (CONTRACT.md section 2) */
		fputs("coretool: no verb given (coretool --help lists them:", stderr);
		for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
			fprintf(stderr, "%s %s", i ? "," : "", verbs[i].name);
		fputs(")\n", stderr);
		return CT_EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		usage(stdout);
		return CT_EXIT_OK;
	}
	if (!strcmp(verb, "--version")) {
		printf("coretool (heapwalk) %s\n", PACKAGE_VERSION);
		return CT_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (!strcmp(verb, verbs[i].name))
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "coretool: %s: unknown verb (coretool --help lists them)\n", verb);
	return CT_EXIT_USAGE;
}
