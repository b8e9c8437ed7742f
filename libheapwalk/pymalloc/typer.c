/*
 * typer.c: names the type of an allocation (placeholder: always unknown).
 */
#include "internal.h"

#include <stdlib.h>

struct hw_typer {
	hw_target *target;
};

int hw_typer_new(hw_typer **out, hw_target *t, hw_pymalloc *py)
{
	*out = calloc(1, sizeof **out);
	if (!*out)
		return hw_error_set(HW_ENOMEM, "out of memory");
	(*out)->target = t;
	return HW_OK;
}

const char *hw_typer_name(hw_typer *ty, const hw_alloc *a)
{
	return NULL;
}

void hw_typer_free(hw_typer *ty)
{
	free(ty);
}
