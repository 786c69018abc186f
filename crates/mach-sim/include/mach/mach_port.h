/*
 * <mach/mach_port.h> for the mach-sim simulated kernel: port calls.
 *
 * As on NextBSD the `task` argument is ignored: every call acts on the calling thread's current
 * simulated task. Semantics and return codes are the kernel's (XNU semantics for mod_refs,
 * insert_member, extract_member and destroy, which NextBSD's libmach stubs out).
 */
#ifndef _MACH_MACH_PORT_H_
#define _MACH_MACH_PORT_H_

#include <mach/mach_types.h>
#include <mach/message.h>

#ifdef __cplusplus
extern "C" {
#endif

extern kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right,
                                        mach_port_name_t *name);
extern kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name);
extern kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name);
extern kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name,
                                        mach_port_right_t right, mach_port_delta_t delta);
extern kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name,
                                            mach_port_t poly, mach_msg_type_name_t polyPoly);
extern kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member,
                                           mach_port_name_t after);
extern kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name,
                                             mach_port_name_t pset);
extern kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name,
                                              mach_port_name_t pset);
extern kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name,
                                                    mach_msg_id_t msgid, mach_port_mscount_t sync,
                                                    mach_port_t notify,
                                                    mach_msg_type_name_t notifyPoly,
                                                    mach_port_t *previous);
extern kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name,
                                    mach_port_type_t *ptype);
extern kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name,
                                        mach_port_right_t right, mach_port_urefs_t *refs);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_PORT_H_ */
