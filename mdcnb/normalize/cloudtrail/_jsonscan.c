/* Native reader of a CloudTrail log file's text: the fields the counts need, column-wise, in one pass.

   `Scanner().scan(text)` walks `{"Records":[...]}` or a bare array as CloudTrail writes it (compact JSON,
   UTF-8) and returns, per record, a code for each text field (FIELDS in columns.py: codes index one list
   of distinct texts, 0 is None and 1 is ""; a `Scanner` keeps that list across the files it reads, so the files of
   one task share their codes), its size as delivered, its eventID (hashed when it has the 36 characters of a UUID,
   else where it is) and its readOnly flag. `uuid_hashes` hashes such ids for the general path, so both paths share
   one hash. `IdSet` holds such hashes for de-duplication, within a task and across tasks. `groups` numbers the
   int64 keys the counts group records by (columns.group_rows).

   It is a fast path, not a second reader: it reads only what it can read exactly as the strict msgspec reader
   (fallback.py) would. UTF-8 text is validated wherever it is (and kept as is), escapes
   (surrogate pairs too) are checked wherever they are and decoded only in the keys and fields it reads. A record
   it cannot read (a missing or differently typed field, a duplicate known key, a byte string that is not UTF-8,
   an escape in the eventID or the hour of eventTime) but that is valid JSON is validated again and handed back as
   a span of the text for the general path to read (`odd`); a text that is not valid JSON (RFC 8259), has
   whitespace between tokens or nests deeper than MAX_DEPTH gives None, and the caller reads the whole file with
   the general path. Skipped values are validated in full, never trusted. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Text fields, in the order of mdcnb.normalize.cloudtrail.columns.FIELDS. */
enum { F_HOUR, F_VERSION, F_ACCOUNT, F_REGION, F_SOURCE, F_NAME, F_ISSUER, F_IDENTITY_ARN, F_PRINCIPAL,
       F_IDENTITY_ACCOUNT, F_ROLE_ARN, F_SESSION, NFIELDS };
enum { TOKEN_NONE, TOKEN_EMPTY, FIRST_TOKEN };
enum { OK = 0, BAIL = -1, NO_MEMORY = -2, PY_ERROR = -3 /* a Python exception is set */ };
#define MAX_DEPTH 64
#define HOUR_CHARS 13 /* YYYY-MM-DDTHH */
#define UUID_CHARS 36
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* How a known key's value is read. */
enum { K_NULLABLE, K_TEXT, K_HOUR, K_ID, K_BOOL, K_IDENTITY, K_CONTEXT, K_ISSUER, K_PARAMS };
typedef struct { const char *name; size_t len; int kind; int slot; } Key;
#define KEY(name, kind, slot) {name, sizeof(name) - 1, kind, slot}

/* A level's keys and, per name length, the bit set of those with that length (filled in by index_keys). */
#define MAX_KEY_CHARS 32
typedef struct { const Key *keys; uint16_t by_len[MAX_KEY_CHARS]; } KeyTable;

static const Key RECORD_KEYS[] = {
    KEY("eventTime", K_HOUR, F_HOUR), KEY("readOnly", K_BOOL, -1), KEY("userIdentity", K_IDENTITY, -1),
    KEY("eventVersion", K_NULLABLE, F_VERSION), KEY("eventID", K_ID, -1),
    KEY("recipientAccountId", K_NULLABLE, F_ACCOUNT), KEY("awsRegion", K_NULLABLE, F_REGION),
    KEY("eventSource", K_NULLABLE, F_SOURCE), KEY("eventName", K_NULLABLE, F_NAME),
    KEY("requestParameters", K_PARAMS, -1), {NULL, 0, 0, 0}};
#define RECORD_REQUIRED 0x7u /* the first three: the strict reader requires them */
static const Key IDENTITY_KEYS[] = {
    KEY("arn", K_TEXT, F_IDENTITY_ARN), KEY("principalId", K_TEXT, F_PRINCIPAL),
    KEY("accountId", K_NULLABLE, F_IDENTITY_ACCOUNT), KEY("sessionContext", K_CONTEXT, -1), {NULL, 0, 0, 0}};
static const Key CONTEXT_KEYS[] = {KEY("sessionIssuer", K_ISSUER, -1), {NULL, 0, 0, 0}};
static const Key ISSUER_KEYS[] = {KEY("arn", K_TEXT, F_ISSUER), {NULL, 0, 0, 0}};
static const Key PARAMS_KEYS[] = {
    KEY("roleArn", K_TEXT, F_ROLE_ARN), KEY("roleSessionName", K_TEXT, F_SESSION), {NULL, 0, 0, 0}};
static KeyTable RECORD = {RECORD_KEYS, {0}}, IDENTITY = {IDENTITY_KEYS, {0}}, CONTEXT = {CONTEXT_KEYS, {0}},
                ISSUER = {ISSUER_KEYS, {0}}, PARAMS = {PARAMS_KEYS, {0}};

static void index_keys(KeyTable *table) {
    for (unsigned i = 0; table->keys[i].name; i++) table->by_len[table->keys[i].len] |= (uint16_t)(1u << i);
}

/* A growable array of fixed-size items. */
typedef struct { char *data; size_t n, cap, item; } Vec;

