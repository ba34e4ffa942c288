/*
 * SRTP and SRTCP with AES-GCM (RFC 7714) on OpenSSL's EVP, for sfu._datapath.
 *
 * The four calls have libsrtp's shape, int f(session, packet, &length), 0 on success,
 * so the datapath calls them exactly as it calls libsrtp for other profiles. The packet
 * buffer must have SRTP_AEAD_MAX_TRAILER bytes of room after *length.
 */
#ifndef SFU_SRTP_AEAD_H
#define SFU_SRTP_AEAD_H

#include <stddef.h>

#define SRTP_AEAD_MAX_TRAILER 20 /* a 16-byte tag, and SRTCP's 4-byte E flag and index */

typedef struct srtp_aead srtp_aead;

/* master is the DTLS-exported master key then the 12-byte master salt: 28 bytes for
 * AEAD_AES_128_GCM, 44 for AEAD_AES_256_GCM. NULL if it is neither, or out of memory. */
srtp_aead *srtp_aead_new(const unsigned char *master, size_t length);
void srtp_aead_free(srtp_aead *session);

int srtp_aead_protect(void *session, void *packet, int *length);
int srtp_aead_unprotect(void *session, void *packet, int *length);
int srtp_aead_protect_rtcp(void *session, void *packet, int *length);
int srtp_aead_unprotect_rtcp(void *session, void *packet, int *length);

#endif
