/* base64.c: base64url over OpenSSL's base64 (EVP_EncodeBlock, EVP_DecodeBlock): the alphabet's two
 * differing characters are swapped and the padding dropped or restored. */
#include "levee/base64.h"

#include "levee/crypto.h"

#include <string.h>

void lv_base64url(const unsigned char *data, size_t len, lv_buf *out)
{
    size_t need = 4 * ((len + 2) / 3);
    lv_buf_reserve(out, need + 1);
    char *p = out->data + out->len;
    int n = lv_crypto()->EVP_EncodeBlock((unsigned char *)p, data, (int)len);
    while (n > 0 && p[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        p[i] = p[i] == '+' ? '-' : p[i] == '/' ? '_' : p[i];
    out->len += (size_t)n;
    out->data[out->len] = '\0';
}

bool lv_base64url_decode(const char *text, size_t len, lv_buf *out)
{
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return false;
    size_t padded = (len + 3) / 4 * 4;
    unsigned char *std = lv_xmalloc(padded + 1);
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(std);
            return false;
        }
        std[i] = (unsigned char)c;
    }
    for (size_t i = len; i < padded; i++)
        std[i] = '=';
    lv_buf_reserve(out, padded / 4 * 3 + 1);
    int n = padded ? lv_crypto()->EVP_DecodeBlock((unsigned char *)out->data + out->len, std, (int)padded) : 0;
    free(std);
    if (n < 0)
        return false;
    /* EVP_DecodeBlock counts the bytes the padding stands for: take them off */
    n -= (int)(padded - len);
    out->len += (size_t)n;
    out->data[out->len] = '\0';
    return true;
}
