/* Native reader of plain assessment lines: each field a record's columns are made of, as codes into the distinct
   values of the lines read since the last `take`, without a Python object per record.

   `Scanner().add(line)` reads one JSON Lines record of the plain shape of mdcnb.normalize.assessment_shape.Record
   and returns True, or returns False and keeps nothing of it (msgspec then reads the line). `scan(...)` adds the
   lines of a buffer one after another, without a Python object per line, up to one it does not take. `take()`
   returns, per field of FIELDS (assessment_shape.py), the int32 codes of the rows added since the last `take` (as
   bytes) and the field's distinct values in order of first appearance, and starts afresh.

   It is strict, never a second reader: it takes a line only where msgspec would read the same values from it. The
   top-level keys and those of `properties` must be spelled as the struct spells them, each at most once; the text
   fields it reads or passes (the envelope, the status's) must be JSON strings of printable ASCII without escapes
   (or null where the struct allows null), the envelope's null-only fields null, `properties` an object, `id` a
   string, `status` null or an object of the keys of assessment_shape.Status (read as its five texts). The nested
   values kept raw (resourceDetails, links, metadata, statusPerInitiative, risk) are validated as RFC 8259 JSON
   (escapes, numbers, literals, brackets; nesting up to MAX_DEPTH) and kept as their exact text, as msgspec.Raw
   keeps it; the Python side reads every distinct text as the msgspec path does. A line with `additionalData` (free
   JSON that the msgspec path checks further) is refused. Text fields: code -1 for null. Raw fields: an absent field
   is the text `null`, as the struct's default. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { F_ID, F_NAME, F_SUBSCRIPTION, F_DETAILS, F_DISPLAY, F_CODE, F_CAUSE, F_DESCRIPTION, F_FIRST, F_CHANGE,
       F_LINKS, F_METADATA, F_INITIATIVES, F_RISK, NFIELDS };
static const int IS_TEXT[NFIELDS] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
#define MAX_DEPTH 64
#define ABSENT NULL

/* How a key's value is read. */
enum { K_ID, K_TEXT, K_PASSED, K_NULL, K_PROPERTIES, K_STATUS, K_RAW };
typedef struct { const char *name; size_t len; int kind; int field; } Key;
#define KEY(name, kind, field) {name, sizeof(name) - 1, kind, field}
static const Key RECORD_KEYS[] = {
    KEY("id", K_ID, F_ID), KEY("name", K_TEXT, F_NAME), KEY("type", K_PASSED, -1), KEY("tenantId", K_PASSED, -1),
    KEY("kind", K_PASSED, -1), KEY("location", K_PASSED, -1), KEY("resourceGroup", K_PASSED, -1),
    KEY("subscriptionId", K_TEXT, F_SUBSCRIPTION), KEY("managedBy", K_PASSED, -1), KEY("sku", K_NULL, -1),
    KEY("plan", K_NULL, -1), KEY("properties", K_PROPERTIES, -1), KEY("tags", K_NULL, -1),
    KEY("identity", K_NULL, -1), KEY("zones", K_NULL, -1), KEY("extendedLocation", K_NULL, -1), {NULL, 0, 0, 0}};
static const Key PROPERTY_KEYS[] = {
    KEY("resourceDetails", K_RAW, F_DETAILS), KEY("displayName", K_TEXT, F_DISPLAY), KEY("status", K_STATUS, -1),
    KEY("links", K_RAW, F_LINKS), KEY("metadata", K_RAW, F_METADATA),
    KEY("statusPerInitiative", K_RAW, F_INITIATIVES), KEY("risk", K_RAW, F_RISK), {NULL, 0, 0, 0}};
static const Key STATUS_KEYS[] = {
    KEY("code", K_TEXT, F_CODE), KEY("cause", K_TEXT, F_CAUSE), KEY("description", K_TEXT, F_DESCRIPTION),
    KEY("firstEvaluationDate", K_TEXT, F_FIRST), KEY("statusChangeDate", K_TEXT, F_CHANGE), {NULL, 0, 0, 0}};

