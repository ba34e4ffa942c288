/*
 * SRTP and SRTCP with AES-GCM (RFC 7714) on OpenSSL's EVP — see srtp_aead.h.
 *
 * Why not libsrtp for these profiles: as pylibsrtp builds it, every packet looks its
 * stream up in a list, re-runs OpenSSL's cipher initialisation through libsrtp's cipher
 * layer and sets the tag length again; a profile of the forwarder put libsrtp at a fifth
 * of the process. Here a session keys its four EVP contexts once and a packet only sets
 * its IV. Wire format and replay rules are libsrtp's (the tests compare bytes with it):
 *   - keys derived with the AES-CM PRF of RFC 3711 4.3 (key derivation rate 0), the
 *     12-byte salt padded to 14 as libsrtp does;
 *   - SRTP: IV = (00 00 | SSRC | ROC | SEQ) ^ salt, the header (with CSRCs and
 *     extensions) as AAD, the 16-byte tag after the payload; the index estimated as
 *     RFC 3711 Appendix A and libsrtp's rdbx do, a 1024-packet replay window (aiortc's
 *     setting); a sender may repeat a sequence number still in its window (aiortc's
 *     allow_repeat_tx), never send one older;
 *   - SRTCP: IV = (00 00 | SSRC | 00 00 | index) ^ salt, AAD = the 8-byte header and
 *     the E flag with the 31-bit index, which follows the tag; indices from 1, a
 *     128-packet replay window; an unencrypted (E = 0) packet is authenticated whole.
 * Streams are per SSRC, created on the first packet sent, or received and authentic;
 * at most MAX_STREAMS a session (a peer has a handful).
 */
#include "srtp_aead.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TAG_LENGTH 16
#define SALT_LENGTH 12
#define IV_LENGTH 12
#define RTP_WINDOW 1024
#define RTCP_WINDOW 128
#define MAX_STREAMS 64
#define SEQ_MEDIAN 32768
#define SEQ_MAX 65536
#define MAX_SRTCP_INDEX 0x7fffffffu
#define E_FLAG 0x80000000u

enum { FAIL = 1 }; /* any non-zero status: drop the packet */

typedef struct {
    uint32_t ssrc;
    uint64_t rtp_top; /* highest SRTP index (ROC << 16 | SEQ) accepted or sent */
    uint64_t rtp_seen[RTP_WINDOW / 64];
    uint64_t rtcp_top; /* highest SRTCP index received; sent: the last index used */
    uint64_t rtcp_seen[RTCP_WINDOW / 64];
} stream;

typedef struct {
    EVP_CIPHER_CTX *encrypt;
    EVP_CIPHER_CTX *decrypt;
    unsigned char salt[SALT_LENGTH];
} direction_keys;

struct srtp_aead {
    direction_keys rtp, rtcp;
    int count;
    uint32_t ssrcs[MAX_STREAMS]; /* scanned first: one cache line for a few streams */
    stream *streams[MAX_STREAMS];
};

/* ---------------------------------------------------------------- key derivation */

/* RFC 3711 4.3.1 with r = 0: AES-CM keystream under the master key, counter block
 * (salt padded to 14 bytes, label at byte 7) followed by a 16-bit block counter. */
