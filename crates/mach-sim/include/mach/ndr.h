/*
 * <mach/ndr.h> for the mach-sim simulated kernel: the 8-byte NDR record MIG writes after the
 * header. NDR_record is exported by the mach-sim static library.
 */
#ifndef _MACH_NDR_H_
#define _MACH_NDR_H_

typedef struct {
	unsigned char mig_vers;
	unsigned char if_vers;
	unsigned char reserved1;
	unsigned char mig_encoding;
	unsigned char int_rep;
	unsigned char char_rep;
	unsigned char float_rep;
	unsigned char reserved2;
} NDR_record_t;

#define NDR_PROTOCOL_2_0 0
#define NDR_INT_BIG_ENDIAN 0
#define NDR_INT_LITTLE_ENDIAN 1
#define NDR_FLOAT_IEEE 0
#define NDR_CHAR_ASCII 0

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes 00 00 00 00 01 00 00 00: little-endian integers, ASCII, IEEE floats. Read-only. */
extern NDR_record_t NDR_record;

#ifdef __cplusplus
}
#endif

#endif /* _MACH_NDR_H_ */
