/*
 * snapshot.c: the snapshot model (placeholder).
 */
#include "internal.h"

int hw_snapshot_take(hw_snapshot **out, hw_target *t)
{
	*out = NULL;
	return hw_error_set(HW_EUNSUPPORTED, "snapshots not built yet");
}

int hw_snapshot_load(hw_snapshot **out, const char *path)
{
	*out = NULL;
	return hw_error_set(HW_EUNSUPPORTED, "snapshots not built yet");
}

int hw_snapshot_save(const hw_snapshot *s, const char *path)
{
	return hw_error_set(HW_EUNSUPPORTED, "snapshots not built yet");
}

void hw_snapshot_free(hw_snapshot *s)
{
}

int hw_snapshot_file_is_hsnap(const char *path)
{
	return 0;
}
