/*
 * verb_summary.c: coretool summary (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_summary(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "summary", "not implemented yet (see the open issues)");
}
