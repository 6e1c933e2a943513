/* SPDX-License-Identifier: MIT */
/* Self-contained MD5 (RFC 1321) and SHA-1 (FIPS 180-1) for t:md5 and t:sha1, which yield the raw
 * binary digest like ModSecurity does. Small and unoptimised: CRS only hashes short values. */
#include "transform/tf_internal.h"

#include <stdint.h>

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* Feeds a message through a 64-byte block function with MD-style padding; the length is appended
 * big- or little-endian. */
typedef void (*block_fn)(uint32_t *state, const unsigned char *block);

static void md_hash(const unsigned char *data, size_t len, uint32_t *state, block_fn block, int big_endian_len)
{
    size_t full = len / 64 * 64;
    for (size_t off = 0; off < full; off += 64)
        block(state, data + off);
    unsigned char tail[128];
    size_t rest = len - full;
    memset(tail, 0, sizeof(tail));
    if (rest != 0)
        memcpy(tail, data + full, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int k = 0; k < 8; k++) {
        unsigned char b = (unsigned char)(bits >> (8 * k));
        if (big_endian_len)
            tail[tail_len - 1 - k] = b;
        else
            tail[tail_len - 8 + k] = b;
    }
    for (size_t off = 0; off < tail_len; off += 64)
        block(state, tail + off);
}

static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af,
    0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97,
    0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const unsigned char md5_shift[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

static void md5_block(uint32_t *st, const unsigned char *p)
{
    uint32_t m[16];
    for (int k = 0; k < 16; k++)
        m[k] = (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 | (uint32_t)p[4 * k + 2] << 16 | (uint32_t)p[4 * k + 3] << 24;
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int k = 0; k < 64; k++) {
        uint32_t f;
        int g, round = k / 16;
        if (round == 0) {
            f = (b & c) | (~b & d);
            g = k;
        } else if (round == 1) {
            f = (d & b) | (~d & c);
            g = (5 * k + 1) % 16;
        } else if (round == 2) {
            f = b ^ c ^ d;
            g = (3 * k + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * k) % 16;
        }
        uint32_t next = b + rotl32(a + f + md5_k[k] + m[g], md5_shift[round * 4 + k % 4]);
        a = d;
        d = c;
        c = b;
        b = next;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void rs_md5(const void *data, size_t len, unsigned char digest[16])
{
    uint32_t st[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    md_hash(data, len, st, md5_block, 0);
    for (int k = 0; k < 16; k++)
        digest[k] = (unsigned char)(st[k / 4] >> (8 * (k % 4)));
}

static void sha1_block(uint32_t *st, const unsigned char *p)
{
    uint32_t w[80];
    for (int k = 0; k < 16; k++)
        w[k] = (uint32_t)p[4 * k] << 24 | (uint32_t)p[4 * k + 1] << 16 | (uint32_t)p[4 * k + 2] << 8 | (uint32_t)p[4 * k + 3];
    for (int k = 16; k < 80; k++)
        w[k] = rotl32(w[k - 3] ^ w[k - 8] ^ w[k - 14] ^ w[k - 16], 1);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
    for (int k = 0; k < 80; k++) {
        uint32_t f, kc;
        if (k < 20) {
            f = (b & c) | (~b & d);
            kc = 0x5a827999;
        } else if (k < 40) {
            f = b ^ c ^ d;
            kc = 0x6ed9eba1;
        } else if (k < 60) {
            f = (b & c) | (b & d) | (c & d);
            kc = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            kc = 0xca62c1d6;
        }
        uint32_t t = rotl32(a, 5) + f + e + kc + w[k];
        e = d;
        d = c;
        c = rotl32(b, 30);
        b = a;
        a = t;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
}

void rs_sha1(const void *data, size_t len, unsigned char digest[20])
{
    uint32_t st[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    md_hash(data, len, st, sha1_block, 1);
    for (int k = 0; k < 20; k++)
        digest[k] = (unsigned char)(st[k / 4] >> (24 - 8 * (k % 4)));
}

int rs_tf_md5(rs_str_t in, rs_buf_t *out)
{
    unsigned char *d = rs_tf_begin(out, 16);
    rs_md5(in.base, in.len, d);
    return rs_tf_finish(in, out, 16);
}

int rs_tf_sha1(rs_str_t in, rs_buf_t *out)
{
    unsigned char *d = rs_tf_begin(out, 20);
    rs_sha1(in.base, in.len, d);
    return rs_tf_finish(in, out, 20);
}