static int derive(const EVP_CIPHER *ecb, const unsigned char *master_key,
                  const unsigned char *master_salt, unsigned char label, unsigned char *out,
                  size_t length) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx != NULL && EVP_EncryptInit_ex(ctx, ecb, NULL, master_key, NULL) == 1 &&
             EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
    for (size_t block = 0; ok && block * 16 < length; block++) {
        unsigned char counter[16] = {0}, keystream[32];
        memcpy(counter, master_salt, SALT_LENGTH);
        counter[7] ^= label;
        counter[14] = (unsigned char)(block >> 8);
        counter[15] = (unsigned char)block;
        int produced = 0;
        ok = EVP_EncryptUpdate(ctx, keystream, &produced, counter, 16) == 1 && produced == 16;
        if (ok) {
            size_t take = length - block * 16 < 16 ? length - block * 16 : 16;
            memcpy(out + block * 16, keystream, take);
        }
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static EVP_CIPHER_CTX *keyed(const EVP_CIPHER *gcm, const unsigned char *key, int encrypt) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return NULL;
    if (EVP_CipherInit_ex(ctx, gcm, NULL, key, NULL, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, IV_LENGTH, NULL) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int direction_init(direction_keys *keys, const EVP_CIPHER *ecb, const EVP_CIPHER *gcm,
                          const unsigned char *master_key, size_t key_length,
                          const unsigned char *master_salt, unsigned char key_label,
                          unsigned char salt_label) {
    unsigned char session_key[32];
    if (!derive(ecb, master_key, master_salt, key_label, session_key, key_length) ||
        !derive(ecb, master_key, master_salt, salt_label, keys->salt, SALT_LENGTH))
        return 0;
    keys->encrypt = keyed(gcm, session_key, 1);
    keys->decrypt = keyed(gcm, session_key, 0);
    memset(session_key, 0, sizeof(session_key));
    return keys->encrypt != NULL && keys->decrypt != NULL;
}

srtp_aead *srtp_aead_new(const unsigned char *master, size_t length) {
    const EVP_CIPHER *ecb, *gcm;
    size_t key_length = length - SALT_LENGTH;
    if (length == 16 + SALT_LENGTH) {
        ecb = EVP_aes_128_ecb();
        gcm = EVP_aes_128_gcm();
    } else if (length == 32 + SALT_LENGTH) {
        ecb = EVP_aes_256_ecb();
        gcm = EVP_aes_256_gcm();
    } else {
        return NULL;
    }
    srtp_aead *session = calloc(1, sizeof(srtp_aead));
    if (session == NULL)
        return NULL;
    const unsigned char *salt = master + key_length;
    if (!direction_init(&session->rtp, ecb, gcm, master, key_length, salt, 0, 2) ||
        !direction_init(&session->rtcp, ecb, gcm, master, key_length, salt, 3, 5)) {
        srtp_aead_free(session);
        return NULL;
    }
    return session;
}

void srtp_aead_free(srtp_aead *session) {
    if (session == NULL)
        return;
    EVP_CIPHER_CTX_free(session->rtp.encrypt);
    EVP_CIPHER_CTX_free(session->rtp.decrypt);
    EVP_CIPHER_CTX_free(session->rtcp.encrypt);
    EVP_CIPHER_CTX_free(session->rtcp.decrypt);
    for (int i = 0; i < session->count; i++)
        free(session->streams[i]);
    free(session);
}

/* ---------------------------------------------------------------------- streams */

static stream *find_stream(srtp_aead *session, uint32_t ssrc) {
    for (int i = 0; i < session->count; i++)
        if (session->ssrcs[i] == ssrc)
            return session->streams[i];
    return NULL;
}

static stream *add_stream(srtp_aead *session, uint32_t ssrc) {
    if (session->count == MAX_STREAMS)
        return NULL;
    stream *s = calloc(1, sizeof(stream));
    if (s == NULL)
        return NULL;
    s->ssrc = ssrc;
    s->rtcp_top = RTCP_WINDOW - 1; /* libsrtp's rdb: a window starting at index 0 */
    session->ssrcs[session->count] = ssrc;
    session->streams[session->count++] = s;
    return s;
}

/* ------------------------------------------------------------------ replay windows */

/* A ring of `size` bits, bit (index % size) for index; top is the highest index set. */
static int window_has(const uint64_t *bits, unsigned size, uint64_t index) {
    unsigned bit = (unsigned)(index % size);
    return (int)((bits[bit / 64] >> (bit % 64)) & 1);
}

static void window_add(uint64_t *bits, unsigned size, uint64_t *top, uint64_t index) {
    if (index > *top) {
        if (index - *top >= size) {
            memset(bits, 0, size / 8);
        } else {
            for (uint64_t i = *top + 1; i < index; i++) {
                unsigned bit = (unsigned)(i % size);
                bits[bit / 64] &= ~(1ULL << (bit % 64));
            }
            unsigned bit = (unsigned)(index % size);
            bits[bit / 64] &= ~(1ULL << (bit % 64));
        }
        *top = index;
    }
    unsigned bit = (unsigned)(index % size);
    bits[bit / 64] |= 1ULL << (bit % 64);
}

/* The packet index a sequence number stands for, next to the highest one so far
 * (libsrtp's srtp_rdbx_estimate_index): the difference, and the index in *index. */
static int64_t estimate_index(uint64_t top, uint16_t seq, uint64_t *index) {
    if (top <= SEQ_MEDIAN) { /* near the start the ROC is 0, never 0xffffffff */
        *index = seq;
        return (int64_t)seq - (int64_t)(uint16_t)top;
    }
    uint32_t roc = (uint32_t)(top >> 16), guess_roc = roc;
    int64_t local = (uint16_t)top, difference = (int64_t)seq - local;
    if (local < SEQ_MEDIAN) {
        if (seq - local > SEQ_MEDIAN) {
            guess_roc = roc - 1;
            difference = seq - local - SEQ_MAX;
        }
    } else if (local - SEQ_MEDIAN > seq) {
        guess_roc = roc + 1;
        difference = seq - local + SEQ_MAX;
    }
    *index = ((uint64_t)guess_roc << 16) | seq;
    return difference;
}

enum { NEW, REPEATED, TOO_OLD };

static int rtp_check(const stream *s, int64_t difference, uint64_t index) {
    if (difference > 0)
        return NEW;
    if (difference + RTP_WINDOW <= 0)
        return TOO_OLD;
    return window_has(s->rtp_seen, RTP_WINDOW, index) ? REPEATED : NEW;
}

/* ------------------------------------------------------------------------- GCM */

static inline uint32_t read32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void write32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Encrypt data[0:length] in place with aad, write the tag after it. */
static int seal(EVP_CIPHER_CTX *ctx, const unsigned char *iv, const unsigned char *aad,
                int aad_length, const unsigned char *aad2, int aad2_length,
                unsigned char *data, int length) {
    int produced;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &produced, aad, aad_length) != 1 ||
        (aad2_length && EVP_EncryptUpdate(ctx, NULL, &produced, aad2, aad2_length) != 1) ||
        (length && EVP_EncryptUpdate(ctx, data, &produced, data, length) != 1) ||
        EVP_EncryptFinal_ex(ctx, data + length, &produced) != 1)
        return 0;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LENGTH, data + length) == 1;
}

