/* What /proc says about a process: its peak resident memory and the CPU it has used. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <sys/types.h>

/* VmHWM (the peak resident set since it started) in KiB, or -1 when unreadable. */
long bench_peak_rss_kib(pid_t pid);

/* utime + stime in seconds, or -1 when unreadable. */
double bench_cpu_seconds(pid_t pid);

#endif