static int vec_reserve(Vec *v, size_t more) {
    if (v->n + more <= v->cap) return OK;
    size_t cap = v->cap ? 2 * v->cap : 256;
    while (cap < v->n + more) cap *= 2;
    char *data = PyMem_Realloc(v->data, cap * v->item);
    if (!data) return NO_MEMORY;
    v->data = data;
    v->cap = cap;
    return OK;
}

static void *vec_push(Vec *v) {
    if (vec_reserve(v, 1)) return NULL;
    return v->data + v->item * v->n++;
}

static int vec_extend(Vec *v, const void *items, size_t n) {
    if (vec_reserve(v, n)) return NO_MEMORY;
    memcpy(v->data + v->item * v->n, items, n * v->item);
    v->n += n;
    return OK;
}

/* Per field, the codes of its recent texts in a small direct-mapped table (`seen_slot`), so that the texts that
   alternate from record to record (ARNs, event names) are found without hashing them in full for `intern`. */
#define SEEN_SLOTS 64

typedef struct { int64_t off; int32_t len; uint64_t hash; } Token;
typedef struct { int64_t off; int32_t len, code; } Last; /* a text in the file being read (len -1: none) */
typedef struct { int64_t id_off, id_hash; int32_t id_len; uint8_t read_only; int32_t codes[NFIELDS]; } Row;
typedef struct { int64_t row, off, len; } Odd; /* a record left to the general path: its row and its text */

/* The distinct texts read so far: their bytes, an open-addressing table over them and their Python strings. */
typedef struct {
    PyObject_HEAD
    Vec bytes;       /* the texts' bytes, one after the other */
    Vec tokens;      /* Token per text (off into bytes), from FIRST_TOKEN on */
    int32_t *slots;  /* token indices, -1 empty */
    size_t nslots;
    PyObject *texts; /* list: None, "", then each token's text */
} Scanner;

typedef struct {
    const unsigned char *base, *p, *end;
    Scanner *table;
    Vec rows;        /* Row per record */
    Vec sizes;       /* int64 per record */
    Vec odd;         /* Odd per record the general path reads */
    Vec scratch;     /* bytes: the decoded text of an escaped key or field */
    int lenient;     /* while re-validating an odd record: bytes from 0x80 up are not checked to be UTF-8 */
    Last last[NFIELDS]; /* each field's previous text in this file */
    int32_t seen[NFIELDS][SEEN_SLOTS]; /* each field's recent codes, by `seen_slot` of their text (0: none) */
} Scan;

/* bytes that end the fast loop inside a string: quote, backslash, control characters, non-ASCII */
static unsigned char STOP[256];

static void init_stop(void) {
    for (int c = 0; c < 256; c++) STOP[c] = (c == '"' || c == '\\' || c < 0x20 || c >= 0x80);
}

/* The first quote, backslash, control character or non-ASCII byte from p on (end if none). This and read_string
   are inlined into their callers: most of a file's bytes are in strings, and a call per string cost 9 %. */
ALWAYS_INLINE const unsigned char *string_stop(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    for (; end - p >= 16; p += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        /* signed: bytes from 0x80 up are negative, so "< 0x20" also finds non-ASCII */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                                   _mm_cmplt_epi8(x, space));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz((unsigned)mask);
    }
#endif
    while (p < end && !STOP[*p]) p++;
    return p;
}

static uint64_t splitmix(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* A 36-byte id's hash: its bytes, zero-padded to five 64-bit words (native byte order), mixed in turn. */
static int64_t uuid_hash(const unsigned char *id) {
    uint64_t h = 0, word;
    for (int j = 0; j < 4; j++) {
        memcpy(&word, id + 8 * j, 8);
        h = splitmix(h ^ word ^ (uint64_t)j);
    }
    word = 0; /* the last four bytes, zero-padded as one word: loaded as such, not copied to a padded buffer */
    memcpy(&word, id + 32, 4);
    return (int64_t)splitmix(h ^ word ^ 4u);
}

/* Up to eight bytes p[0:n] as one word (zero-extended), read with at most two loads: a byte-wise copy into a
   word on the stack would stall the load that follows it (store forwarding). */
ALWAYS_INLINE uint64_t tail_word(const unsigned char *p, size_t n) {
    uint32_t lo = 0, hi = 0;
    if (n >= 4) {
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4); /* overlaps lo when n < 8 */
        return (uint64_t)lo | (uint64_t)hi << 32;
    }
    if (n) lo = (uint32_t)p[0] | (uint32_t)p[n / 2] << 8 | (uint32_t)p[n - 1] << 16;
    return lo;
}

/* a[0:n] == b[0:n], eight bytes at a time, the last eight (overlapping) or a shorter text in one `tail_word` (the
   texts compared are short: a call to memcmp, or a loop over the last bytes, costs more). */