/* One line's values: where each field's text is (ABSENT: null or absent). */
typedef struct { const char *at[NFIELDS]; Py_ssize_t len[NFIELDS]; } Row;

/* ---------------------------------------------------------------- validation */

typedef struct { const char *p, *end; } Cursor;

static inline void spaces(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static inline int hex(char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The first byte from `p` that may end a string's plain run: a quote, a backslash, a control character and, when
   `ascii` is set, a byte beyond printable ASCII (`end` if none); 16 bytes at a time where SSE2 is there. */
static inline const char *special(const char *p, const char *end, int ascii) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1f),
                  del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)),
                                   _mm_cmpeq_epi8(_mm_max_epu8(x, control), control));
        if (ascii) hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_max_epu8(x, del), x));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    for (; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\' || ch < 0x20 || (ascii && ch >= 0x7f)) return p;
    }
    return end;
}

/* A plain string (the cursor on its opening quote): printable ASCII, no escape. Its content's span. */
static int plain_string(Cursor *c, const char **at, Py_ssize_t *len) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *start = c->p + 1;
    c->p = special(start, c->end, 1);
    if (c->p >= c->end || *c->p != '"') return 0;
    *at = start;
    *len = c->p - start;
    c->p++;
    return 1;
}

/* Any JSON string (RFC 8259: escapes checked, no control character; bytes above ASCII passed, as msgspec.Raw
   passes them). */
static int any_string(Cursor *c) {
    c->p++; /* the opening quote */
    for (;;) {
        c->p = special(c->p, c->end, 0);
        if (c->p >= c->end) return 0;
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') return 1;
        if (ch < 0x20) return 0;
        if (ch == '\\') {
            if (c->p >= c->end) return 0;
            char e = *c->p++;
            if (e == 'u') {
                if (c->end - c->p < 4 || !hex(c->p[0]) || !hex(c->p[1]) || !hex(c->p[2]) || !hex(c->p[3])) return 0;
                c->p += 4;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return 0;
            }
        }
    }
}

static inline int digits(Cursor *c) {
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    return c->p > start;
}

static int number(Cursor *c) {
    if (*c->p == '-') c->p++;
    if (c->p < c->end && *c->p == '0') c->p++;
    else if (!digits(c)) return 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c)) return 0;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!digits(c)) return 0;
    }
    return 1;
}

static int literal(Cursor *c, const char *word, size_t len) {
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0) return 0;
    c->p += len;
    return 1;
}

/* Any JSON value, validated (the cursor on its first byte). */
static int value(Cursor *c, int depth) {
    if (c->p >= c->end) return 0;
    char ch = *c->p;
    if (ch == '"') return any_string(c);
    if (ch == '{' || ch == '[') {
        if (depth >= MAX_DEPTH) return 0;
        char close = ch == '{' ? '}' : ']';
        c->p++;
        spaces(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 1;
        }
        for (;;) {
            if (close == '}') {
                if (c->p >= c->end || *c->p != '"' || !any_string(c)) return 0;
                spaces(c);
                if (c->p >= c->end || *c->p != ':') return 0;
                c->p++;
                spaces(c);
            }
            if (!value(c, depth + 1)) return 0;
            spaces(c);
            if (c->p >= c->end) return 0;
            if (*c->p == close) {
                c->p++;
                return 1;
            }
            if (*c->p != ',') return 0;
            c->p++;
            spaces(c);
        }
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) return number(c);
    if (ch == 't') return literal(c, "true", 4);
    if (ch == 'f') return literal(c, "false", 5);
    if (ch == 'n') return literal(c, "null", 4);
    return 0;
}

/* ---------------------------------------------------------------- one line */

