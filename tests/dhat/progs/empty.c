/* SPDX-License-Identifier: Apache-2.0 */
/* empty: allocates nothing; its profile has no program points at all. */
#include "dp.h"

int main(void)
{
	dp_report();
	return 0;
}