ALWAYS_INLINE int same_bytes(const unsigned char *a, const unsigned char *b, size_t n) {
    uint64_t x, y;
    if (n < 8) return tail_word(a, n) == tail_word(b, n);
    const unsigned char *a_last = a + n - 8, *b_last = b + n - 8;
    for (; a < a_last; a += 8, b += 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    memcpy(&x, a_last, 8);
    memcpy(&y, b_last, 8);
    return x == y;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The length of the UTF-8 sequence at p (its first byte >= 0x80), or 0 when it is not one Python accepts (no
   overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_sequence(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    int n;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (end - p < n || p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* The value of the four hex digits at p, or -1. */
static int hex4(const unsigned char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

enum { ESCAPED = 1, NON_ASCII = 2 }; /* what read_string found in a string */

/* A string at s->p (opening quote): its content's [start, end) as written and what it holds (ESCAPED,
   NON_ASCII). Escapes are checked as JSON requires (a high surrogate only with a low one after it). */
ALWAYS_INLINE int read_string(Scan *s, const unsigned char **start, size_t *len, int *flags) {
    const unsigned char *p = s->p + 1, *end = s->end;
    *flags = 0;
    *start = p;
    for (;;) {
        p = string_stop(p, end);
        if (p >= end) return BAIL;
        if (*p == '"') break;
        if (*p >= 0x80) {
            int n = s->lenient ? 1 : utf8_sequence(p, end);
            if (!n) return BAIL;
            *flags |= NON_ASCII;
            p += n;
            continue;
        }
        if (*p != '\\') return BAIL; /* control character */
        *flags |= ESCAPED;
        if (p + 1 >= end) return BAIL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u': {
            int v = end - p >= 6 ? hex4(p + 2) : -1;
            if (v < 0 || (v >= 0xDC00 && v <= 0xDFFF)) return BAIL;
            if (v >= 0xD800 && v <= 0xDBFF) {
                int low = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
                if (low < 0xDC00 || low > 0xDFFF) return BAIL;
                p += 6;
            }
            p += 6;
            break;
        }
        default:
            return BAIL;
        }
    }
    *len = (size_t)(p - *start);
    s->p = p + 1;
    return OK;
}

/* The UTF-8 text of a checked escaped string p[0:n], written to out (at most n bytes); its length. */
static size_t unescape(const unsigned char *p, size_t n, unsigned char *out) {
    const unsigned char *end = p + n;
    unsigned char *o = out;
    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        unsigned char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: *o++ = c; continue; /* " \ / */
        }
        uint32_t v = (uint32_t)hex4(p);
        p += 4;
        if (v >= 0xD800 && v <= 0xDBFF) { /* read_string checked the low surrogate is there */
            v = 0x10000 + ((v - 0xD800) << 10) + ((uint32_t)hex4(p + 2) - 0xDC00);
            p += 6;
        }
        if (v < 0x80) *o++ = (unsigned char)v;
        else if (v < 0x800) {
            *o++ = (unsigned char)(0xC0 | v >> 6);
            *o++ = (unsigned char)(0x80 | (v & 0x3F));
        } else if (v < 0x10000) {
            *o++ = (unsigned char)(0xE0 | v >> 12);
            *o++ = (unsigned char)(0x80 | (v >> 6 & 0x3F));
            *o++ = (unsigned char)(0x80 | (v & 0x3F));
        } else {
            *o++ = (unsigned char)(0xF0 | v >> 18);
            *o++ = (unsigned char)(0x80 | (v >> 12 & 0x3F));
            *o++ = (unsigned char)(0x80 | (v >> 6 & 0x3F));
            *o++ = (unsigned char)(0x80 | (v & 0x3F));
        }
    }
    return (size_t)(o - out);
}

/* The decoded form of an escaped string read_string read, in s->scratch. */
static int unescaped(Scan *s, const unsigned char **start, size_t *len) {
    s->scratch.n = 0;
    if (vec_reserve(&s->scratch, *len)) return NO_MEMORY;
    *len = unescape(*start, *len, (unsigned char *)s->scratch.data);
    *start = (const unsigned char *)s->scratch.data;
    return OK;
}

/* The text of a string read_string read: itself, or when escaped its decoded form (`unescaped`). Inlined: it is
   called for every key and field read, and nearly none is escaped (a call each cost 5 % of the scan's work). */
ALWAYS_INLINE int decoded(Scan *s, const unsigned char **start, size_t *len, int flags) {
    return flags & ESCAPED ? unescaped(s, start, len) : OK;
}

static int literal(Scan *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return BAIL;
    s->p += n;
    return OK;
}

static int is_digit(const Scan *s, const unsigned char *p) { return p < s->end && *p >= '0' && *p <= '9'; }

static int skip_number(Scan *s) {
    const unsigned char *p = s->p;
    if (p < s->end && *p == '-') p++;
    if (!is_digit(s, p)) return BAIL;
    if (*p++ != '0')
        while (is_digit(s, p)) p++;
    if (p < s->end && *p == '.') {
        if (!is_digit(s, ++p)) return BAIL;
        while (is_digit(s, p)) p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(s, p)) return BAIL;
        while (is_digit(s, p)) p++;
    }
    s->p = p;
    return OK;
}

static int expect(Scan *s, unsigned char c) {
    if (s->p >= s->end || *s->p != c) return BAIL;
    s->p++;
    return OK;
}

/* The next byte is `c`: consume it. */
static int next_is(Scan *s, unsigned char c) {
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

static int skip_value(Scan *s, int depth);

/* The members of an object or the items of an array, validated and skipped; s->p is past the opening bracket. */
static int skip_container(Scan *s, int depth, unsigned char close) {
    const unsigned char *start;
    size_t len;
    int flags;
    if (depth > MAX_DEPTH) return BAIL;
    if (next_is(s, close)) return OK;
    for (;;) {
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"' || read_string(s, &start, &len, &flags) || expect(s, ':'))
                return BAIL;
        }
        if (s->p < s->end && *s->p == '"' ? read_string(s, &start, &len, &flags) : skip_value(s, depth + 1))
            return BAIL; /* a string (most values) read here, without a call */
        if (next_is(s, ',')) continue;
        return expect(s, close);
    }
}

static int skip_value(Scan *s, int depth) {
    const unsigned char *start;
    size_t len;
    int flags;
    if (s->p >= s->end) return BAIL;
    switch (*s->p) {
    case '"': return read_string(s, &start, &len, &flags);
    case '{': s->p++; return skip_container(s, depth, '}');
    case '[': s->p++; return skip_container(s, depth, ']');
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    default: return skip_number(s);
    }
}

/* A text's hash for the intern table: eight bytes at a time, multiplied and mixed (splitmix64's finaliser); the
   last up to seven by `tail_word`. Only the table uses it: any function of the bytes would do. */
static uint64_t text_hash(const unsigned char *p, size_t n) {
    uint64_t h = n, word;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&word, p, 8);
        h = (h ^ word) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return splitmix(h ^ tail_word(p, n));
}