static const Key *known(const Key *keys, const char *name, Py_ssize_t len, int *index) {
    for (int i = 0; keys[i].name; i++) {
        if ((Py_ssize_t)keys[i].len == len && memcmp(keys[i].name, name, len) == 0) {
            *index = i;
            return &keys[i];
        }
    }
    return NULL;
}

static int object(Cursor *c, const Key *keys, Row *row, int nested);

/* A known key's value (the cursor on its first byte) into `row`. */
static int keyed(Cursor *c, const Key *key, Row *row) {
    const char *at;
    Py_ssize_t len;
    int is_null = literal(c, "null", 4);
    switch (key->kind) {
    case K_ID:
        return !is_null && plain_string(c, &row->at[key->field], &row->len[key->field]);
    case K_TEXT:
        return is_null || plain_string(c, &row->at[key->field], &row->len[key->field]);
    case K_PASSED:
        return is_null || plain_string(c, &at, &len);
    case K_NULL:
        return is_null;
    case K_PROPERTIES:
        return !is_null && object(c, PROPERTY_KEYS, row, 1);
    case K_STATUS: /* null: each of its texts null */
        return is_null || object(c, STATUS_KEYS, row, 1);
    default: /* K_RAW: the exact text of the value */
        at = is_null ? c->p - 4 : c->p;
        if (!is_null && !value(c, 2)) return 0;
        row->at[key->field] = at;
        row->len[key->field] = c->p - at;
        return 1;
    }
}

/* An object of `keys` (the cursor on its opening brace), each key at most once. */
static int object(Cursor *c, const Key *keys, Row *row, int nested) {
    uint32_t seen = 0;
    int required = 0; /* a record's id (1) and properties (2) */
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    spaces(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return nested; /* a record has an id */
    }
    for (;;) {
        const char *name;
        Py_ssize_t len;
        int index;
        if (!plain_string(c, &name, &len)) return 0;
        const Key *key = known(keys, name, len, &index);
        if (!key || (seen & (1u << index))) return 0;
        seen |= 1u << index;
        required |= key->kind == K_ID ? 1 : key->kind == K_PROPERTIES ? 2 : 0;
        spaces(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        spaces(c);
        if (!keyed(c, key, row)) return 0;
        spaces(c);
        if (c->p >= c->end) return 0;
        if (*c->p == '}') {
            c->p++;
            break;
        }
        if (*c->p != ',') return 0;
        c->p++;
        spaces(c);
    }
    return nested || required == 3;
}

static int read_line(const char *text, Py_ssize_t size, Row *row) {
    Cursor c = {text, text + size};
    for (int f = 0; f < NFIELDS; f++) row->at[f] = ABSENT;
    spaces(&c);
    if (!object(&c, RECORD_KEYS, row, 0)) return 0;
    spaces(&c);
    return c.p == c.end;
}

/* ---------------------------------------------------------------- distinct values */

typedef struct {
    char *bytes; size_t used, cap;          /* the distinct values' texts, one after another */
    Py_ssize_t *offset, *length; uint64_t *hash; size_t n, cap_values;
    int32_t *slots; size_t nslots;          /* open addressing: value index + 1, 0 empty */
    int32_t *codes; size_t rows, cap_rows;
} Table;

static inline uint64_t hashed(const char *p, Py_ssize_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, (size_t)len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 31);
}

static int grow(void **buffer, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 1;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    void *grown = PyMem_Realloc(*buffer, cap2 * item);
    if (!grown) return 0;
    *buffer = grown;
    *cap = cap2;
    return 1;
}

static int rehash(Table *t) {
    size_t nslots = t->nslots ? t->nslots * 2 : 1024;
    int32_t *slots = PyMem_Calloc(nslots, sizeof(int32_t));
    if (!slots) return 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t s = t->hash[i] & (nslots - 1);
        while (slots[s]) s = (s + 1) & (nslots - 1);
        slots[s] = (int32_t)i + 1;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 1;
}

