/*
 * verb_diff.c: coretool diff (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_diff(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "diff", "not implemented yet (see the open issues)");
}