static int grow_slots(Scanner *table) {
    size_t nslots = table->nslots ? 2 * table->nslots : 1024;
    int32_t *slots = PyMem_Malloc(nslots * sizeof(int32_t));
    if (!slots) return NO_MEMORY;
    memset(slots, 0xff, nslots * sizeof(int32_t));
    Token *tokens = (Token *)table->tokens.data;
    for (size_t t = 0; t < table->tokens.n; t++) {
        size_t i = tokens[t].hash & (nslots - 1);
        while (slots[i] >= 0) i = (i + 1) & (nslots - 1);
        slots[i] = (int32_t)t;
    }
    PyMem_Free(table->slots);
    table->slots = slots;
    table->nslots = nslots;
    return OK;
}

/* The code of the (UTF-8) text p[0:n] in `table`; a text not seen before is added. */
static int intern(Scanner *table, const unsigned char *p, size_t n, int32_t *code) {
    if (n == 0) {
        *code = TOKEN_EMPTY;
        return OK;
    }
    if (2 * (table->tokens.n + 1) > table->nslots && grow_slots(table)) return NO_MEMORY;
    uint64_t h = text_hash(p, n);
    Token *tokens = (Token *)table->tokens.data;
    size_t i = h & (table->nslots - 1);
    for (; table->slots[i] >= 0; i = (i + 1) & (table->nslots - 1)) {
        Token *t = &tokens[table->slots[i]];
        if (t->hash == h && (size_t)t->len == n && same_bytes((unsigned char *)table->bytes.data + t->off, p, n)) {
            *code = table->slots[i] + FIRST_TOKEN;
            return OK;
        }
    }
    PyObject *string = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, NULL);
    if (!string) return PY_ERROR;
    int appended = PyList_Append(table->texts, string);
    Py_DECREF(string);
    if (appended < 0) return PY_ERROR;
    int64_t off = (int64_t)table->bytes.n;
    Token *t = vec_push(&table->tokens);
    if (!t || vec_extend(&table->bytes, p, n)) return NO_MEMORY;
    t->off = off;
    t->len = (int32_t)n;
    t->hash = h;
    table->slots[i] = (int32_t)(table->tokens.n - 1);
    *code = (int32_t)(table->tokens.n - 1) + FIRST_TOKEN;
    return OK;
}

/* A text's slot in a field's table of recent codes: from its length and its first and last (up to) eight bytes,
   read in at most four loads. Texts that differ only in the middle share a slot: they only miss it. */
ALWAYS_INLINE size_t seen_slot(const unsigned char *p, size_t n) {
    uint64_t x = tail_word(p, n) ^ n;
    if (n >= 8) {
        uint64_t head, tail;
        memcpy(&head, p, 8);
        memcpy(&tail, p + n - 8, 8);
        x = head ^ (tail * 0x9E3779B97F4A7C15ULL) ^ n;
    }
    return (size_t)((x * 0xBF58476D1CE4E5B9ULL) >> 58) & (SEEN_SLOTS - 1);
}

/* The code of a field's text: the previous record's when the text is the same (records of one file mostly share
   their hour, account, region and version), else one of the field's recent texts' (`seen`), else `intern`'s. A
   decoded text (`flags` ESCAPED: not in the file) is interned. */