/* The code of a text (-1 for ABSENT), entered if new; -2 when out of memory. */
static int32_t intern(Table *t, const char *at, Py_ssize_t len) {
    if (at == ABSENT) return -1;
    if (2 * (t->n + 1) > t->nslots && !rehash(t)) return -2;
    uint64_t h = hashed(at, len);
    size_t s = h & (t->nslots - 1);
    while (t->slots[s]) {
        size_t i = (size_t)t->slots[s] - 1;
        if (t->hash[i] == h && t->length[i] == len && memcmp(t->bytes + t->offset[i], at, len) == 0) return (int32_t)i;
        s = (s + 1) & (t->nslots - 1);
    }
    if (!grow((void **)&t->bytes, &t->cap, t->used + len, 1)) return -2;
    size_t cap = t->cap_values;
    if (!grow((void **)&t->offset, &cap, t->n + 1, sizeof(Py_ssize_t))) return -2;
    cap = t->cap_values;
    if (!grow((void **)&t->length, &cap, t->n + 1, sizeof(Py_ssize_t))) return -2;
    if (!grow((void **)&t->hash, &t->cap_values, t->n + 1, sizeof(uint64_t))) return -2;
    memcpy(t->bytes + t->used, at, len);
    t->offset[t->n] = (Py_ssize_t)t->used;
    t->length[t->n] = len;
    t->hash[t->n] = h;
    t->used += len;
    t->slots[s] = (int32_t)t->n + 1;
    return (int32_t)t->n++;
}

