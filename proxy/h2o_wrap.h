/* SPDX-License-Identifier: MIT */
/* The one place h2o.h is included: libh2o-evloop needs H2O_USE_LIBUV=0 before its headers, or it silently
 * compiles against libuv struct layouts (the build also defines it; this guards direct includes). */
#ifndef EP_H2O_WRAP_H
#define EP_H2O_WRAP_H
#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include <h2o.h>
#endif
