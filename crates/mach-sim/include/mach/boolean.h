/*
 * <mach/boolean.h> for the mach-sim simulated kernel (hand-written; checked against mach-abi by
 * crates/c-abi-tests).
 */
#ifndef _MACH_BOOLEAN_H_
#define _MACH_BOOLEAN_H_

/* Mach boolean: unsigned int (NextBSD and Apple x86_64; Apple arm64 uses int, same size). */
typedef unsigned int boolean_t;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#endif /* _MACH_BOOLEAN_H_ */
