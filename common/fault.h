/* Crash points for tests: in a build configured with -DUSHER_FAULTS=ON, a process whose
 * environment has USHER_FAULT=<name> kills itself with SIGKILL on reaching the point of
 * that name, as a power cut would, so tests can prove recovery. Compiled out otherwise. */
#ifndef US_FAULT_H
#define US_FAULT_H

#ifdef USHER_FAULTS
void us_fault_point(const char *name);
#else
#define us_fault_point(name) ((void)(name))
#endif

#endif
