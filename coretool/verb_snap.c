/*
 * verb_snap.c: coretool snap (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_snap(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "snap", "not implemented yet (see the open issues)");
}
