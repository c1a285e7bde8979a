/* SPDX-License-Identifier: Apache-2.0 */
/* stack_walk.c: the walks' one piece of process state, the library's own code. */
#include "stack_walk.h"

uintptr_t ma_stack_self_lo, ma_stack_self_hi;

void ma_stack_set_self(uintptr_t lo, uintptr_t hi)
{
	ma_stack_self_lo = lo;
	ma_stack_self_hi = hi;
}
