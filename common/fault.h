/* Crash points for tests: in a build configured with -DUSHER_FAULTS=ON, a process whose
 * environment has USHER_FAULT=<name> kills itself with SIGKILL on reaching the point of
 * that name, as a power cut would, so tests can prove recovery. Compiled out otherwise.
 *
 * Points are named "<area>.<step>" (accept.after_claim) or, for the steps every RPC
 * method has, "<Method>.<step>" with the method's short name:
 *   <Method>.before_commit  its change is written, not committed (idempotent methods)
 *   <Method>.before_reply   its change is committed, the reply not sent
 * tests/crash_matrix_test.c kills each daemon at each of them; docs/reliability.md has the
 * list. */
#ifndef US_FAULT_H
#define US_FAULT_H

#ifdef USHER_FAULTS
void us_fault_point(const char *name);
/* The point "<short name of method>.<step>"; method as "usher.v1.Service/Method". */
void us_fault_point_method(const char *method, const char *step);
#else
#define us_fault_point(name) ((void)(name))
#define us_fault_point_method(method, step) ((void)(method), (void)(step))
#endif

#endif