static void table_free(Table *t) {
    PyMem_Free(t->bytes);
    PyMem_Free(t->offset);
    PyMem_Free(t->length);
    PyMem_Free(t->hash);
    PyMem_Free(t->slots);
    PyMem_Free(t->codes);
    memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- the Python type */

typedef struct {
    PyObject_HEAD
    Table tables[NFIELDS];
} Scanner;

static void scanner_dealloc(Scanner *self) {
    for (int f = 0; f < NFIELDS; f++) table_free(&self->tables[f]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static const char NULL_TEXT[] = "null";

/* A line's fields entered into the tables; -1 (MemoryError set) when out of memory, which ends the read (rows
   already entered for earlier fields are dropped with the scanner). */
static int enter(Scanner *self, const Row *row) {
    for (int f = 0; f < NFIELDS; f++) {
        Table *t = &self->tables[f];
        const char *at = row->at[f];
        Py_ssize_t len = row->len[f];
        if (at == ABSENT && !IS_TEXT[f]) {
            at = NULL_TEXT;
            len = 4;
        }
        int32_t code = intern(t, at, len);
        if (code == -2 || !grow((void **)&t->codes, &t->cap_rows, t->rows + 1, sizeof(int32_t))) {
            PyErr_NoMemory();
            return -1;
        }
        t->codes[t->rows++] = code;
    }
    return 0;
}

static PyObject *scanner_add(Scanner *self, PyObject *line) {
    if (!PyBytes_Check(line)) {
        PyErr_SetString(PyExc_TypeError, "add() takes bytes");
        return NULL;
    }
    Row row;
    if (!read_line(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), &row)) Py_RETURN_FALSE;
    if (enter(self, &row) < 0) return NULL;
    Py_RETURN_TRUE;
}

/* A line of nothing but whitespace (as bytes.isspace: space, \t, \n, \v, \f, \r): no record. */
static int blank(const char *p, const char *end) {
    for (; p < end; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\v' && *p != '\f' && *p != '\r') return 0;
    }
    return 1;
}

/* scan(buffer, start, stop, rows, line, final): the lines of buffer[start:stop] added one after another (blank
   ones passed), up to `rows` records; `line` is the number of lines before `start`. A line counts only with its
   newline, or at `stop` when `final`. Stops before a line it does not take. Returns (the offset after the last line
   read, the number of lines up to it, the line number of each record added (int32, as bytes), whether it stopped
   at a line it does not take). */
static PyObject *scanner_scan(Scanner *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, stop, rows, line;
    int final;
    if (!PyArg_ParseTuple(args, "y*nnnnp", &view, &start, &stop, &rows, &line, &final)) return NULL;
    if (start < 0 || stop > view.len || start > stop || rows < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scan(): bounds out of the buffer");
        return NULL;
    }
    PyObject *numbers = PyBytes_FromStringAndSize(NULL, rows * (Py_ssize_t)sizeof(int32_t));
    if (!numbers) {
        PyBuffer_Release(&view);
        return NULL;
    }
    int32_t *number = (int32_t *)PyBytes_AS_STRING(numbers);
    const char *base = view.buf;
    Py_ssize_t pos = start, added = 0;
    int refused = 0;
    while (pos < stop && added < rows) {
        const char *newline = memchr(base + pos, '\n', (size_t)(stop - pos));
        Py_ssize_t end = newline ? newline - base + 1 : stop;
        if (!newline && !final) break;
        if (!blank(base + pos, base + end)) {
            Row row;
            if (!read_line(base + pos, end - pos, &row)) {
                refused = 1;
                break;
            }
            if (enter(self, &row) < 0) {
                PyBuffer_Release(&view);
                Py_DECREF(numbers);
                return NULL;
            }
            number[added++] = (int32_t)(line + 1);
        }
        line++;
        pos = end;
    }
    PyBuffer_Release(&view);
    if (_PyBytes_Resize(&numbers, added * (Py_ssize_t)sizeof(int32_t)) < 0) return NULL;
    return Py_BuildValue("(nnNO)", pos, line, numbers, refused ? Py_True : Py_False);
}

static PyObject *distinct(Table *t, int text) {
    PyObject *values = PyList_New((Py_ssize_t)t->n);
    if (!values) return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const char *at = t->bytes + t->offset[i];
        PyObject *v = text ? PyUnicode_DecodeASCII(at, t->length[i], NULL)
                           : PyBytes_FromStringAndSize(at, t->length[i]);
        if (!v) {
            Py_DECREF(values);
            return NULL;
        }
        PyList_SET_ITEM(values, (Py_ssize_t)i, v);
    }
    return values;
}

static PyObject *scanner_take(Scanner *self, PyObject *unused) {
    (void)unused;
    PyObject *out = PyTuple_New(NFIELDS);
    if (!out) return NULL;
    for (int f = 0; f < NFIELDS; f++) {
        Table *t = &self->tables[f];
        PyObject *codes = PyBytes_FromStringAndSize((const char *)t->codes, (Py_ssize_t)(t->rows * sizeof(int32_t)));
        PyObject *values = codes ? distinct(t, IS_TEXT[f]) : NULL;
        if (!values) {
            Py_XDECREF(codes);
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, f, Py_BuildValue("(NN)", codes, values));
        if (!PyTuple_GET_ITEM(out, f)) {
            Py_DECREF(out);
            return NULL;
        }
        t->rows = t->n = t->used = 0;
        if (t->slots) memset(t->slots, 0, t->nslots * sizeof(int32_t));
    }
    return out;
}

static PyMethodDef SCANNER_METHODS[] = {
    {"add", (PyCFunction)scanner_add, METH_O,
     "add(line) -> True when the line is a plain assessment record (its fields entered), else False."},
    {"scan", (PyCFunction)scanner_scan, METH_VARARGS,
     "scan(buffer, start, stop, rows, line, final) -> (end, lines, line numbers, refused): lines added in a row."},
    {"take", (PyCFunction)scanner_take, METH_NOARGS,
     "take() -> per field, (int32 codes as bytes, distinct values) of the lines added since the last take."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mdcnb.normalize._assessscan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Plain assessment lines as codes into each field's distinct values.",
    .tp_methods = SCANNER_METHODS,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_assessscan", NULL, -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__assessscan(void) {
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *module = PyModule_Create(&MODULE);
    if (!module) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(module, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
