/* SPDX-License-Identifier: Apache-2.0 */
/* global.c: the storage of ma_g (global.h); init.c fills it. */
#include "global.h"

struct ma_global ma_g;