/* Decrypt data[0:length] in place if the tag after it is right. */
static int open_sealed(EVP_CIPHER_CTX *ctx, const unsigned char *iv, const unsigned char *aad,
                       int aad_length, const unsigned char *aad2, int aad2_length,
                       unsigned char *data, int length) {
    int produced;
    unsigned char tag[TAG_LENGTH];
    memcpy(tag, data + length, TAG_LENGTH);
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LENGTH, tag) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &produced, aad, aad_length) != 1 ||
        (aad2_length && EVP_DecryptUpdate(ctx, NULL, &produced, aad2, aad2_length) != 1) ||
        (length && EVP_DecryptUpdate(ctx, data, &produced, data, length) != 1))
        return 0;
    return EVP_DecryptFinal_ex(ctx, data + length, &produced) == 1;
}

/* --------------------------------------------------------------------- SRTP */

/* Length of the RTP header with CSRCs and extension, or -1 if it does not fit. */
static int rtp_header_length(const unsigned char *p, int length) {
    if (length < 12)
        return -1;
    int header = 12 + 4 * (p[0] & 0x0f);
    if (p[0] & 0x10) {
        if (header + 4 > length)
            return -1;
        header += 4 + 4 * ((p[header + 2] << 8) | p[header + 3]);
    }
    return header <= length ? header : -1;
}

static void rtp_iv(const direction_keys *keys, const unsigned char *header, uint64_t index,
                   unsigned char *iv) {
    iv[0] = iv[1] = 0;
    memcpy(iv + 2, header + 8, 4); /* SSRC */
    write32(iv + 6, (uint32_t)(index >> 16));
    iv[10] = header[2];
    iv[11] = header[3];
    for (int i = 0; i < IV_LENGTH; i++)
        iv[i] ^= keys->salt[i];
}

int srtp_aead_protect(void *context, void *packet, int *length) {
    srtp_aead *session = context;
    unsigned char *p = packet, iv[IV_LENGTH];
    int header = rtp_header_length(p, *length);
    if (header < 0)
        return FAIL;
    uint32_t ssrc = read32(p + 8);
    stream *s = find_stream(session, ssrc);
    if (s == NULL && (s = add_stream(session, ssrc)) == NULL)
        return FAIL;
    uint64_t index;
    int64_t difference = estimate_index(s->rtp_top, (uint16_t)(p[2] << 8 | p[3]), &index);
    int verdict = rtp_check(s, difference, index);
    if (verdict == TOO_OLD)
        return FAIL;
    if (verdict == NEW)
        window_add(s->rtp_seen, RTP_WINDOW, &s->rtp_top, index);
    rtp_iv(&session->rtp, p, index, iv);
    if (!seal(session->rtp.encrypt, iv, p, header, NULL, 0, p + header, *length - header))
        return FAIL;
    *length += TAG_LENGTH;
    return 0;
}

