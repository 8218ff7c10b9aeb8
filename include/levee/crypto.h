/* levee/crypto.h (stage: common): the OpenSSL libcrypto functions levee calls (hashing for duplicate detection and
 * Caliper ids, base64, JWT signatures, webhook signatures), loaded when first needed. Linked in, libcrypto (and the
 * compression libraries it brings) is loaded and relocated by every levee command, which costs a
 * `levee query` ~2 ms of its start on a virtual machine while it hashes nothing (levee/dynlib.h).
 * Code calls them as lv_crypto()->EVP_name(...), after lv_crypto_load has succeeded. */
#ifndef LEVEE_CRYPTO_H
#define LEVEE_CRYPTO_H

#include "levee/dynlib.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#define LV_CRYPTO_FUNCTIONS(X)                                                                             \
    X(BIO_free) X(BIO_new_mem_buf) X(BN_bin2bn) X(BN_bn2bin) X(BN_free) X(BN_num_bits) X(CRYPTO_memcmp)   \
    X(ERR_clear_error) X(ERR_peek_last_error) X(ERR_reason_error_string) X(EVP_DecodeBlock) X(EVP_Digest)  \
    X(EVP_DigestFinal_ex) X(EVP_DigestInit_ex) X(EVP_DigestSign) X(EVP_DigestSignInit) X(EVP_DigestUpdate) \
    X(EVP_DigestVerify) X(EVP_DigestVerifyInit) X(EVP_EncodeBlock) X(EVP_MD_CTX_free) X(EVP_MD_CTX_new)    \
    X(EVP_PKEY_CTX_free) X(EVP_PKEY_CTX_new_from_name) X(EVP_PKEY_free) X(EVP_PKEY_fromdata)               \
    X(EVP_PKEY_fromdata_init) X(EVP_PKEY_get_base_id) X(EVP_PKEY_get_bits) X(EVP_PKEY_get_bn_param)        \
    X(EVP_PKEY_get_size) X(EVP_sha1) X(EVP_sha256) X(HMAC) X(OSSL_PARAM_BLD_free) X(OSSL_PARAM_BLD_new)            \
    X(OSSL_PARAM_BLD_push_BN) X(OSSL_PARAM_BLD_to_param) X(OSSL_PARAM_free) X(PEM_read_bio_PrivateKey)

typedef struct lv_crypto_api {
    LV_CRYPTO_FUNCTIONS(LV_DYNLIB_SLOT)
} lv_crypto_api;

/* Loads libcrypto (once per process, thread-safe). Commands call it where they start, to report a
 * missing library as an error; on failure it says which Debian package to install. */
lv_status lv_crypto_load(lv_error *err);

/* The table. Every public function that reaches libcrypto calls lv_crypto_load first and returns its
 * error (a library function never exits the process), so calling this before a successful load is a
 * bug in levee: it says so on stderr and aborts. */
const lv_crypto_api *lv_crypto(void);

#endif
