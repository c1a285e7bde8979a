/* SPDX-License-Identifier: Apache-2.0 */
/* state_read.c: reads a process's state file (state.h).  Interface stub: the reader follows. */
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int mt_state_dir(char *dir, size_t cap)
{
	(void)dir;
	(void)cap;
	return -ENOSYS;
}

int mt_state_find(pid_t pid, char *path, size_t cap)
{
	(void)pid;
	(void)path;
	(void)cap;
	return -ENOSYS;
}

int mt_state_list(bool live, struct mt_state_entry **out)
{
	(void)live;
	*out = NULL;
	return -ENOSYS;
}

void mt_state_list_free(struct mt_state_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].path);
	free(e);
}

bool mt_state_running(pid_t pid, uint64_t start_ns)
{
	(void)pid;
	(void)start_ns;
	return false;
}

int mt_state_load_info(const char *path, bool live, struct mt_report **out,
		struct mt_state_info *info, char *err, size_t cap)
{
	(void)live;
	(void)info;
	*out = NULL;
	snprintf(err, cap, "%s: reading state files is not implemented yet", path);
	return -1;
}

int mt_state_load(const char *path, bool live, struct mt_report **out, char *err, size_t cap)
{
	return mt_state_load_info(path, live, out, NULL, err, cap);
}

void mt_state_info_free(struct mt_state_info *info)
{
	if (!info)
		return;
	free(info->cwd);
	free(info->cmd);
	free(info->out_template);
	free(info->dhat_template);
}
