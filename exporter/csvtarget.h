/*
 * csvtarget.h — calltrail-export csv --source target: the day's records
 * read from the target's partition (exporter/csvtarget.c).
 */
#ifndef CT_CSVTARGET_H
#define CT_CSVTARGET_H

#include "csvread.h"
#include "ct_target.h"

/*
 * Every object of r->day's partition (sessions/year=/month=/day=, its own
 * *.json.gz only) fetched, gunzipped and handed to csv_take on sh, then
 * csv_flush.  An object that is gone, not gzip or too large is reported
 * and counted unreadable; a failing target stops with its code.
 */
int csv_from_target(struct run *r, struct share *sh, struct ct_target *t, char *err);

#endif