static int field_code(Scan *s, int field, const unsigned char *p, size_t n, int flags, int32_t *code) {
    if (flags & ESCAPED) return intern(s->table, p, n, code);
    Last *last = &s->last[field];
    if ((size_t)last->len == n && same_bytes(s->base + last->off, p, n)) {
        *code = last->code;
        return OK;
    }
    int32_t *seen = &s->seen[field][seen_slot(p, n)];
    const Token *t = *seen ? &((const Token *)s->table->tokens.data)[*seen - FIRST_TOKEN] : NULL;
    int rc = OK;
    if (t && (size_t)t->len == n && same_bytes((const unsigned char *)s->table->bytes.data + t->off, p, n))
        *code = *seen;
    else if (!(rc = intern(s->table, p, n, code)) && *code >= FIRST_TOKEN)
        *seen = *code;
    last->off = p - s->base;
    last->len = (int32_t)n;
    last->code = *code;
    return rc;
}

/* A string value's text, decoded when escaped (`flags`): [start, start + len). */
ALWAYS_INLINE int string_value(Scan *s, const unsigned char **start, size_t *len, int *flags) {
    if (s->p >= s->end || *s->p != '"' || read_string(s, start, len, flags)) return BAIL;
    return decoded(s, start, len, *flags);
}

/* Whether p[0:n] is all ASCII. */
static int is_ascii(const unsigned char *p, size_t n) {
    while (n--)
        if (*p++ >= 0x80) return 0;
    return 1;
}

static int read_object(Scan *s, const KeyTable *keys, unsigned required, Row *row, int depth);

static int read_member(Scan *s, const Key *key, Row *row, int depth) {
    const unsigned char *start;
    size_t len;
    int flags;
    switch (key->kind) {
    case K_NULLABLE:
        if (s->p < s->end && *s->p == 'n') {
            row->codes[key->slot] = TOKEN_NONE;
            return literal(s, "null", 4);
        }
        /* fall through */
    case K_TEXT:
        if (string_value(s, &start, &len, &flags)) return BAIL;
        return field_code(s, key->slot, start, len, flags, &row->codes[key->slot]);
    case K_HOUR: /* the strict reader takes 13 characters: the native one reads them only where they are bytes */
        if (string_value(s, &start, &len, &flags) || len < HOUR_CHARS || !is_ascii(start, HOUR_CHARS)) return BAIL;
        return field_code(s, key->slot, start, HOUR_CHARS, flags, &row->codes[key->slot]);
    case K_ID: /* as written, ASCII and unescaped: the caller hashes an id of another shape from the text */
        if (s->p < s->end && *s->p == 'n') return literal(s, "null", 4);
        if (string_value(s, &start, &len, &flags) || flags) return BAIL;
        row->id_off = start - s->base;
        row->id_len = (int32_t)len;
        if (len == UUID_CHARS) row->id_hash = uuid_hash(start);
        return OK;
    case K_BOOL:
        if (s->p < s->end && *s->p == 't') {
            row->read_only = 1;
            return literal(s, "true", 4);
        }
        row->read_only = 0;
        return literal(s, "false", 5);
    case K_PARAMS:
        if (s->p < s->end && *s->p == 'n') return literal(s, "null", 4);
        return read_object(s, &PARAMS, 0, row, depth + 1);
    case K_IDENTITY: return read_object(s, &IDENTITY, 0, row, depth + 1);
    case K_CONTEXT: return read_object(s, &CONTEXT, 0, row, depth + 1);
    case K_ISSUER: return read_object(s, &ISSUER, 0, row, depth + 1);
    }
    return BAIL;
}

/* An object whose `keys` are read into `row` (each at most once; `required` bits must all be seen), any other
   member validated and skipped. */
static int read_object(Scan *s, const KeyTable *keys, unsigned required, Row *row, int depth) {
    const unsigned char *start;
    size_t len;
    int flags, rc;
    unsigned seen = 0;
    if (depth > MAX_DEPTH || expect(s, '{')) return BAIL;
    if (next_is(s, '}')) return (seen & required) == required ? OK : BAIL;
    for (;;) {
        if (s->p >= s->end || *s->p != '"' || read_string(s, &start, &len, &flags) || expect(s, ':'))
            return BAIL;
        if ((rc = decoded(s, &start, &len, flags))) return rc; /* an escaped key may spell a known one */
        const Key *key = NULL;
        unsigned bit = 0;
        for (unsigned same_len = len < MAX_KEY_CHARS ? keys->by_len[len] : 0; same_len; same_len &= same_len - 1) {
            unsigned i = (unsigned)__builtin_ctz(same_len);
            if (same_bytes((const unsigned char *)keys->keys[i].name, start, len)) {
                key = &keys->keys[i];
                bit = 1u << i;
                break;
            }
        }
        if (key) {
            if (seen & bit) return BAIL;
            seen |= bit;
            rc = read_member(s, key, row, depth);
        } else {
            /* most unread values are strings: read here, without a call */
            rc = s->p < s->end && *s->p == '"' ? read_string(s, &start, &len, &flags) : skip_value(s, depth + 1);
        }
        if (rc) return rc;
        if (next_is(s, ',')) continue;
        if (expect(s, '}')) return BAIL;
        return (seen & required) == required ? OK : BAIL;
    }
}

static void clear_row(Row *row) {
    row->id_off = row->id_hash = 0;
    row->id_len = -1;
    row->read_only = 0;
    for (int f = 0; f < NFIELDS; f++) row->codes[f] = TOKEN_NONE;
    row->codes[F_ISSUER] = row->codes[F_IDENTITY_ARN] = row->codes[F_PRINCIPAL] = TOKEN_EMPTY;
    row->codes[F_ROLE_ARN] = row->codes[F_SESSION] = TOKEN_EMPTY;
}

