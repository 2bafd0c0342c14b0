/* turn.c - TURN REST API credentials; see turn.h. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "turn.h"

int turn_username(char *out, size_t cap, uint64_t expiry, const uint8_t peer_id[20])
{
    char hex[41];
    int n;
    sodium_bin2hex(hex, sizeof hex, peer_id, 20);
    n = snprintf(out, cap, "%llu:%s", (unsigned long long)expiry, hex);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int turn_credential(char *out, size_t cap, const char *secret, size_t secret_len,
                    const char *username)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (secret_len > 0x7fffffff ||
        !HMAC(EVP_sha1(), secret, (int)secret_len, (const unsigned char *)username,
              strlen(username), md, &md_len) ||
        md_len != 20 || cap < sodium_base64_ENCODED_LEN(20, sodium_base64_VARIANT_ORIGINAL))
        return -1;
    sodium_bin2base64(out, cap, md, md_len, sodium_base64_VARIANT_ORIGINAL);
    return (int)strlen(out);
}

int turn_url_ok(const char *url)
{
    size_t n = strlen(url);
    if (n == 0 || n >= TURN_URL_MAX)
        return 0;
    if (strncmp(url, "turn:", 5) && strncmp(url, "turns:", 6) && strncmp(url, "stun:", 5))
        return 0;
    for (size_t k = 0; k < n; k++)
        if (url[k] < 0x21 || url[k] > 0x7e || url[k] == '"' || url[k] == '\\')
            return 0;
    return 1;
}

int turn_write_servers(char *buf, size_t cap, const char *const *urls, unsigned n_urls,
                       const char *username, const char *credential)
{
    size_t len = 0;
    int n = snprintf(buf, cap, "[{\"urls\":[");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    len = (size_t)n;
    for (unsigned k = 0; k < n_urls; k++) {
        n = snprintf(buf + len, cap - len, "%s\"%s\"", k ? "," : "", urls[k]);
        if (n < 0 || (size_t)n >= cap - len)
            return -1;
        len += (size_t)n;
    }
    n = snprintf(buf + len, cap - len, "],\"username\":\"%s\",\"credential\":\"%s\"}]", username,
                 credential);
    if (n < 0 || (size_t)n >= cap - len)
        return -1;
    return (int)(len + (size_t)n);
}

int turn_write_reply(char *buf, size_t cap, const char *const *urls, unsigned n_urls,
                     const char *username, const char *credential, unsigned ttl)
{
    int n = snprintf(buf, cap, "{\"iceServers\":"), m;
    if (n < 0 || (size_t)n >= cap)
        return -1;
    m = turn_write_servers(buf + n, cap - (size_t)n, urls, n_urls, username, credential);
    if (m < 0)
        return -1;
    n += m;
    m = snprintf(buf + n, cap - (size_t)n, ",\"ttl\":%u}", ttl);
    if (m < 0 || (size_t)m >= cap - (size_t)n)
        return -1;
    return n + m;
}