int srtp_aead_unprotect(void *context, void *packet, int *length) {
    srtp_aead *session = context;
    unsigned char *p = packet, iv[IV_LENGTH];
    int header = rtp_header_length(p, *length);
    if (header < 0 || *length - header < TAG_LENGTH)
        return FAIL;
    uint32_t ssrc = read32(p + 8);
    stream *s = find_stream(session, ssrc);
    uint64_t top = s != NULL ? s->rtp_top : 0;
    uint64_t index;
    int64_t difference = estimate_index(top, (uint16_t)(p[2] << 8 | p[3]), &index);
    if (s != NULL && rtp_check(s, difference, index) != NEW)
        return FAIL; /* replayed, or too old to tell */
    rtp_iv(&session->rtp, p, index, iv);
    int sealed = *length - header - TAG_LENGTH;
    if (!open_sealed(session->rtp.decrypt, iv, p, header, NULL, 0, p + header, sealed))
        return FAIL;
    if (s == NULL && (s = add_stream(session, ssrc)) == NULL)
        return FAIL;
    window_add(s->rtp_seen, RTP_WINDOW, &s->rtp_top, index);
    *length -= TAG_LENGTH;
    return 0;
}

/* -------------------------------------------------------------------- SRTCP */

#define RTCP_HEADER 8

static void rtcp_iv(const direction_keys *keys, const unsigned char *header, uint32_t index,
                    unsigned char *iv) {
    iv[0] = iv[1] = 0;
    memcpy(iv + 2, header + 4, 4); /* the sender's SSRC */
    iv[6] = iv[7] = 0;
    write32(iv + 8, index);
    for (int i = 0; i < IV_LENGTH; i++)
        iv[i] ^= keys->salt[i];
}

int srtp_aead_protect_rtcp(void *context, void *packet, int *length) {
    srtp_aead *session = context;
    unsigned char *p = packet, iv[IV_LENGTH], trailer[4];
    if (*length < RTCP_HEADER)
        return FAIL;
    uint32_t ssrc = read32(p + 4);
    stream *s = find_stream(session, ssrc);
    if (s == NULL && (s = add_stream(session, ssrc)) == NULL)
        return FAIL;
    /* a sender's index: the window's start in libsrtp's rdb, counting from 1 */
    uint64_t start = s->rtcp_top - (RTCP_WINDOW - 1);
    if (start >= MAX_SRTCP_INDEX)
        return FAIL; /* the key has protected all it may */
    uint32_t index = (uint32_t)start + 1;
    s->rtcp_top++;
    write32(trailer, E_FLAG | index);
    rtcp_iv(&session->rtcp, p, index, iv);
    int sealed = *length - RTCP_HEADER;
    if (!seal(session->rtcp.encrypt, iv, p, RTCP_HEADER, trailer, 4, p + RTCP_HEADER, sealed))
        return FAIL;
    memcpy(p + *length + TAG_LENGTH, trailer, 4);
    *length += TAG_LENGTH + 4;
    return 0;
}

int srtp_aead_unprotect_rtcp(void *context, void *packet, int *length) {
    srtp_aead *session = context;
    unsigned char *p = packet, iv[IV_LENGTH];
    if (*length < RTCP_HEADER + TAG_LENGTH + 4)
        return FAIL;
    const unsigned char *trailer = p + *length - 4;
    uint32_t word = read32(trailer), index = word & MAX_SRTCP_INDEX;
    uint32_t ssrc = read32(p + 4);
    stream *s = find_stream(session, ssrc);
    if (s != NULL) {
        if (index + (uint64_t)RTCP_WINDOW - 1 < s->rtcp_top)
            return FAIL; /* before the window: cannot tell, so refused */
        if (index <= s->rtcp_top && window_has(s->rtcp_seen, RTCP_WINDOW, index))
            return FAIL; /* replayed */
    }
    rtcp_iv(&session->rtcp, p, index, iv);
    int body = *length - RTCP_HEADER - TAG_LENGTH - 4;
    int ok;
    if (word & E_FLAG)
        ok = open_sealed(session->rtcp.decrypt, iv, p, RTCP_HEADER, trailer, 4,
                         p + RTCP_HEADER, body);
    else /* authenticated only: the whole packet is AAD */
        ok = open_sealed(session->rtcp.decrypt, iv, p, RTCP_HEADER + body, trailer, 4,
                         p + RTCP_HEADER + body, 0);
    if (!ok)
        return FAIL;
    if (s == NULL && (s = add_stream(session, ssrc)) == NULL)
        return FAIL;
    window_add(s->rtcp_seen, RTCP_WINDOW, &s->rtcp_top, index);
    *length -= TAG_LENGTH + 4;
    return 0;
}