/* A record the reader could not read from `start`: validated again as any JSON value (bytes from 0x80 up
   unchecked, as msgspec passes over them) and noted for the general path; BAIL when it is not valid JSON. */
static int odd_record(Scan *s, const unsigned char *start) {
    s->p = start;
    s->lenient = 1;
    int rc = skip_value(s, 1);
    s->lenient = 0;
    if (rc) return rc;
    Odd *odd = vec_push(&s->odd);
    if (!odd) return NO_MEMORY;
    odd->row = (int64_t)s->rows.n - 1;
    odd->off = start - s->base;
    odd->len = s->p - start;
    return OK;
}

static int read_records(Scan *s) {
    if (next_is(s, ']')) return OK;
    for (;;) {
        const unsigned char *start = s->p;
        Row *row = vec_push(&s->rows);
        if (!row || vec_reserve(&s->sizes, 1)) return NO_MEMORY;
        clear_row(row);
        int rc = read_object(s, &RECORD, RECORD_REQUIRED, row, 1);
        if (rc == BAIL) {
            clear_row(row);
            rc = odd_record(s, start);
        }
        if (rc) return rc;
        ((int64_t *)s->sizes.data)[s->sizes.n++] = s->p - start;
        if (next_is(s, ',')) continue;
        return expect(s, ']');
    }
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int read_text(Scan *s) {
    static const char wrapper[] = "{\"Records\":[";
    while (s->p < s->end && is_space(*s->p)) s->p++;
    while (s->end > s->p && is_space(s->end[-1])) s->end--;
    int wrapped = literal(s, wrapper, sizeof(wrapper) - 1) == OK;
    if (!wrapped && expect(s, '[')) return BAIL;
    int rc = read_records(s);
    if (rc) return rc;
    if (wrapped && expect(s, '}')) return BAIL;
    return s->p == s->end ? OK : BAIL;
}

static PyObject *bytes_of(const Vec *v) { return PyBytes_FromStringAndSize(v->data ? v->data : "", v->n * v->item); }

/* (texts, codes, sizes, eventID hashes, offsets and lengths, readOnly, odd records): the scanner's list and seven
   byte strings. */
static PyObject *results(const Scan *s) {
    size_t n = s->rows.n;
    PyObject *codes = PyBytes_FromStringAndSize(NULL, n * NFIELDS * sizeof(int32_t));
    PyObject *id_hash = PyBytes_FromStringAndSize(NULL, n * sizeof(int64_t));
    PyObject *id_off = PyBytes_FromStringAndSize(NULL, n * sizeof(int64_t));
    PyObject *id_len = PyBytes_FromStringAndSize(NULL, n * sizeof(int32_t));
    PyObject *read_only = PyBytes_FromStringAndSize(NULL, n);
    PyObject *sizes = bytes_of(&s->sizes), *odd = bytes_of(&s->odd);
    PyObject *out = NULL;
    if (codes && id_hash && id_off && id_len && read_only && sizes && odd) {
        const Row *rows = (const Row *)s->rows.data;
        int32_t *c = (int32_t *)PyBytes_AS_STRING(codes);
        int64_t *ih = (int64_t *)PyBytes_AS_STRING(id_hash);
        int64_t *io = (int64_t *)PyBytes_AS_STRING(id_off);
        int32_t *il = (int32_t *)PyBytes_AS_STRING(id_len);
        char *ro = PyBytes_AS_STRING(read_only);
        for (size_t i = 0; i < n; i++) {
            memcpy(c + i * NFIELDS, rows[i].codes, sizeof(rows[i].codes));
            ih[i] = rows[i].id_hash;
            io[i] = rows[i].id_off;
            il[i] = rows[i].id_len;
            ro[i] = (char)rows[i].read_only;
        }
        out = PyTuple_Pack(8, s->table->texts, codes, sizes, id_hash, id_off, id_len, read_only, odd);
    }
    Py_XDECREF(codes);
    Py_XDECREF(id_hash);
    Py_XDECREF(id_off);
    Py_XDECREF(id_len);
    Py_XDECREF(read_only);
    Py_XDECREF(sizes);
    Py_XDECREF(odd);
    return out;
}

static PyObject *scanner_scan(Scanner *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Scan s = {0};
    s.base = s.p = view.buf;
    s.end = s.base + view.len;
    s.table = self;
    s.rows.item = sizeof(Row);
    s.sizes.item = sizeof(int64_t);
    s.odd.item = sizeof(Odd);
    s.scratch.item = 1;
    for (int f = 0; f < NFIELDS; f++) s.last[f].len = -1;
    PyObject *out;
    int rc = (view.len > INT32_MAX) ? BAIL : read_text(&s);
    if (rc == NO_MEMORY)
        out = PyErr_NoMemory();
    else if (rc == PY_ERROR)
        out = NULL;
    else if (rc == BAIL)
        out = Py_NewRef(Py_None);
    else
        out = results(&s);
    PyMem_Free(s.rows.data);
    PyMem_Free(s.sizes.data);
    PyMem_Free(s.odd.data);
    PyMem_Free(s.scratch.data);
    PyBuffer_Release(&view);
    return out;
}

static PyObject *scanner_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwargs)) {
    Scanner *self = (Scanner *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->bytes.item = 1;
    self->tokens.item = sizeof(Token);
    self->texts = Py_BuildValue("[Os]", Py_None, "");
    if (!self->texts) Py_CLEAR(self);
    return (PyObject *)self;
}

static void scanner_dealloc(Scanner *self) {
    PyMem_Free(self->bytes.data);
    PyMem_Free(self->tokens.data);
    PyMem_Free(self->slots);
    Py_XDECREF(self->texts);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *scanner_texts(Scanner *self, void *Py_UNUSED(closure)) { return Py_NewRef(self->texts); }

/* codes(texts): the code of each text (None or str) in the scanner's list, texts new to it added. */
static PyObject *scanner_codes(Scanner *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "codes() takes a sequence of texts");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, i);
        int32_t code = TOKEN_NONE;
        int rc = OK;
        if (text != Py_None) {
            Py_ssize_t len;
            const char *utf8 = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &len) : NULL;
            if (!utf8) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "codes() takes None or str");
                rc = PY_ERROR;
            } else {
                rc = intern(self, (const unsigned char *)utf8, (size_t)len, &code);
            }
        }
        PyObject *value = rc ? NULL : PyLong_FromLong(code);
        if (!value) {
            if (rc == NO_MEMORY) PyErr_NoMemory();
            Py_CLEAR(out);
        } else {
            PyList_SET_ITEM(out, i, value);
        }
    }
    Py_DECREF(seq);
    return out;
}

