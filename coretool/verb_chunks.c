/*
 * verb_chunks.c: coretool chunks (placeholder until its issue lands).
 */
#include "config.h"

#include "coretool.h"

int ct_verb_chunks(int argc, char **argv)
{
	return ct_error(CT_EXIT_USAGE, "chunks", "not implemented yet (see the open issues)");
}
