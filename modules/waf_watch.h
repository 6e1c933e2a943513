/* SPDX-License-Identifier: MIT */
/* Watching rule files for changes (inotify, debounced) and reloading; see waf_watch.c. */
#ifndef EP_WAF_WATCH_H
#define EP_WAF_WATCH_H

#include "waf.h"

typedef struct st_ep_waf_watch_t ep_waf_watch_t;

ep_waf_watch_t *ep_waf_watch_new(void);
/** Watches the rule files of `conf` (when conf->watch), replacing what was watched before. Control thread. */
void ep_waf_watch_update(ep_waf_watch_t *w, const ep_waf_conf_t *conf);
/** Stops the watcher thread and frees. Process exit only. */
void ep_waf_watch_free(ep_waf_watch_t *w);
void ep_waf_watch_counts(const ep_waf_watch_t *w, uint64_t *reloads, uint64_t *failures);

#endif