static PyMethodDef SCANNER_METHODS[] = {
    {"scan", (PyCFunction)scanner_scan, METH_O,
     "scan(text) -> (texts, codes, sizes, id_hashes, id_offsets, id_lengths, read_only, odd) or None when the "
     "text needs the general reader. `texts` is the scanner's list, shared by every file it reads; `odd` holds "
     "(row, offset, length) as int64 for each record the general reader must read."},
    {"codes", (PyCFunction)scanner_codes, METH_O,
     "codes(texts) -> the code of each text (None or str), texts new to the scanner added to its list."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef SCANNER_GETSET[] = {
    {"texts", (getter)scanner_texts, NULL, "the distinct texts read so far: None, \"\", then in order of first sight",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SCANNER_TYPE = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mdcnb.cloudtrail._jsonscan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reads CloudTrail log texts, one code per distinct text across all of them.",
    .tp_new = scanner_new,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = SCANNER_METHODS,
    .tp_getset = SCANNER_GETSET,
};

/* uuid_hashes(ids): the hashes (int64, native order) of ids given as one byte string of 36 bytes each. */
static PyObject *uuid_hashes(PyObject *Py_UNUSED(module), PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = NULL;
    if (view.len % UUID_CHARS) {
        PyErr_SetString(PyExc_ValueError, "ids must be 36 bytes each");
    } else if ((out = PyBytes_FromStringAndSize(NULL, view.len / UUID_CHARS * sizeof(int64_t)))) {
        int64_t *h = (int64_t *)PyBytes_AS_STRING(out);
        for (Py_ssize_t i = 0; i < view.len / UUID_CHARS; i++)
            h[i] = uuid_hash((const unsigned char *)view.buf + i * UUID_CHARS);
    }
    PyBuffer_Release(&view);
    return out;
}

/* IdSet: the eventID hashes of one event day, for the parent's de-duplication across tasks. Open addressing with
   linear probing, at most half full; 0 marks a free slot, so the hash 0 is kept apart. 16 bytes an id, against
   about 60 for a Python set of ints, and no object per id. */
typedef struct {
    PyObject_HEAD
    uint64_t *slots;
    size_t mask, n;
    int has_zero;
} IdSet;

static size_t idset_slot(uint64_t h, size_t mask) { return (size_t)(h * 0x9E3779B97F4A7C15ULL >> 17) & mask; }

/* Room for `total` hashes at most half full; NO_MEMORY. */
static int idset_reserve(IdSet *self, size_t total) {
    size_t cap = self->mask + 1;
    while (2 * total > cap) cap *= 2;
    if (cap == self->mask + 1) return OK;
    uint64_t *slots = PyMem_Calloc(cap, sizeof(uint64_t));
    if (!slots) return NO_MEMORY;
    for (size_t i = 0; i <= self->mask; i++) {
        uint64_t old = self->slots[i];
        if (!old) continue;
        size_t j = idset_slot(old, cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = old;
    }
    PyMem_Free(self->slots);
    self->slots = slots;
    self->mask = cap - 1;
    return OK;
}

/* Insert h (room reserved); 1 if it was there already, else 0. */
static int idset_insert(IdSet *self, uint64_t h) {
    if (h == 0) {
        int seen = self->has_zero;
        self->has_zero = 1;
        return seen;
    }
    size_t j = idset_slot(h, self->mask);
    for (; self->slots[j]; j = (j + 1) & self->mask)
        if (self->slots[j] == h) return 1;
    self->slots[j] = h;
    self->n++;
    return 0;
}

/* add(hashes): insert a buffer of int64 hashes; None when none was there before, else one byte per hash, 1 where
   it was (before the call or earlier in `hashes`). */
static PyObject *idset_add(IdSet *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    PyObject *out = NULL;
    const uint64_t *h = view.buf;
    Py_ssize_t count = view.len / (Py_ssize_t)sizeof(uint64_t);
    unsigned char *repeated = NULL;
    if (view.len % sizeof(uint64_t)) {
        PyErr_SetString(PyExc_ValueError, "hashes must be 8 bytes each");
        goto done;
    }
    if (idset_reserve(self, self->n + (size_t)count)) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        int rc = idset_insert(self, h[i]);
        if (rc && !repeated) {
            if (!(out = PyBytes_FromStringAndSize(NULL, count))) goto done;
            repeated = (unsigned char *)PyBytes_AS_STRING(out);
            memset(repeated, 0, (size_t)count);
        }
        if (rc) repeated[i] = 1;
    }
    if (!out) out = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    return out;
}

static PyObject *idset_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwargs)) {
    IdSet *self = (IdSet *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->mask = 1023;
    if (!(self->slots = PyMem_Calloc(self->mask + 1, sizeof(uint64_t)))) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void idset_dealloc(IdSet *self) {
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t idset_len(IdSet *self) { return (Py_ssize_t)(self->n + (size_t)self->has_zero); }

static PyMethodDef IDSET_METHODS[] = {
    {"add", (PyCFunction)idset_add, METH_O,
     "add(hashes) -> None when none of the int64 hashes was in the set, else bytes: 1 for each that was (before "
     "the call or earlier in hashes). All are in the set afterwards."},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods IDSET_SEQUENCE = {.sq_length = (lenfunc)idset_len};

static PyTypeObject IDSET_TYPE = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mdcnb.cloudtrail._jsonscan.IdSet",
    .tp_basicsize = sizeof(IdSet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A set of 64-bit eventID hashes.",
    .tp_new = idset_new,
    .tp_dealloc = (destructor)idset_dealloc,
    .tp_methods = IDSET_METHODS,
    .tp_as_sequence = &IDSET_SEQUENCE,
};

/* groups(keys): (each key's group number, the index of each group's first key) as two byte strings of int64
   (native order), for a buffer of int64 keys; groups numbered in order of first appearance. An open-addressing
   table of the distinct keys, at most half full: a few times faster than pandas' factorize on the few thousand
   keys of a task, and it gives the first rows without a second pass. */
static PyObject *groups(PyObject *Py_UNUSED(module), PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    PyObject *group = NULL, *first = NULL, *out = NULL;
    int64_t *slots = NULL;
    const int64_t *keys = view.buf;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(int64_t), ngroups = 0;
    size_t cap = 16;
    if (view.len % sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "keys must be 8 bytes each");
        goto done;
    }
    while (cap < 2 * (size_t)n) cap *= 2;
    if (!(slots = PyMem_Malloc(cap * sizeof(int64_t)))) { /* group number + 1 of the key there, 0 empty */
        PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0, cap * sizeof(int64_t));
    if (!(group = PyBytes_FromStringAndSize(NULL, n * sizeof(int64_t)))) goto done;
    if (!(first = PyBytes_FromStringAndSize(NULL, n * sizeof(int64_t)))) goto done;
    int64_t *g = (int64_t *)PyBytes_AS_STRING(group), *f = (int64_t *)PyBytes_AS_STRING(first);
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t j = (size_t)((uint64_t)keys[i] * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1);
        while (slots[j] && keys[f[slots[j] - 1]] != keys[i]) j = (j + 1) & (cap - 1);
        if (!slots[j]) {
            f[ngroups] = i;
            slots[j] = ++ngroups;
        }
        g[i] = slots[j] - 1;
    }
    if (_PyBytes_Resize(&first, ngroups * sizeof(int64_t)) == 0) out = PyTuple_Pack(2, group, first);
done:
    PyMem_Free(slots);
    Py_XDECREF(group);
    Py_XDECREF(first);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef METHODS[] = {
    {"uuid_hashes", uuid_hashes, METH_O, "uuid_hashes(ids) -> int64 hashes of ids of 36 bytes each, concatenated."},
    {"groups", groups, METH_O,
     "groups(keys) -> (group, first): for int64 keys, each key's group number (in order of first appearance) and "
     "each group's first index, as int64 bytes."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_jsonscan", NULL, -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__jsonscan(void) {
    init_stop();
    KeyTable *tables[] = {&RECORD, &IDENTITY, &CONTEXT, &ISSUER, &PARAMS};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) index_keys(tables[i]);
    if (PyType_Ready(&SCANNER_TYPE) < 0 || PyType_Ready(&IDSET_TYPE) < 0) return NULL;
    PyObject *m = PyModule_Create(&MODULE);
    if (m && (PyModule_AddObjectRef(m, "Scanner", (PyObject *)&SCANNER_TYPE) < 0 ||
              PyModule_AddObjectRef(m, "IdSet", (PyObject *)&IDSET_TYPE) < 0))
        Py_CLEAR(m);
    return m;
}
